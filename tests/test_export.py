"""Per-holder review queues: only the holder's own records, ordered, evidence flattened,
Parquet plus CSV in UTF-8 with BOM or CP932."""

from __future__ import annotations

import csv
import io

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from jobs.errors import UsageError
from jobs.export import export_holder
from tests.test_report import suspect, write_run

# health_insurance, medical_expenses -> health_insurers; national_health_insurance -> municipalities;
# mynapoint -> internal_affairs.  The same record id exists in every category.
CATEGORIES = ["health_insurance", "medical_expenses", "national_health_insurance", "mynapoint"]


@pytest.fixture(scope="module")
def run_out(spark, cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "out"
    rows = []
    for c in CATEGORIES:
        rows += [
            suspect(cfg, "e1", c, "R-SHARED", "ATTRIBUTE_MISMATCH", score=0.2),
            suspect(cfg, "e1", c, f"{c}-low", "UNLINKED_RECORD", muni=None),
            suspect(cfg, "e1", c, f"{c}-high-a", "LINKED_TO_OTHER_PERSON", suggested=True, score=0.1),
            suspect(cfg, "e1", c, f"{c}-high-b", "RESIDENT_DECEASED", score=0.9, dup=["x", "y"]),
        ]
    # a record id CP932 cannot hold (𠮷), one it holds (髙) and a wave dash it maps (〜)
    rows.append(suspect(cfg, "e1", "health_insurance", "髙橋〜𠮷野", "AGE_INELIGIBLE"))
    write_run(spark, out, "e1", 0, rows, CATEGORIES)
    write_run(spark, out, "e2", 10, [], CATEGORIES, status="gate_failed", gate_failures=["x"])
    return {"out": out, "rows": rows}


def _others(rows, cats):
    return [r for r in rows if r["category"] not in cats]


def test_holder_export_holds_only_its_records(spark, cfg, run_out, tmp_path):
    res = export_holder(spark, cfg, str(run_out["out"]), "health_insurers", run_id="e1", dest=str(tmp_path))
    mine_cats = {"health_insurance", "medical_expenses", "specific_health_checkup"}
    assert set(res["categories"]) == mine_cats
    table = pq.read_table(res["parquet"]).to_pylist()
    expected = [r for r in run_out["rows"] if r["category"] in mine_cats]
    assert len(table) == res["rows"] == len(expected) == 9
    assert {(r["category"], r["record_id"]) for r in table} == {(r["category"], r["record_id"]) for r in expected}
    assert {r["holder_id"] for r in table} == {"health_insurers"}
    # the shared record id comes only from this holder's categories
    assert sorted(r["category"] for r in table if r["record_id"] == "R-SHARED") == ["health_insurance",
                                                                                    "medical_expenses"]
    # nothing of another holder anywhere in the files: no record ids, no tokens
    blobs = [open(res["parquet"], "rb").read(), open(res["csv"], "rb").read()]
    for other in _others(run_out["rows"], mine_cats):
        for value in (other["resident_token"], other["category"], f"{other['category']}-high-a"):
            for blob in blobs:
                assert value.encode() not in blob, value
    # the CSV holds the same rows, in the same order, UTF-8 with a BOM
    raw = open(res["csv"], "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf")
    csv_rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["category"], r["record_id"]) for r in csv_rows] == [(r["category"], r["record_id"]) for r in table]
    assert res["replaced_chars"] == 0 and "𠮷" in raw.decode("utf-8-sig")


def test_queue_order_and_flattened_evidence(spark, cfg, run_out, tmp_path):
    res = export_holder(spark, cfg, str(run_out["out"]), "health_insurers", "health_insurance", "e1",
                        dest=str(tmp_path))
    table = pq.read_table(res["parquet"]).to_pylist()
    assert {r["category"] for r in table} == {"health_insurance"} and len(table) == 5
    rank = {"high": 3, "medium": 2, "low": 1}
    keys = [(rank[r["severity"]], r["priority"]) for r in table]
    assert keys == sorted(keys, reverse=True)                     # severity, then priority descending
    assert table[0]["record_id"] == "health_insurance-high-a" and table[0]["severity"] == "high"
    first = table[0]
    assert first["reason_ja"] == "別人へのひも付け" and first["category_ja"] == "健康保険（被用者保険）"
    assert first["linked_birth_date"] == "different" and first["suggested_birth_date"] == "exact"
    assert first["prefecture"] == "東京都" and first["candidates"] == 1 and first["age"] == 44
    deceased = next(r for r in table if r["record_id"] == "health_insurance-high-b")
    assert deceased["duplicate_records"] == "x;y" and deceased["suggested_name_kanji"] is None
    assert not any(c.endswith("_weights") or c == "evidence" for c in table[0])


def test_cp932_replaces_and_counts(spark, cfg, run_out, tmp_path):
    res = export_holder(spark, cfg, str(run_out["out"]), "health_insurers", "health_insurance", "e1",
                        dest=str(tmp_path), encoding="cp932")
    assert res["encoding"] == "cp932" and res["replaced_chars"] == 1
    text = open(res["csv"], "rb").read().decode("cp932")          # the whole file is valid CP932
    assert "髙橋～?野" in text                                     # 髙 kept, 〜 mapped to ～, 𠮷 replaced
    assert "健康保険（被用者保険）" in text
    # the Parquet file keeps the record id as it is
    assert "髙橋〜𠮷野" in {r["record_id"] for r in pq.read_table(res["parquet"]).to_pylist()}


def test_export_refusals(spark, cfg, run_out):
    out = str(run_out["out"])
    with pytest.raises(UsageError, match="unknown holder"):
        export_holder(spark, cfg, out, "no_such_holder")
    with pytest.raises(UsageError, match="belongs to holder internal_affairs"):
        export_holder(spark, cfg, out, "health_insurers", "mynapoint")
    with pytest.raises(UsageError, match="not published"):
        export_holder(spark, cfg, out, "health_insurers", run_id="e2")
    with pytest.raises(UsageError, match="encoding"):
        export_holder(spark, cfg, out, "health_insurers", encoding="latin-1")


def test_export_command(spark, run_out):
    from jobs.cli import main

    out = run_out["out"]
    res = CliRunner().invoke(main, ["-q", "export", "--output", str(out), "--holder", "municipalities",
                                    "--encoding", "cp932"])
    assert res.exit_code == 0, res.output
    assert "run e1: 4 suspects of municipalities" in res.output
    table = pq.read_table(out / "exports" / "e1" / "municipalities.parquet").to_pylist()
    assert {r["category"] for r in table} == {"national_health_insurance"}
    assert (out / "exports" / "e1" / "municipalities.csv").is_file()
    res = CliRunner().invoke(main, ["-q", "export", "--output", str(out), "--holder", "nobody"])
    assert res.exit_code == 2 and "unknown holder" in res.output
