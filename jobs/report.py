"""The run's console summary, the `tenken runs` listing and the labels (Japanese names of
reasons, severities, stages and prefectures) shared by the HTML report (jobs/report_html.py)
and the per-holder exports (jobs/export.py)."""

from __future__ import annotations

import click


def print_summary(summary: dict, cfg: dict) -> None:
    """Print suspects per category and reason, with the run's figures."""
    cats = cfg["categories"]
    click.echo(f"run {summary['run_id']}: {summary['status']} in {summary['duration_s']:.1f} s")
    click.echo(f"  residents {summary['residents']:,}  records {summary['records']:,}  "
               f"suspects {summary['suspects']:,}  quarantined {summary['quarantined']:,}  "
               f"corrections {(summary.get('figures') or {}).get('corrected_records', 0):,} records")
    click.echo("  suspects by reason: " + ", ".join(
        f"{k} {v:,}" for k, v in sorted(summary["reason_counts"].items(), key=lambda kv: -kv[1])))
    click.echo(f"  {'category':<28} {'':<18} {'records':>9} {'suspects':>9}  by reason")
    by_cat: dict[str, list] = {}
    for cat, reason, n in summary.get("suspects_by_category_reason", []):
        by_cat.setdefault(cat, []).append(f"{reason} {n}")
    for row in summary["categories"]:
        cid = row["category"]
        name = cats.get(cid, {}).get("name_ja", "")
        click.echo(f"  {cid:<28} {name[:9]:<{18 - sum(1 for ch in name[:9] if ord(ch) > 0x2E80)}} "
                   f"{row['input_rows']:>9,} {row['suspects']:>9,}  {', '.join(by_cat.get(cid, []))}")
    click.echo("  stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in summary["stage_seconds"].items()))


# --- labels shared by the HTML report, the exports and the run list --------------------

REASON_JA = {
    "INVALID_NUMBER": "番号の形式・検査用数字の誤り",
    "UNKNOWN_NUMBER": "住民票にない番号",
    "RESIDENT_DECEASED": "死亡者へのひも付け",
    "RESIDENT_REMOVED": "消除者へのひも付け",
    "LINKED_TO_OTHER_PERSON": "別人へのひも付け",
    "LINKED_TO_HOUSEHOLD_MEMBER": "同一世帯の別人へのひも付け",
    "ATTRIBUTE_MISMATCH": "基本4情報の不一致",
    "AMBIGUOUS_IDENTITY": "同姓同名で本人を特定できない",
    "DUPLICATE_LINK": "同一人への重複ひも付け",
    "SHARED_ACCOUNT": "複数人で同一口座",
    "ACCOUNT_HOLDER_MISMATCH": "口座名義の不一致",
    "AGE_INELIGIBLE": "対象年齢外",
    "UNLINKED_RECORD": "番号未ひも付け",
}

SEVERITY_ORDER = ("high", "medium", "low")
SEVERITY_JA = {"high": "高", "medium": "中", "low": "低"}

STATUS_JA = {"published": "公開済み", "gate_failed": "ゲート不合格", "failed": "失敗", "running": "実行中"}

# in pipeline order (the report lists stages in this order)
STAGE_JA = {"read": "読込", "input_gate": "入力ゲート", "normalise": "正規化", "verify": "照合",
            "search": "候補探索", "classify": "分類", "output_gate": "出力ゲート", "gate": "ゲート",
            "gates": "ゲート", "publish": "公開", "report": "報告"}

# 全国地方公共団体コード: the first two digits are the prefecture (JIS X 0401)
PREFECTURES = {
    "01": "北海道", "02": "青森県", "03": "岩手県", "04": "宮城県", "05": "秋田県", "06": "山形県",
    "07": "福島県", "08": "茨城県", "09": "栃木県", "10": "群馬県", "11": "埼玉県", "12": "千葉県",
    "13": "東京都", "14": "神奈川県", "15": "新潟県", "16": "富山県", "17": "石川県", "18": "福井県",
    "19": "山梨県", "20": "長野県", "21": "岐阜県", "22": "静岡県", "23": "愛知県", "24": "三重県",
    "25": "滋賀県", "26": "京都府", "27": "大阪府", "28": "兵庫県", "29": "奈良県", "30": "和歌山県",
    "31": "鳥取県", "32": "島根県", "33": "岡山県", "34": "広島県", "35": "山口県", "36": "徳島県",
    "37": "香川県", "38": "愛媛県", "39": "高知県", "40": "福岡県", "41": "佐賀県", "42": "長崎県",
    "43": "熊本県", "44": "大分県", "45": "宮崎県", "46": "鹿児島県", "47": "沖縄県",
}


def prefecture_of(municipality_code: str | None) -> str:
    """Japanese prefecture name of a 6-digit municipality code ('' when unknown)."""
    if not municipality_code:
        return ""
    return PREFECTURES.get(str(municipality_code)[:2], "")


def holder_categories(cfg: dict, holder_id: str) -> list[str]:
    """The configured categories a holder reviews, in configuration order."""
    return [cid for cid, spec in cfg["categories"].items() if spec.get("holder_id") == holder_id]


def holder_ja(cfg: dict, holder_id: str | None) -> str:
    """A holder's Japanese name, without the per-category note in brackets."""
    import re

    for spec in cfg["categories"].values():
        if spec.get("holder_id") == holder_id and spec.get("holder"):
            return re.sub(r"（[^）]*）$", "", spec["holder"])
    return ""


def runs_rows(spark, output: str) -> list[dict]:
    """Every runs row of OUTPUT as a dict, newest first ([] when there is no runs table)."""
    from jobs.publish import read_table

    runs = read_table(spark, output, "runs")
    if runs is None:
        return []
    rows = [r.asDict(recursive=True) for r in runs.collect()]
    rows.sort(key=lambda r: (r.get("started_at") is not None, r.get("started_at") or 0, r["run_id"]), reverse=True)
    return rows


def resolve_run(spark, output: str, run_id: str | None = None, published_only: bool = False) -> dict:
    """The runs row of ``run_id`` (default: the newest published run); UsageError when absent."""
    from jobs.errors import UsageError

    rows = runs_rows(spark, output)
    if not rows:
        raise UsageError(f"no runs table under {output}")
    if run_id is None:
        pub = [r for r in rows if r["status"] == "published"]
        if not pub:
            raise UsageError(f"no published run under {output}")
        return pub[0]
    for r in rows:
        if r["run_id"] == run_id:
            if published_only and r["status"] != "published":
                raise UsageError(f"run {run_id} was not published (status {r['status']})")
            return r
    raise UsageError(f"no run {run_id!r} under {output}")


def _fmt_s(v) -> str:
    return "" if v is None else f"{v:,.1f} s"


def format_runs(rows: list[dict]) -> str:
    """The `tenken runs` listing: one line per run, newest first."""
    head = (f"{'run_id':<22} {'status':<12} {'started (UTC)':<19} {'duration':>10} {'residents':>10} "
            f"{'records':>10} {'suspects':>9} {'quarant.':>8} {'cats':>4}  slowest stage / note")
    lines = [head]
    for r in rows:
        started = r["started_at"].strftime("%Y-%m-%d %H:%M:%S") if r.get("started_at") else ""
        stages = r.get("stage_seconds") or {}
        slow = max(stages.items(), key=lambda kv: kv[1]) if stages else None
        note = f"{slow[0]} {slow[1]:.1f} s" if slow else ""
        fails = r.get("gate_failures") or []
        if fails:
            note = f"gate: {fails[0]}" + (f" (+{len(fails) - 1})" if len(fails) > 1 else "")
        elif r.get("message"):
            note = str(r["message"]).splitlines()[0][:60]

        def n(k):
            v = r.get(k)
            return "" if v is None else f"{v:,}"

        lines.append(f"{r['run_id']:<22} {r['status']:<12} {started:<19} {_fmt_s(r.get('duration_s')):>10} "
                     f"{n('residents'):>10} {n('records'):>10} {n('suspects'):>9} {n('quarantined'):>8} "
                     f"{len(r.get('categories') or []):>4}  {note}")
    return "\n".join(lines)
