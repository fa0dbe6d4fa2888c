"""Gates, quarantine and atomic publication (issue 4), on one small hand-made input.

One published run (``b1``) is the baseline the later tests keep intact: a run refused by
the input gate (half the numbers of a category malformed).  Kills during publication are
tested in tests/test_publish.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from pyspark.sql import functions as F

from jobs import gates, publish
from jobs.cli import main
from jobs.pipeline import run
from tests.helpers import CAT_COLS, number, record_from, write_residents

REF = dt.date(2026, 11, 26)


def _res():
    names = ["山田 太郎", "山田 花子", "佐藤 美咲", "鈴木 一郎", "高橋 次郎", "田中 直樹", "伊藤 花", "中村 裕子"]
    kana = ["ヤマダ タロウ", "ヤマダ ハナコ", "サトウ ミサキ", "スズキ イチロウ", "タカハシ ジロウ", "タナカ ナオキ",
            "イトウ ハナ", "ナカムラ ユウコ"]
    return {i + 1: {"individual_number": number(i + 1), "name_kanji": n, "name_kana": k,
                    "birth_date": f"19{60 + i}-0{1 + i % 9}-1{i}", "sex": "1" if i % 2 == 0 else "2",
                    "address": f"東京都千代田区丸の内1丁目{i + 1}番3号", "municipality_code": "131016",
                    "household_id": f"H{i + 1}"}
            for i, (n, k) in enumerate(zip(names, kana))}


def write_text_category(root: Path, cid: str, rows: list[dict]) -> None:
    """A category written with every column as text (as a CSV would arrive), so bad dates can be given."""
    data = {c: pa.array([None if r.get(c) is None else str(r.get(c)) for r in rows], pa.string()) for c in CAT_COLS}
    (root / "categories" / cid).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(data), root / "categories" / cid / "part-0.parquet")


def bad_input(root: Path, r: dict) -> None:
    write_residents(root, list(r.values()))
    fw = number(1).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    bad_check = number(2)[:-1] + str((int(number(2)[-1]) + 1) % 10)
    write_text_category(root, "health_insurance", [
        record_from(r[1], "HI-FW", individual_number=fw),               # full-width digits: folded
        record_from(r[3], "HI-MAL", individual_number="12345-ABC"),     # malformed number
        record_from(r[2], "HI-CD", individual_number=bad_check),        # check digit wrong
        record_from(r[4], "HI-DATE", birth_date="1971-13-45"),          # unparseable date
        record_from(r[5], "HI-IMP", birth_date="2999-01-01"),           # impossible birth date
        record_from(r[6], "HI-SEX", sex="9"),                           # unknown sex code
        record_from(r[7], "HI-LONG", name_kanji="長" * 300),            # over-long text
        # control character in the address; linked to the wrong person (her number is resident 1's)
        record_from(r[8], "HI-CTRL", address="京都市\x07中京区", individual_number=number(1)),
        record_from(r[3], "HI-OK"),
    ])
    write_text_category(root, "national_tax", [
        record_from(r[1], "NT01"), record_from(r[2], "NT01"),            # duplicate record id
        record_from(r[3], ""),                                           # empty record id
        record_from(r[4], "NT02"), record_from(r[5], "NT03"),
    ])


@pytest.fixture(scope="module")
def base(spark, cfg, tmp_path_factory):
    root = tmp_path_factory.mktemp("gates")
    inp, out = root / "in", root / "out"
    r = _res()
    bad_input(inp, r)
    run_cfg = {**cfg, "run": {"reference_date": REF}}
    t0 = time.perf_counter()
    summary = run(run_cfg, str(inp), str(out), "b1")
    return {"inp": inp, "out": out, "cfg": run_cfg, "summary": summary, "r": r, "root": root,
            "seconds": time.perf_counter() - t0}


def snapshot(spark, out: Path) -> dict:
    """Every row of every published table (raw Delta, latest version), as sorted JSON."""
    snap = {}
    for t in publish.TABLES:
        path = out / t
        snap[t] = sorted(spark.read.format("delta").load(str(path)).toJSON().collect()) if path.exists() else None
    return snap


def _quarantine(spark, out, run_id):
    return {(q.category, q.record_id, q.column, q.reason, q.action) for q in
            spark.read.format("delta").load(str(out / "quarantine")).where(F.col("run_id") == run_id).collect()}


def test_bad_fields_quarantined_and_still_reconciled(base, spark):
    q = _quarantine(spark, base["out"], "b1")
    hi = "health_insurance"
    for want in [
        (hi, "HI-FW", "individual_number", "full_width_or_separated_digits", "folded"),
        (hi, "HI-MAL", "individual_number", "malformed_number", "flagged"),
        (hi, "HI-CD", "individual_number", "check_digit_wrong", "flagged"),
        (hi, "HI-DATE", "birth_date", "unparseable_date", "nulled"),
        (hi, "HI-IMP", "birth_date", "impossible_birth_date", "nulled"),
        (hi, "HI-SEX", "sex", "unknown_sex_code", "nulled"),
        (hi, "HI-LONG", "name_kanji", "too_long", "nulled"),
        (hi, "HI-CTRL", "address", "control_characters", "nulled"),
        ("national_tax", "NT01", "record_id", "duplicate_record_id", "row_quarantined"),
        ("national_tax", None, "record_id", "empty_record_id", "row_quarantined"),
    ]:
        assert want in q, want
    assert not any(x[1] == "HI-OK" for x in q)
    nt01 = (spark.read.format("delta").load(str(base["out"] / "quarantine"))
            .where("run_id = 'b1' AND record_id = 'NT01'").count())
    assert nt01 == 2                                            # both rows of the repeated id
    sus = {(s.category, s.record_id): s for s in spark.read.format("delta").load(str(base["out"] / "suspects"))
           .where("run_id = 'b1'").collect()}
    # a bad field is nulled and the record still reconciled: a missing field is no mismatch ...
    for rid in ("HI-FW", "HI-DATE", "HI-IMP", "HI-SEX", "HI-OK"):
        assert (hi, rid) not in sus, rid
    # ... a broken number is flagged, and a record with a nulled field still gets its verdict
    assert sus[(hi, "HI-MAL")].reason == "INVALID_NUMBER" and sus[(hi, "HI-CD")].reason == "INVALID_NUMBER"
    assert sus[(hi, "HI-CTRL")].reason in ("LINKED_TO_OTHER_PERSON", "ATTRIBUTE_MISMATCH")
    # quarantined rows are not reconciled
    assert not any(k[0] == "national_tax" and k[1] in ("NT01", None) for k in sus)


def test_conservation_of_rows(base, spark):
    runs = spark.read.format("delta").load(str(base["out"] / "runs")).where("run_id = 'b1'").first()
    assert runs.status == "published"
    cats = {c.category: c for c in runs.categories}
    assert (cats["health_insurance"].input_rows, cats["health_insurance"].checked_rows,
            cats["health_insurance"].quarantined_rows) == (9, 9, 0)
    assert (cats["national_tax"].input_rows, cats["national_tax"].checked_rows,
            cats["national_tax"].quarantined_rows) == (5, 2, 3)
    for c in runs.categories:
        assert c.input_rows == c.checked_rows + c.quarantined_rows, c.category
    # the quarantined rows are the rows the quarantine table marks row_quarantined
    rq = {(x[0], x[1]) for x in _quarantine(spark, base["out"], "b1") if x[4] == "row_quarantined"}
    q_rows = (spark.read.format("delta").load(str(base["out"] / "quarantine"))
              .where("run_id = 'b1' AND action = 'row_quarantined' AND source = 'records'").count())
    assert q_rows == sum(c.quarantined_rows for c in runs.categories) and len(rq) == 2   # (NT01) and (None)


def test_gate_results_and_their_share(base):
    runs_row = base["summary"]
    st = runs_row["stage_seconds"]
    assert st["input_gate"] > 0 and st["output_gate"] > 0
    folder = base["out"] / "gates" / "b1"
    inp = json.loads((folder / "input.json").read_text(encoding="utf-8"))
    outp = json.loads((folder / "output.json").read_text(encoding="utf-8"))
    assert inp["success"] and outp["success"]
    st_in = inp["statistics"]   # the shape jobs/report_html.gate_files reads
    assert st_in["evaluated_expectations"] == st_in["successful_expectations"] > 10
    assert {s["suite"] for s in inp["suites"]} == {"residents", "records"}
    assert {s["suite"] for s in outp["suites"]} == {"suspects", "suspect_rates"}
    # per-category expectations from categories.yaml: one per kept field of each category present
    recs = next(s for s in inp["suites"] if s["suite"] == "records")
    per_cat = [x for x in recs["expectations"] if "category==" in str(x["kwargs"].get("row_condition"))]
    assert len(per_cat) == 5 + 3       # health_insurance keeps five basic items, national_tax three
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "input gate" in page and "output gate" in page
    # offline: no external URL; no raw values: no 12-digit string, no unexpected values
    for path in folder.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path
        assert not re.search(r"(?<![0-9])[0-9]{12}(?![0-9])", text), path
        assert "unexpected_list" not in text and "partial_unexpected" not in text, path
        assert "山田" not in text and "丸の内" not in text, path
    print(f"\nrun b1: {base['seconds']:.1f} s, input gate {st['input_gate']:.1f} s, "
          f"output gate {st['output_gate']:.1f} s")


def test_half_malformed_category_refused(base, spark, tmp_path):
    """Half the numbers of a category malformed: exit 3, the category and expectation named,
    gate_failed recorded, nothing published, the previous state intact."""
    before = snapshot(spark, base["out"])
    inp = tmp_path / "in"
    r = _res()
    write_residents(inp, list(r.values()))
    recs = [record_from(r[1 + i % 8], f"PP{i:02d}", individual_number=(f"12-34-{i}" if i % 2 else None) or
                        number(1 + i % 8)) for i in range(20)]
    write_text_category(inp, "public_pension", recs)
    res = CliRunner().invoke(main, ["-q", "reconcile", "--input", str(inp), "--output", str(base["out"]),
                                    "--run-id", "bad1"])
    assert res.exit_code == 3, (res.output, res.exception)
    line = res.stderr.strip().splitlines()
    assert len(line) == 1, res.stderr
    assert "category public_pension" in line[0]
    assert "expect_column_values_to_be_between(invalid_number_rate) 50% > 10%" in line[0]
    runs = spark.read.format("delta").load(str(base["out"] / "runs"))
    row = runs.where("run_id = 'bad1'").first()
    assert row.status == "gate_failed" and row.gate_failures and "public_pension" in row.gate_failures[0]
    assert row.message and "input gate failed" in row.message
    assert spark.read.format("delta").load(str(base["out"] / "suspects")).where("run_id = 'bad1'").count() == 0
    assert spark.read.format("delta").load(str(base["out"] / "quarantine")).where("run_id = 'bad1'").count() == 0
    after = snapshot(spark, base["out"])
    assert after["suspects"] == before["suspects"] and after["quarantine"] == before["quarantine"]
    assert [x for x in after["runs"] if '"run_id":"bad1"' not in x] == before["runs"]
    assert publish.latest_published(spark, str(base["out"])) == "b1"
    gate = json.loads((base["out"] / "gates" / "bad1" / "input.json").read_text(encoding="utf-8"))
    assert not gate["success"] and any("public_pension" in f for f in gate["failures"])
    assert not (base["out"] / "gates" / "bad1" / "output.json").exists()


def test_an_expectation_that_cannot_be_evaluated_fails_the_gate_and_says_why(spark):
    """A metric whose Spark query fails (a column the frame lacks, a regex Java rejects)
    fails closed, and the failure line names the cause, not just "failed"."""
    frame = spark.createDataFrame([("r1", "ab"), ("r2", None)], "record_id string, s string")
    suite = {"name": "broken", "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "absent"}},
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "(ab"}},
    ]}
    gate = gates.GateResult("input")
    gates.run_suite(gate, frame, suite, "spark", "probe")
    assert gate.success is False
    assert len(gate.failures) == 2, gate.failures
    absent, = [f for f in gate.failures if "(absent)" in f]
    regex, = [f for f in gate.failures if "match_regex" in f]
    assert absent.startswith("probe: expect_column_values_to_not_be_null(absent) could not be evaluated: ")
    assert '"absent"' in absent and "does not exist" in absent
    assert regex.startswith("probe: expect_column_values_to_match_regex(s) could not be evaluated: ")
    assert "PatternSyntaxException" in regex and "Unclosed group" in regex
    items = {i["expectation"]: i for i in gate.suites[0]["expectations"]}
    assert items["expect_table_row_count_to_be_between"]["success"] and "error" not in items[
        "expect_table_row_count_to_be_between"]
    for name in ("expect_column_values_to_not_be_null", "expect_column_values_to_match_regex"):
        assert items[name]["success"] is False and items[name]["error"]


def test_an_engine_error_is_reduced_to_its_innermost_cause_with_digits_masked():
    message = ("An error occurred while calling o475.collectToPython.\n"
               ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 failed: "
               "org.apache.spark.SparkNumberFormatException: [CAST_INVALID_INPUT] The value '123456789012' "
               "cannot be cast\n\tat org.apache.spark.Foo.bar(Foo.scala:1)\n")
    cause = gates._cause(message)
    assert cause.startswith("SparkNumberFormatException: [CAST_INVALID_INPUT] The value '<digits>'")
    assert "123456789012" not in cause and "\n" not in cause and len(cause) <= 200
    assert gates._raised({"raised_exception": False, "exception_message": None}) is None
    assert gates._raised({"metric a": {"raised_exception": True, "exception_message": message}}) == cause
