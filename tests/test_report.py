"""The headquarters' view: run-to-run changes, the HTML report (rendered in headless
Chromium) and `tenken runs`, on tiny runs/suspects/quarantine Delta tables written with
the engine's own writers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from jobs import publish
from jobs.changes import build_changes, compute_changes
from jobs.errors import UsageError
from jobs.report_html import gather, render

SUSPECTS_DDL = (
    "run_id string, category string, record_id string, reason string, reasons array<string>, severity string, "
    "resident_token string, suggested_token string, score double, suggested_score double, "
    "evidence struct<linked_levels:map<string,string>, linked_weights:map<string,double>, "
    "suggested_levels:map<string,string>, suggested_weights:map<string,double>, name_judgement:string, "
    "number_state:string, resident_status:string, age:int, duplicate_records:array<string>, "
    "shared_account_records:array<string>, holder_in_household:boolean, candidates:bigint>, "
    "holder_id string, municipality_code string, priority double"
)
QUARANTINE_DDL = ("run_id string, source string, category string, record_id string, resident_token string, "
                  "column string, reason string, action string")
FIELDS = ("name_kanji", "name_kana", "birth_date", "sex", "address")
SEVERITY = {"LINKED_TO_OTHER_PERSON": "high", "RESIDENT_DECEASED": "high", "ATTRIBUTE_MISMATCH": "medium",
            "DUPLICATE_LINK": "medium", "UNLINKED_RECORD": "low", "AGE_INELIGIBLE": "low"}
T0 = dt.datetime(2026, 11, 1, 9, 0, 0)


def token(category: str, record_id: str) -> str:
    """A fake token that is easy to look for in outputs."""
    return hashlib.sha256(f"{category}/{record_id}".encode()).hexdigest()


def suspect(cfg, run_id, category, record_id, reason, muni="131016", priority=None, score=0.3,
            suggested=False, dup=None) -> dict:
    sev = SEVERITY.get(reason, "medium")
    rank = {"high": 3, "medium": 2, "low": 1}[sev]
    return {
        "run_id": run_id, "category": category, "record_id": record_id, "reason": reason, "reasons": [reason],
        "severity": sev, "resident_token": token(category, record_id),
        "suggested_token": token(category, record_id + "s") if suggested else None,
        "score": score, "suggested_score": 0.9 if suggested else None,
        "evidence": {
            "linked_levels": {f: ("different" if f == "birth_date" else "exact") for f in FIELDS},
            "linked_weights": {f: 1.0 for f in FIELDS},
            "suggested_levels": {f: ("exact" if suggested else None) for f in FIELDS},
            "suggested_weights": {f: 1.0 for f in FIELDS} if suggested else None,
            "name_judgement": "agree", "number_state": "ok", "resident_status": "resident", "age": 44,
            "duplicate_records": dup, "shared_account_records": None, "holder_in_household": None,
            "candidates": 1 if suggested else None,
        },
        "holder_id": cfg["categories"][category]["holder_id"], "municipality_code": muni,
        "priority": priority if priority is not None else rank + (0.45 if suggested else 0) + (1 - score) * 0.4,
    }


def write_run(spark, out, run_id: str, minutes: int, rows: list[dict], categories: list[str],
              status: str = "published", quarantined: list[tuple[str, str]] = (), gate_failures=None) -> None:
    """Write one run the way the pipeline publishes it: suspects, quarantine, then the runs row."""
    out = str(out)
    if status == "published":
        publish.replace_run(spark.createDataFrame(rows, SUSPECTS_DDL), out, "suspects", run_id)
        q = [{"run_id": run_id, "source": "records", "category": c, "record_id": r, "resident_token": None,
              "column": "record_id", "reason": "duplicate_record_id", "action": "row_quarantined"}
             for c, r in quarantined]
        publish.replace_run(spark.createDataFrame(q, QUARANTINE_DDL), out, "quarantine", run_id)
    per_cat = {c: sum(1 for r in rows if r["category"] == c) for c in categories}
    reasons: dict[str, int] = {}
    for r in rows:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    started = T0 + dt.timedelta(minutes=minutes)
    publish.replace_run(publish.runs_row(spark, {
        "run_id": run_id, "status": status, "started_at": started, "finished_at": started + dt.timedelta(seconds=80),
        "duration_s": 80.0, "input_path": "/data/in", "residents": 100, "records": 10 * len(categories),
        "suspects": len(rows) if status == "published" else None,
        "quarantined": len(quarantined),
        "categories": [{"category": c, "input_rows": 10, "checked_rows": 10 - sum(1 for q in quarantined if q[0] == c),
                        "quarantined_rows": sum(1 for q in quarantined if q[0] == c), "suspects": per_cat[c]}
                       for c in categories],
        "reason_counts": reasons,
        "stage_seconds": {"read": 2.0, "normalise": 10.0, "verify": 8.0, "search": 20.0, "classify": 6.0,
                          "publish": 9.0},
        "figures": {"doubtful_records": 7, "candidate_pairs": 31, "largest_block": 4, "oversized_blocks": 0,
                    "pass.full_name_kanji.pairs": 12, "pass.full_name_kanji.largest_block": 4,
                    "pass.bd_sex_area.pairs": 19, "pass.bd_sex_area.largest_block": 3},
        "gate_failures": gate_failures or [], "message": None,
    }), out, "runs", run_id)


@pytest.fixture(scope="module")
def two_runs(spark, cfg, tmp_path_factory):
    """r1, then a gate-failed run, then r2 after some records were corrected.

    health_insurance  r1: H1 H2 H3 H4 H5        r2: H1 H2(other reason) H6; H4 quarantined
                      -> new 1 (H6), persisting 2 (H1 H2), resolved 2 (H3 H5), quarantined 1 (H4)
    mynapoint         r1: M1 M2                 r2: M1 M3  -> new 1, persisting 1, resolved 1
    school_health     r1: S1                    not checked in r2 -> not compared
    vaccination       not in r1                 r2: V1     -> new 1
    """
    out = tmp_path_factory.mktemp("report") / "out"
    s = lambda *a, **k: suspect(cfg, *a, **k)  # noqa: E731
    r1 = [s("r1", "health_insurance", f"REC-H{i}", r, muni=m, suggested=(r == "LINKED_TO_OTHER_PERSON"))
          for i, r, m in [(1, "LINKED_TO_OTHER_PERSON", "131016"), (2, "ATTRIBUTE_MISMATCH", "271004"),
                          (3, "RESIDENT_DECEASED", "011002"), (4, "DUPLICATE_LINK", "131016"),
                          (5, "UNLINKED_RECORD", None)]]
    r1 += [s("r1", "mynapoint", "REC-M1", "AGE_INELIGIBLE"), s("r1", "mynapoint", "REC-M2", "ATTRIBUTE_MISMATCH"),
           s("r1", "school_health", "REC-S1", "AGE_INELIGIBLE", muni="401307")]
    write_run(spark, out, "r1", 0, r1, ["health_insurance", "mynapoint", "school_health"])
    write_run(spark, out, "r1b", 30, [], ["health_insurance"], status="gate_failed",
              gate_failures=["records.health_insurance: expect_column_values_to_match_regex(individual_number)"])
    r2 = [s("r2", "health_insurance", "REC-H1", "LINKED_TO_OTHER_PERSON", suggested=True),
          s("r2", "health_insurance", "REC-H2", "DUPLICATE_LINK", muni="271004", dup=["REC-H2", "REC-H9"]),
          s("r2", "health_insurance", "REC-H6", "RESIDENT_DECEASED", muni="472018"),
          s("r2", "mynapoint", "REC-M1", "AGE_INELIGIBLE"), s("r2", "mynapoint", "REC-M3", "UNLINKED_RECORD", muni=None),
          s("r2", "vaccination", "REC-V1", "ATTRIBUTE_MISMATCH", muni="131016")]
    write_run(spark, out, "r2", 60, r2, ["health_insurance", "mynapoint", "vaccination"],
              quarantined=[("health_insurance", "REC-H4")])
    gates = out / "gates" / "r2"
    gates.mkdir(parents=True)
    (gates / "records_validation.json").write_text(json.dumps(
        {"success": True, "statistics": {"evaluated_expectations": 12, "successful_expectations": 12}}))
    (gates / "docs").mkdir()
    (gates / "docs" / "index.html").write_text("<html><body>data docs</body></html>")
    return {"out": out, "rows": r1 + r2}


EXPECTED_R2 = {
    "health_insurance": {"new": 1, "persisting": 2, "resolved": 2, "quarantined": 1},
    "mynapoint": {"new": 1, "persisting": 1, "resolved": 1, "quarantined": 0},
    "vaccination": {"new": 1, "persisting": 0, "resolved": 0, "quarantined": 0},
}


def test_changes_new_persisting_resolved(spark, two_runs):
    out = str(two_runs["out"])
    ctx, counts = build_changes(spark, out, "r2")
    assert ctx["previous_run_id"] == "r1"          # the gate-failed run in between is skipped
    assert counts == EXPECTED_R2                   # school_health was not checked in r2: not resolved
    rows = {(r.category, r.record_id): r for r in
            spark.read.format("delta").load(f"{out}/changes").where("run_id = 'r2'").collect()}
    assert rows[("health_insurance", "REC-H2")].change == "persisting"
    assert (rows[("health_insurance", "REC-H2")].previous_reason, rows[("health_insurance", "REC-H2")].reason) == \
        ("ATTRIBUTE_MISMATCH", "DUPLICATE_LINK")
    assert rows[("health_insurance", "REC-H3")].change == "resolved" and rows[("health_insurance", "REC-H3")].reason is None
    assert rows[("health_insurance", "REC-H4")].change == "quarantined"
    assert rows[("vaccination", "REC-V1")].change == "new"
    assert ("school_health", "REC-S1") not in rows
    assert all(r.holder_id for r in rows.values())
    # `tenken changes` (default: the newest published run) rebuilds the rows: replaced, never duplicated
    from jobs.cli import main

    res = CliRunner().invoke(main, ["-q", "changes", "--output", out])
    assert res.exit_code == 0, res.output
    assert "run r2 compared with r1" in res.output
    hi = next(ln for ln in res.output.splitlines() if ln.strip().startswith("health_insurance"))
    assert hi.split()[1:5] == ["1", "2", "2", "1"]
    assert spark.read.format("delta").load(f"{out}/changes").where("run_id = 'r2'").count() == len(rows) == 10


def test_first_run_all_new_and_unpublished_refused(spark, two_runs):
    out = str(two_runs["out"])
    df, ctx = compute_changes(spark, out, "r1")
    assert ctx["previous_run_id"] is None
    assert {r.change for r in df.collect()} == {"new"} and df.count() == 8
    with pytest.raises(UsageError, match="not published"):
        compute_changes(spark, out, "r1b")
    with pytest.raises(UsageError, match="no run"):
        compute_changes(spark, out, "nope")


class _Dom(HTMLParser):
    """Counts the elements of a dumped DOM: tables and charts by id, rects per chart, links."""

    def __init__(self):
        super().__init__()
        self.tables, self.svgs, self.rects, self.links, self.tags = [], [], {}, [], {}
        self._svg = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "table":
            self.tables.append(a.get("id"))
        elif tag == "svg":
            self._svg = a.get("id")
            self.svgs.append(self._svg)
        elif tag == "rect" and self._svg:
            self.rects[self._svg] = self.rects.get(self._svg, 0) + 1
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "svg":
            self._svg = None


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_headless_chromium(spark, cfg, two_runs, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get update && apt-get install -y chromium)")
    from jobs.cli import main

    out = two_runs["out"]
    res = CliRunner().invoke(main, ["-q", "report", "--output", str(out), "--run-id", "r2"])
    assert res.exit_code == 0, res.output
    path = out / "reports" / "r2" / "index.html"
    assert f"wrote {path}" in res.output
    text = path.read_text(encoding="utf-8")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    dom = _Dom()
    dom.feed(res.stdout)
    charts = {"chart-category-reason", "chart-reason", "chart-severity", "chart-changes", "chart-prefecture",
              "chart-blocking", "chart-stages"}
    assert charts <= set(dom.svgs), dom.svgs
    for c in charts:
        assert dom.rects.get(c, 0) >= 2, c                    # bars (and legend swatches) were rendered
    tables = {"run-info", "table-inputs", "table-category-reason", "table-reason", "table-severity",
              "table-changes", "table-prefecture", "table-municipality", "table-figures", "table-blocking",
              "table-stages", "table-gates", "table-history"}
    assert tables <= set(dom.tables), dom.tables
    # links to the gate's results, relative so the OUTPUT folder can be moved as a whole
    assert "../../gates/r2/records_validation.json" in dom.links
    assert "../../gates/r2/docs/index.html" in dom.links
    assert (path.parent / "../../gates/r2/docs/index.html").resolve().is_file()
    # Japanese labels next to the ids, the change counts and the prefecture names
    for s in ("健康保険（被用者保険）", "マイナポイント", "別人へのひも付け", "東京都", "大阪府", "沖縄県", "解消",
              "pass", "full_name_kanji", "r1"):
        assert s in res.stdout, s
    # self-contained: no scripts, no external styles, fonts or images
    assert dom.tags.get("script", 0) == 0 and dom.tags.get("img", 0) == 0 and dom.tags.get("link", 0) == 0
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", text)
    assert set(re.findall(r"https?://[^\s\"']+", text)) <= {"http://www.w3.org/2000/svg"}
    # aggregates only: no tokens, record ids or number-like strings
    for r in two_runs["rows"]:
        assert r["resident_token"] not in text and r["record_id"] not in text
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", text)


def test_report_figures_and_failed_run(spark, cfg, two_runs):
    out = str(two_runs["out"])
    data = gather(spark, cfg, out, "r2", write_changes=False)
    page = render(data, cfg)
    # the totals of the category table: 6 suspects over 29 checked rows
    assert re.search(r"suspects 要確認</div><div class=\"v\">6<", page)
    assert data["changes"]["counts"] == EXPECTED_R2
    # rows withheld (from the category table) and quarantine-table entries (field problems too)
    # are two figures, not one "quarantined" that contradicts the table
    fields = render({**data, "run": {**data["run"], "quarantined": 7}}, cfg)
    assert re.search(r"rows quarantined 隔離行</div><div class=\"v\">1<", fields)
    assert re.search(r"quarantine entries 隔離記録</div><div class=\"v\">7<", fields)
    failed = render(gather(spark, cfg, out, "r1b", write_changes=False), cfg)
    assert "gate_failed" in failed and "expect_column_values_to_match_regex" in failed
    assert "ゲート不合格" in failed and "not published" in failed.lower()


def test_runs_command(spark, two_runs):
    from jobs.cli import main

    res = CliRunner().invoke(main, ["-q", "runs", "--output", str(two_runs["out"])])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0].startswith("run_id")
    assert [ln.split()[0] for ln in lines[1:]] == ["r2", "r1b", "r1"]       # newest first
    assert "gate_failed" in lines[2] and "gate: records.health_insurance" in lines[2]
    assert "published" in lines[1] and "80.0 s" in lines[1] and " 6 " in lines[1]
    res = CliRunner().invoke(main, ["-q", "runs", "--output", str(two_runs["out"] / "missing")])
    assert res.exit_code == 2 and "no runs table" in res.output


def test_commands_refuse_unknown_runs(spark, two_runs):
    from jobs.cli import main

    out = str(two_runs["out"])
    res = CliRunner().invoke(main, ["-q", "report", "--output", out, "--run-id", "nope"])
    assert res.exit_code == 2 and "no run 'nope'" in res.output
    res = CliRunner().invoke(main, ["-q", "changes", "--output", out, "--run-id", "r1b"])
    assert res.exit_code == 2 and "not published" in res.output
