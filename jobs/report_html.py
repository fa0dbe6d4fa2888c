"""The run report: OUTPUT/reports/<run_id>/index.html, one self-contained page.

Everything is inline (styles, SVG charts, no scripts, no fonts or images from the
network), so the page can be mailed or opened from a file share.  It holds aggregates
only: counts per category, reason, severity and municipality, the run's figures and the
run-to-run changes; never a record id, a token, a name or a number.

``gather`` reads what the page needs with Spark (a handful of small aggregations);
``render`` turns that plain dict into HTML and needs no Spark.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import publish
from jobs.report import (PREFECTURES, REASON_JA, SEVERITY_JA, SEVERITY_ORDER, STAGE_JA, STATUS_JA,
                         holder_ja, prefecture_of, resolve_run, runs_rows)

SEVERITY_COLOURS = {"high": "#c0392b", "medium": "#e67e22", "low": "#d4ac0d"}
CHANGE_COLOURS = {"new": "#c0392b", "persisting": "#7f8c8d", "resolved": "#27ae60", "quarantined": "#8e44ad"}
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#843c39", "#5254a3"]
MAX_MUNICIPALITIES = 200


# --- gathering ------------------------------------------------------------------------

def gate_files(output: str, run_id: str) -> list[dict]:
    """Files under OUTPUT/gates/<run_id>/, with the outcome of JSON validation results."""
    root = Path(output) / "gates" / run_id
    if not root.is_dir():
        return []
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        item = {"path": rel, "href": f"../../gates/{run_id}/{rel}", "size": path.stat().st_size,
                "success": None, "evaluated": None, "successful": None}
        if path.suffix == ".json" and item["size"] < 20_000_000:
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, OSError):
                doc = None
            if isinstance(doc, dict):
                if isinstance(doc.get("success"), bool):
                    item["success"] = doc["success"]
                stats = doc.get("statistics")
                if isinstance(stats, dict):
                    item["evaluated"] = stats.get("evaluated_expectations")
                    item["successful"] = stats.get("successful_expectations")
        files.append(item)
    return files


def gather(spark: SparkSession, cfg: dict, output: str, run_id: str | None = None,
           write_changes: bool = True) -> dict:
    """Everything the page shows, as plain Python values."""
    from jobs.changes import change_counts, compute_changes
    from jobs.changes import write_changes as write_changes_table

    run = resolve_run(spark, output, run_id)
    run_id = run["run_id"]
    data = {"run": run, "output": str(output), "generated_at": dt.datetime.now(dt.timezone.utc),
            "agg": [], "changes": None, "gates": gate_files(output, run_id), "history": runs_rows(spark, output)[:12]}
    sus = publish.read_table(spark, output, "suspects")
    if sus is not None and run["status"] == "published":
        data["agg"] = [
            (r["category"], r["reason"], r["severity"], r["municipality_code"], int(r["n"]))
            for r in sus.where(F.col("run_id") == run_id)
            .groupBy("category", "reason", "severity", "municipality_code").agg(F.count(F.lit(1)).alias("n"))
            .collect()
        ]
        df, ctx = compute_changes(spark, output, run_id)
        df = df.cache()
        try:
            data["changes"] = {**ctx, "counts": change_counts(df)}
            if write_changes:
                write_changes_table(df, output, run_id)
        finally:
            df.unpersist()
    return data


def write_report(spark: SparkSession, cfg: dict, output: str, run_id: str | None = None) -> Path:
    """Write OUTPUT/reports/<run_id>/index.html and return its path."""
    data = gather(spark, cfg, output, run_id)
    page = render(data, cfg)
    out_dir = Path(output) / "reports" / data["run"]["run_id"]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    tmp = out_dir / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


# --- SVG ------------------------------------------------------------------------------

def _e(v) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _n(v) -> str:
    return "" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:,.1f}")


def _text_w(text: str, px: float = 12.0) -> float:
    """Rough rendered width of ``text``: CJK and full-width characters are square."""
    return sum(px if ord(ch) >= 0x2E80 else px * 0.68 for ch in text)


def hbar_svg(chart_id: str, title: str, rows: list[tuple[str, dict]], series: list[tuple[str, str, str]],
             value_fmt=_n, width: int = 960, label_w: int | None = None) -> str:
    """A horizontal (stacked when several series) bar chart as inline SVG.

    rows: ``[(label, {series_key: value})]``; series: ``[(key, legend label, colour)]``."""
    bar_h, gap, top = 18, 6, 8
    if label_w is None:
        label_w = int(min(max([_text_w(lab) for lab, _ in rows] or [0]) + 16, width * 0.55))
    legend_h = 24 if len(series) > 1 else 0
    if len(series) > 1:
        # legend items wrap onto further lines
        x, lines = 0, 1
        for _, lab, _ in series:
            w = 20 + _text_w(lab) + 18
            if x + w > width:
                x, lines = 0, lines + 1
            x += w
        legend_h = 22 * lines + 4
    plot_w = width - label_w - 90
    totals = [sum(v for v in vals.values() if v) for _, vals in rows]
    vmax = max(totals or [0]) or 1
    height = top + legend_h + len(rows) * (bar_h + gap) + 8
    parts = [f'<svg id="{_e(chart_id)}" class="chart" role="img" aria-labelledby="{_e(chart_id)}-t" '
             f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
             f'preserveAspectRatio="xMinYMin meet">',
             f'<title id="{_e(chart_id)}-t">{_e(title)}</title>']
    if len(series) > 1:
        x, y = 0, top
        for _, lab, colour in series:
            w = 20 + _text_w(lab) + 18
            if x + w > width:
                x, y = 0, y + 22
            parts.append(f'<rect x="{x:.0f}" y="{y}" width="14" height="14" fill="{colour}"/>'
                         f'<text x="{x + 20:.0f}" y="{y + 12}" class="lg">{_e(lab)}</text>')
            x += w
    y = top + legend_h
    if not rows:
        parts.append(f'<text x="0" y="{y + 14}" class="lb">—</text>')
    for (label, vals), total in zip(rows, totals):
        parts.append(f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end" class="lb">{_e(label)}</text>')
        x = float(label_w)
        for key, lab, colour in series:
            v = vals.get(key) or 0
            if v <= 0:
                continue
            w = max(plot_w * v / vmax, 1.0)
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                         f'<title>{_e(label)} — {_e(lab)}: {_e(value_fmt(v))}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 13}" class="val">{_e(value_fmt(total))}</text>')
        y += bar_h + gap
    parts.append("</svg>")
    return "".join(parts)


# --- HTML -----------------------------------------------------------------------------

CSS = """
:root{--fg:#1d2733;--mut:#5d6b7a;--line:#d9dee4;--bg:#f6f8fa;--acc:#1f4e79}
*{box-sizing:border-box}
body{margin:0;font:14px/1.55 "Hiragino Sans","Hiragino Kaku Gothic ProN","Noto Sans CJK JP","Noto Sans JP",
 "Yu Gothic",Meiryo,system-ui,sans-serif;color:var(--fg);background:#fff}
header{background:var(--acc);color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px;font-weight:600}
header .sub{opacity:.85;font-size:13px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:6px 28px;z-index:1;
 font-size:13px}
nav a{margin-right:14px;color:var(--acc);text-decoration:none}
main{padding:8px 28px 40px;max-width:1200px}
section{margin-top:26px}
h2{font-size:18px;border-left:5px solid var(--acc);padding-left:10px;margin:0 0 10px}
h3{font-size:15px;margin:18px 0 6px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:130px;background:var(--bg)}
.card .k{font-size:12px;color:var(--mut)}
.card .v{font-size:20px;font-weight:600}
.badge{display:inline-block;padding:1px 10px;border-radius:10px;font-size:13px;font-weight:600}
.ok{background:#e3f4e8;color:#1e7e34}.ng{background:#fbe4e4;color:#a71d2a}.na{background:#eceff2;color:#5d6b7a}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid var(--line);padding:3px 8px;vertical-align:top}
th{background:var(--bg);text-align:left;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.total td{font-weight:600;background:var(--bg)}
.ja{color:var(--mut);font-size:12px}
th .ja{display:block;font-weight:400}
svg.chart{max-width:960px;display:block;margin:6px 0 4px}
svg .lb{font-size:12px;fill:#1d2733}svg .val{font-size:11px;fill:#5d6b7a}svg .lg{font-size:12px;fill:#1d2733}
.note{color:var(--mut);font-size:12px}
details summary{cursor:pointer;color:var(--acc)}
footer{color:var(--mut);font-size:12px;border-top:1px solid var(--line);margin-top:30px;padding-top:8px}
@media print{nav{display:none}}
"""


def _table(tid: str, head: list, rows: list[list], num_cols: set[int] = frozenset(), total: list | None = None) -> str:
    """A table; ``head`` cells and row cells are HTML already escaped by the caller."""
    out = [f'<div class="scroll"><table id="{_e(tid)}"><thead><tr>']
    out += [f'<th class="num">{h}</th>' if i in num_cols else f"<th>{h}</th>" for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f'<td class="num">{c}</td>' if i in num_cols else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>")
    if total is not None:
        out.append('<tr class="total">' + "".join(f'<td class="num">{c}</td>' if i in num_cols else f"<td>{c}</td>"
                                                  for i, c in enumerate(total)) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _id_ja(ident, ja) -> str:
    return f'<code>{_e(ident)}</code> <span class="ja">{_e(ja)}</span>' if ja else f"<code>{_e(ident)}</code>"


def _pct(a, b) -> str:
    return f"{100.0 * a / b:.2f}%" if b else ""


def _ts(v) -> str:
    return v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, (dt.datetime, dt.date)) else _e(v)


def _reason_order(cfg: dict, present) -> list[str]:
    order = [r["code"] for r in (cfg.get("thresholds") or {}).get("reasons", [])]
    order += [r for r in REASON_JA if r not in order]
    return [r for r in order if r in present] + sorted(r for r in present if r not in order)


def render(data: dict, cfg: dict) -> str:
    run = data["run"]
    run_id = run["run_id"]
    cats_cfg = cfg["categories"]

    def cat_label(cid):
        return f"{cid} {cats_cfg.get(cid, {}).get('name_ja', '')}".strip()

    agg = data["agg"]
    by_cat_reason: dict[tuple, int] = {}
    by_cat_sev: dict[tuple, int] = {}
    by_reason: dict[str, int] = {}
    by_sev: dict[str, int] = {}
    by_reason_sev: dict[str, str] = {}
    by_muni: dict[str | None, dict] = {}
    for cat, reason, sev, muni, n in agg:
        by_cat_reason[(cat, reason)] = by_cat_reason.get((cat, reason), 0) + n
        by_cat_sev[(cat, sev)] = by_cat_sev.get((cat, sev), 0) + n
        by_reason[reason] = by_reason.get(reason, 0) + n
        by_reason_sev[reason] = sev
        by_sev[sev] = by_sev.get(sev, 0) + n
        m = by_muni.setdefault(muni, {s: 0 for s in SEVERITY_ORDER})
        m[sev] = m.get(sev, 0) + n
    n_sus = sum(by_reason.values())
    cat_rows = run.get("categories") or []
    cat_ids = [c["category"] for c in cat_rows] + sorted({c for c, _ in by_cat_reason} - {c["category"] for c in cat_rows})
    reasons = _reason_order(cfg, set(by_reason) | set(run.get("reason_counts") or {}))
    reason_series = [(r, f"{r} {REASON_JA.get(r, '')}", PALETTE[i % len(PALETTE)]) for i, r in enumerate(reasons)]
    published = run["status"] == "published"
    status_cls = "ok" if published else "ng"
    sections: list[tuple[str, str, str]] = []   # (anchor, title, html)

    # 1. summary -------------------------------------------------------------------------
    checked = sum(c.get("checked_rows") or 0 for c in cat_rows)
    rows_quarantined = sum(c.get("quarantined_rows") or 0 for c in cat_rows)
    cards = [("status 状態", f'<span class="badge {status_cls}">{_e(run["status"])} '
                             f'{_e(STATUS_JA.get(run["status"], ""))}</span>'),
             ("residents 住民", _n(run.get("residents"))), ("records 対象レコード", _n(run.get("records"))),
             ("checked 点検済み", _n(checked)), ("rows quarantined 隔離行", _n(rows_quarantined)),
             # the quarantine table also lists fields set aside in rows that were still checked
             ("quarantine entries 隔離記録", _n(run.get("quarantined"))),
             ("suspects 要確認", _n(run.get("suspects"))), ("suspect rate 要確認率", _pct(run.get("suspects") or 0, checked)),
             ("high severity 重大度 高", _n(by_sev.get("high", 0))),
             # same person, wrong data: the holders' corrections (not suspects)
             ("corrections 訂正候補", _n((run.get("figures") or {}).get("corrected_records"))),
             ("duration 所要時間", f"{run['duration_s']:,.1f} s" if run.get("duration_s") is not None else "")]
    body = '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{_e(k)}</div><div class="v">{v}</div></div>' for k, v in cards) + "</div>"
    info = [["run_id 実行ID", f"<code>{_e(run_id)}</code>"],
            ["started 開始 (UTC)", _ts(run.get("started_at"))], ["finished 終了 (UTC)", _ts(run.get("finished_at"))],
            ["input 入力", f"<code>{_e(run.get('input_path'))}</code>"],
            ["categories 区分数", _n(len(cat_rows))]]
    if run.get("message"):
        info.append(["message メッセージ", _e(run["message"])])
    body += _table("run-info", ["item 項目", "value 値"], info)
    fails = run.get("gate_failures") or []
    if fails:
        body += ('<h3>gate failures ゲート不合格の期待値</h3><ul id="gate-failures">'
                 + "".join(f"<li><code>{_e(f)}</code></li>" for f in fails) + "</ul>")
    if not published:
        body += '<p class="note">This run was not published: no suspects were written. 公開されていない実行です。</p>'
    sections.append(("summary", "Summary 概要", body))

    # 2. inputs per category -------------------------------------------------------------
    ch = (data.get("changes") or {}).get("counts") or {}
    head = ["category 区分", "holder 保有機関", "input 入力", "checked 点検", "quarantined 隔離",
            "suspects 要確認", "rate 率", "high 高", "medium 中", "low 低"]
    rows, tot = [], [0] * 6
    for c in cat_rows:
        cid = c["category"]
        hid = cats_cfg.get(cid, {}).get("holder_id")
        sv = [by_cat_sev.get((cid, s), 0) for s in SEVERITY_ORDER]
        vals = [c.get("input_rows") or 0, c.get("checked_rows") or 0, c.get("quarantined_rows") or 0,
                c.get("suspects") or 0]
        tot = [a + b for a, b in zip(tot, vals + sv[:2])]
        rows.append([_id_ja(cid, cats_cfg.get(cid, {}).get("name_ja")), _id_ja(hid, holder_ja(cfg, hid)),
                     *[_n(v) for v in vals], _pct(vals[3], vals[1]), *[_n(v) for v in sv]])
    total = ["total 合計", "", *[_n(v) for v in tot[:4]], _pct(tot[3], tot[1]), _n(by_sev.get("high", 0)),
             _n(by_sev.get("medium", 0)), _n(by_sev.get("low", 0))]
    body = _table("table-inputs", head, rows, set(range(2, 10)), total)
    body += ('<p class="note">checked = input − quarantined rows (rows that could not be used at all). '
             'The quarantine table (the summary\'s quarantine entries) also lists register rows that could not be '
             'used and fields set aside in rows that were still checked (an unreadable date, a malformed '
             'number), so it can hold more entries than the rows quarantined here.</p>')
    sections.append(("inputs", "Inputs per category 区分別の入力", body))

    # 3. suspects by category and reason -------------------------------------------------
    chart_rows = [(cat_label(cid), {r: by_cat_reason.get((cid, r), 0) for r in reasons}) for cid in cat_ids]
    body = hbar_svg("chart-category-reason", "Suspects by category and reason 区分別・理由別の要確認件数",
                    chart_rows, reason_series)
    head = ["category 区分"] + [f"<code>{_e(r).replace('_', '_<wbr>')}</code>"
                                f"<span class=\"ja\">{_e(REASON_JA.get(r, ''))}</span>"
                                for r in reasons] + ["total 計"]
    rows = [[_id_ja(cid, cats_cfg.get(cid, {}).get("name_ja"))]
            + [_n(by_cat_reason.get((cid, r))) for r in reasons]
            + [_n(sum(by_cat_reason.get((cid, r), 0) for r in reasons))] for cid in cat_ids]
    total = ["total 合計"] + [_n(by_reason.get(r, 0)) for r in reasons] + [_n(n_sus)]
    body += _table("table-category-reason", head, rows, set(range(1, len(reasons) + 2)), total)
    body += "<h3>By reason 理由別</h3>"
    body += _reason_chart(reasons, by_reason)
    rows = [[_id_ja(r, REASON_JA.get(r)), _e(by_reason_sev.get(r, "")) + " " + _e(SEVERITY_JA.get(by_reason_sev.get(r), "")),
             _n(by_reason.get(r, 0)), _pct(by_reason.get(r, 0), n_sus)] for r in reasons]
    body += _table("table-reason", ["reason 理由", "severity 重大度", "suspects 件数", "share 割合"], rows, {2, 3},
                   ["total 合計", "", _n(n_sus), "100%" if n_sus else ""])
    sections.append(("by-category", "Suspects by category and reason 区分・理由別", body))

    # 4. severity ------------------------------------------------------------------------
    sev_series = [(s, f"{s} {SEVERITY_JA[s]}", SEVERITY_COLOURS[s]) for s in SEVERITY_ORDER]
    body = hbar_svg("chart-severity", "Severity mix 重大度の構成",
                    [("all categories 全区分", {s: by_sev.get(s, 0) for s in SEVERITY_ORDER})]
                    + [(cat_label(cid), {s: by_cat_sev.get((cid, s), 0) for s in SEVERITY_ORDER}) for cid in cat_ids],
                    sev_series)
    rows = [[f"<code>{s}</code> <span class=\"ja\">{SEVERITY_JA[s]}</span>", _n(by_sev.get(s, 0)),
             _pct(by_sev.get(s, 0), n_sus)] for s in SEVERITY_ORDER]
    body += _table("table-severity", ["severity 重大度", "suspects 件数", "share 割合"], rows, {1, 2})
    sections.append(("severity", "Severity mix 重大度", body))

    # 5. changes -------------------------------------------------------------------------
    body = _changes_html(data.get("changes"), cats_cfg, cat_label, published)
    sections.append(("changes", "Changes since the previous run 前回からの変化", body))

    # 6. by prefecture and municipality --------------------------------------------------
    by_pref: dict[str, dict] = {}
    for muni, sv in by_muni.items():
        key = str(muni)[:2] if muni and str(muni)[:2] in PREFECTURES else ""
        p = by_pref.setdefault(key, {s: 0 for s in SEVERITY_ORDER})
        for s in SEVERITY_ORDER:
            p[s] += sv.get(s, 0)
    pref_keys = sorted(by_pref, key=lambda k: (k == "", -sum(by_pref[k].values()), k))

    def pref_label(k):
        return f"{k} {PREFECTURES[k]}" if k else "unknown 不明 (no linked resident)"

    body = hbar_svg("chart-prefecture", "Suspects by prefecture 都道府県別の要確認件数",
                    [(pref_label(k), by_pref[k]) for k in pref_keys], sev_series)
    rows = [[_e(k or "—"), _e(PREFECTURES.get(k, "不明")), *[_n(by_pref[k][s]) for s in SEVERITY_ORDER],
             _n(sum(by_pref[k].values()))] for k in pref_keys]
    body += _table("table-prefecture", ["code コード", "prefecture 都道府県", "high 高", "medium 中", "low 低",
                                        "suspects 計"], rows, {2, 3, 4, 5})
    munis = sorted(by_muni, key=lambda m: (m is None, -sum(by_muni[m].values()), m or ""))
    rows = [[f"<code>{_e(m or '—')}</code>", _e(prefecture_of(m) or "不明"),
             *[_n(by_muni[m][s]) for s in SEVERITY_ORDER], _n(sum(by_muni[m].values()))]
            for m in munis[:MAX_MUNICIPALITIES]]
    more = (f' <span class="note">(the {MAX_MUNICIPALITIES} with most suspects of {len(munis)})</span>'
            if len(munis) > MAX_MUNICIPALITIES else "")
    body += (f"<details open><summary>By municipality 市区町村別 ({len(munis)}){more}</summary>"
             + _table("table-municipality", ["municipality_code 団体コード", "prefecture 都道府県", "high 高",
                                             "medium 中", "low 低", "suspects 計"], rows, {2, 3, 4, 5})
             + "</details>")
    body += ('<p class="note">Municipality of the linked resident (住所地の団体コード); records whose number is '
             "invalid, unknown or absent have none.</p>")
    sections.append(("region", "By prefecture and municipality 地域別", body))

    # 7. blocking figures ----------------------------------------------------------------
    sections.append(("blocking", "Blocking figures 候補探索（ブロッキング）", _blocking_html(run.get("figures") or {})))

    # 8. stage seconds -------------------------------------------------------------------
    stages = dict(sorted((run.get("stage_seconds") or {}).items(),
                         key=lambda kv: (list(STAGE_JA).index(kv[0]) if kv[0] in STAGE_JA else len(STAGE_JA), kv[0])))
    body = hbar_svg("chart-stages", "Seconds per stage 段階別の所要時間（秒）",
                    [(f"{k} {STAGE_JA.get(k, '')}", {"s": v}) for k, v in stages.items()],
                    [("s", "seconds", "#1f4e79")], value_fmt=lambda v: f"{v:,.1f} s")
    total_s = sum(stages.values())
    rows = [[_id_ja(k, STAGE_JA.get(k)), f"{v:,.1f}", _pct(v, total_s)] for k, v in stages.items()]
    body += _table("table-stages", ["stage 段階", "seconds 秒", "share 割合"], rows, {1, 2},
                   ["total 合計", f"{total_s:,.1f}", "100%" if total_s else ""])
    sections.append(("stages", "Stage durations 段階別の所要時間", body))

    # 9. gates ---------------------------------------------------------------------------
    sections.append(("gates", "Gate results ゲート検証結果", _gates_html(data.get("gates") or [], run)))

    # 10. history ------------------------------------------------------------------------
    sections.append(("history", "Recent runs 実行履歴", _history_html(data.get("history") or [], run_id,
                                                                     Path(data["output"]))))

    nav = "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t, _ in sections)
    main = "".join(f'<section id="{a}"><h2>{_e(t)}</h2>{b}</section>' for a, t, b in sections)
    gen = data["generated_at"].strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Tenken run report {_e(run_id)} 点検結果</title><style>{CSS}</style></head><body>"
        f"<header><h1>Tenken run report 点検結果レポート</h1>"
        f'<div class="sub">run <code>{_e(run_id)}</code> · {_e(run["status"])} '
        f'{_e(STATUS_JA.get(run["status"], ""))} · started {_ts(run.get("started_at"))} UTC</div></header>'
        f"<nav>{nav}</nav><main>{main}"
        f"<footer>Generated {gen} by <code>tenken report</code>. Counts only: no individual numbers, names, tokens or "
        f"record ids. 集計値のみ（個人番号・氏名・トークン・レコードIDは含みません）。</footer>"
        "</main></body></html>\n"
    )


def _reason_chart(reasons: list[str], by_reason: dict) -> str:
    rows = [(f"{r} {REASON_JA.get(r, '')}", {"n": by_reason.get(r, 0)}) for r in reasons]
    return hbar_svg("chart-reason", "Suspects by reason 理由別の要確認件数", rows, [("n", "suspects", "#1f4e79")])


def _changes_html(changes: dict | None, cats_cfg: dict, cat_label, published: bool) -> str:
    from jobs.changes import CHANGE_JA, CHANGE_KINDS

    if not published or changes is None:
        return '<p class="note">Not published: nothing to compare. 公開されていないため比較なし。</p>'
    prev = changes.get("previous_run_id")
    counts = changes.get("counts") or {}
    if prev:
        intro = (f"<p>Compared with the previous published run <code>{_e(prev)}</code>, keyed on "
                 f"(category, record_id). 前回公開の実行との比較。</p>")
    else:
        intro = "<p>No earlier published run: every suspect is new. 初回の公開実行のため、すべて新規です。</p>"
    cat_ids = list(dict.fromkeys(list(changes.get("categories") or []) + sorted(counts)))
    series = [(k, f"{k} {CHANGE_JA[k]}", CHANGE_COLOURS[k]) for k in CHANGE_KINDS]
    body = intro + hbar_svg("chart-changes", "New, persisting and resolved suspects 新規・継続・解消",
                            [(cat_label(c), counts.get(c, {})) for c in cat_ids], series)
    head = ["category 区分"] + [f"{k}<span class=\"ja\">{CHANGE_JA[k]}</span>" for k in CHANGE_KINDS]
    rows, tot = [], {k: 0 for k in CHANGE_KINDS}
    prev_cats = set(changes.get("previous_categories") or [])
    for c in cat_ids:
        v = counts.get(c, {})
        for k in CHANGE_KINDS:
            tot[k] += v.get(k, 0)
        note = ("" if not prev or c in prev_cats
                else ' <span class="note">(not in previous run 前回対象外)</span>')
        rows.append([_id_ja(c, cats_cfg.get(c, {}).get("name_ja")) + note] + [_n(v.get(k, 0)) for k in CHANGE_KINDS])
    body += _table("table-changes", head, rows, set(range(1, 5)), ["total 合計"] + [_n(tot[k]) for k in CHANGE_KINDS])
    body += ('<p class="note">resolved: flagged last time, checked again and no longer flagged. quarantined: flagged '
             "last time, but the row was quarantined in this run (not checked). Categories this run did not check "
             "are not compared. Row-level changes: Delta table <code>OUTPUT/changes</code> "
             f"(<code>run_id = '{_e(changes['run_id'])}'</code>).</p>")
    return body


def _blocking_html(figures: dict) -> str:
    passes: dict[str, dict] = {}
    other = {}
    for k, v in figures.items():
        if k.startswith("pass.") and k.count(".") >= 2:
            name, _, fig = k[5:].rpartition(".")
            passes.setdefault(name, {})[fig] = v
        else:
            other[k] = v
    if not figures:
        return '<p class="note">No blocking figures recorded for this run.</p>'
    labels = {"doubtful_records": "doubtful records 要探索レコード", "candidate_pairs": "candidate pairs 候補ペア",
              "largest_block": "largest block 最大ブロック", "oversized_blocks": "oversized blocks 過大ブロック"}
    body = _table("table-figures", ["figure 指標", "value 値"],
                  [[_e(labels.get(k, k)), _n(v)] for k, v in sorted(other.items())], {1})
    if passes:
        names = sorted(passes, key=lambda p: -(passes[p].get("pairs") or 0))
        body += "<h3>Per blocking pass パス別</h3>"
        body += hbar_svg("chart-blocking", "Candidate pairs per blocking pass パス別の候補ペア数",
                         [(p, {"pairs": passes[p].get("pairs") or 0}) for p in names],
                         [("pairs", "pairs", "#2c7fb8")])
        figs = ["pairs", "largest_block", "oversized_blocks", "skipped_blocks"]
        figs += sorted({f for p in passes.values() for f in p} - set(figs))
        fig_ja = {"pairs": "候補ペア", "largest_block": "最大ブロック", "oversized_blocks": "過大ブロック",
                  "skipped_blocks": "省略ブロック"}
        body += _table("table-blocking", ["pass パス"] + [f'{_e(f)}<span class="ja">{_e(fig_ja.get(f, ""))}</span>'
                                                          for f in figs],
                       [[f"<code>{_e(p)}</code>"] + [_n(passes[p].get(f)) for f in figs] for p in names],
                       set(range(1, len(figs) + 1)))
    return body


def _gates_html(files: list[dict], run: dict) -> str:
    fails = run.get("gate_failures") or []
    outcome = ('<span class="badge ng">failed 不合格</span>' if fails or run["status"] == "gate_failed"
               else '<span class="badge ok">passed 合格</span>' if run["status"] == "published" and files
               else '<span class="badge na">published, no gate results recorded 検証結果の記録なし</span>'
               if run["status"] == "published" else '<span class="badge na">unknown 不明</span>')
    body = f"<p>Gate outcome ゲート判定: {outcome}</p>"
    if not files:
        return body + (f'<p class="note">No validation results under <code>gates/{_e(run["run_id"])}/</code>. '
                       "検証結果ファイルはありません。</p>")
    rows = []
    for f in files:
        res = ("" if f["success"] is None else
               '<span class="badge ok">success</span>' if f["success"] else '<span class="badge ng">failure</span>')
        stats = (f"{f['successful']}/{f['evaluated']}" if f["evaluated"] is not None else "")
        rows.append([f'<a href="{_e(f["href"])}">{_e(f["path"])}</a>', res, stats, _n(f["size"])])
    return body + _table("table-gates", ["file ファイル", "result 結果", "expectations passed 合格/評価", "bytes"],
                         rows, {2, 3})


def _history_html(history: list[dict], run_id: str, output: Path) -> str:
    rows = []
    for r in history:
        rid = r["run_id"]
        link = (f'<a href="../{_e(rid)}/index.html">{_e(rid)}</a>'
                if rid != run_id and (output / "reports" / rid / "index.html").exists()
                else f"<code>{_e(rid)}</code>" + (" ◀" if rid == run_id else ""))
        cls = "ok" if r["status"] == "published" else "ng"
        rows.append([link, f'<span class="badge {cls}">{_e(r["status"])}</span>', _ts(r.get("started_at")),
                     f"{r['duration_s']:,.1f}" if r.get("duration_s") is not None else "",
                     _n(r.get("records")), _n(r.get("suspects")), _n(r.get("quarantined"))])
    return _table("table-history", ["run_id 実行ID", "status 状態", "started 開始 (UTC)", "seconds 秒",
                                    "records レコード", "suspects 要確認", "quarantined 隔離"], rows, {3, 4, 5, 6})
