"""Layout errors: one line on stderr and exit status 2, through the command line (issue 4).

Each case is a tiny hand-made input; the CLI runs in-process (click's CliRunner) and
reuses the session-scoped Spark session.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from jobs.cli import main
from tests.helpers import (CAT_COLS, SMALL_REGISTER, number, record_from, write_category, write_residents,
                           write_small_input)

RES = SMALL_REGISTER
_good = write_small_input


def missing_input(root: Path) -> Path:
    return root / "does-not-exist"


def unknown_category(root: Path) -> Path:
    _good(root)
    write_category(root, "not_a_category", [record_from(RES[0], "X1")])
    return root


def empty_category(root: Path) -> Path:
    _good(root)
    write_category(root, "national_tax", [])
    return root


def empty_category_folder(root: Path) -> Path:
    _good(root)
    (root / "categories" / "national_tax").mkdir(parents=True)
    return root


def missing_column(root: Path) -> Path:
    _good(root)
    cols = [c for c in CAT_COLS if c != "record_id"]
    folder = root / "categories" / "national_tax"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({c: pa.array(["x"], pa.string()) for c in cols}), folder / "part-0.parquet")
    return root


def corrupt_file(root: Path) -> Path:
    _good(root)
    folder = root / "categories" / "national_tax"
    folder.mkdir(parents=True)
    (folder / "part-0.parquet").write_bytes(b"PAR1 this is not a parquet file at all PAR1")
    return root


def wrong_encoding(root: Path) -> Path:
    """A CP932 CSV while the configuration says UTF-8."""
    _good(root)
    folder = root / "categories" / "national_tax"
    folder.mkdir(parents=True)
    text = "record_id,individual_number,name_kanji\nNT01," + number(1) + ",山田 太郎\n"
    (folder / "part-0.csv").write_bytes(text.encode("cp932"))
    return root


CASES = {
    missing_input: "input folder not found",
    unknown_category: "not configured in categories.yaml: not_a_category",
    empty_category: "with no rows: national_tax",
    empty_category_folder: "is empty",
    missing_column: "categories/national_tax: missing required column(s) record_id",
    corrupt_file: "cannot read",
    wrong_encoding: "is not valid UTF-8",
}


@pytest.mark.parametrize("make", list(CASES), ids=[f.__name__ for f in CASES])
def test_layout_error_is_exit_2_with_one_line(make, tmp_path, spark):
    inp = make(tmp_path / "in")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["-q", "reconcile", "--input", str(inp), "--output", str(out)])
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("tenken: error: "), res.stderr
    assert CASES[make] in lines[0]
    # nothing was published
    assert not (out / "suspects").exists() and not (out / "runs").exists()


def _rows(df):
    return sorted(tuple("\0" if v is None else v for v in r) for r in df.select(sorted(df.columns)).collect())


def _per_folder(spark, cfg, root: Path, present: list[str]):
    from functools import reduce

    from pyspark.sql import functions as F

    from jobs.io import conform, read_folder
    parts = [conform(read_folder(spark, root / "categories" / c, cfg), "category", c).withColumn("category", F.lit(c))
             for c in present]
    return reduce(lambda a, b: a.unionByName(b), parts)


def _scans(df) -> int:
    return df._jdf.queryExecution().executedPlan().toString().count("FileScan")


def test_categories_are_read_in_one_scan_with_their_folder_as_category(tmp_path, spark, cfg):
    """Parquet folders (one lacking two columns, one with upper-case names) are one scan whose
    rows equal the per-folder union; CSV folders with one header too."""
    from jobs.io import read_inputs
    root = _good(tmp_path / "pq")
    folder = root / "categories" / "national_tax"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"RECORD_ID": ["NT01", "NT02"], "individual_number": [number(2), None],
                             "name_kanji": ["山田 太郎2", None]}), folder / "part-0.parquet")
    _, records, present = read_inputs(spark, str(root), cfg)
    assert _scans(records) == 1
    assert _rows(records) == _rows(_per_folder(spark, cfg, root, present))
    assert {r["category"]: r["n"] for r in records.groupBy("category").count().withColumnRenamed("count", "n")
            .collect()} == {"health_insurance": 1, "national_tax": 2}

    csv = tmp_path / "csv"
    write_residents(csv, RES)
    for cid, rid in (("health_insurance", "HI01"), ("national_tax", "NT01")):
        (csv / "categories" / cid).mkdir(parents=True)
        (csv / "categories" / cid / "part-0.csv").write_text(
            f"record_id,individual_number,name_kanji\n{rid},{number(1)},山田 太郎1\n", encoding="utf-8")
    _, records, present = read_inputs(spark, str(csv), cfg)
    assert _scans(records) == 1
    assert _rows(records) == _rows(_per_folder(spark, cfg, csv, present))
    assert sorted(r["category"] for r in records.collect()) == ["health_insurance", "national_tax"]


def test_categories_with_differing_layouts_are_read_one_by_one(tmp_path, spark, cfg):
    """A column typed differently in two folders, or CSV headers in another order: one scan
    per folder, same rows."""
    from jobs.io import read_inputs
    root = _good(tmp_path / "pq")
    folder = root / "categories" / "national_tax"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"record_id": ["NT01"], "individual_number": [number(2)],
                             "birth_date": ["1970-04-01"]}), folder / "part-0.parquet")   # text, not date
    _, records, present = read_inputs(spark, str(root), cfg)
    assert _scans(records) == 2
    assert _rows(records) == _rows(_per_folder(spark, cfg, root, present))

    csv = tmp_path / "csv"
    write_residents(csv, RES)
    for cid, header, row in (("health_insurance", "record_id,individual_number", f"HI01,{number(1)}"),
                             ("national_tax", "individual_number,record_id", f"{number(2)},NT01")):
        (csv / "categories" / cid).mkdir(parents=True)
        (csv / "categories" / cid / "part-0.csv").write_text(f"{header}\n{row}\n", encoding="utf-8")
    _, records, present = read_inputs(spark, str(csv), cfg)
    assert _scans(records) == 2
    assert {r["record_id"] for r in records.collect()} == {"HI01", "NT01"}


def test_cp932_csv_is_read(tmp_path, spark, cfg):
    """input.csv_encoding CP932 (the configured Spark allows the JVM's charsets again)."""
    from jobs.io import read_inputs
    root = tmp_path / "in"
    write_residents(root, RES)
    (root / "categories" / "national_tax").mkdir(parents=True)
    (root / "categories" / "national_tax" / "part-0.csv").write_bytes(
        f"record_id,individual_number,name_kanji\nNT01,{number(1)},髙橋 太郎\n".encode("cp932"))
    _, records, _ = read_inputs(spark, str(root), {**cfg, "input": {"csv_encoding": "CP932"}})
    assert [(r["record_id"], r["name_kanji"]) for r in records.collect()] == [("NT01", "髙橋 太郎")]


@pytest.mark.parametrize("text, expected", [
    ("6g", 6 << 30), ("2G", 2 << 30), (" 1536m ", 1536 << 20), ("512k", 512 << 10), ("1024", 1024 << 20),
    ("2gb", 2 << 30), ("100b", 100), ("1p", 1 << 50), (4096, 4096 << 20), (None, None), ("", None),
])
def test_memory_sizes_are_read_as_spark_reads_them(text, expected):
    from jobs.config import parse_size
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["2gigs", "1.5g", "-1g", "g", "6 g", "6gbb"])
def test_a_size_spark_refuses_is_refused(text):
    from jobs.config import parse_size
    from jobs.errors import UsageError
    with pytest.raises(UsageError, match="is not a size Spark reads"):
        parse_size(text, "spark.driver_memory")


@pytest.mark.parametrize("setting", [
    "spark:\n  driver_memory_overhead: 2gigs\n",
    "spark:\n  driver_memory: 1.5g\n",
    "spark:\n  conf:\n    spark.executor.memory: lots\n",
])
def test_malformed_memory_setting_is_exit_2_before_any_run(setting, tmp_path, spark):
    inp = _good(tmp_path / "in")
    out = tmp_path / "out"
    conf = tmp_path / "bad.yaml"
    conf.write_text(setting, encoding="utf-8")
    res = CliRunner().invoke(main, ["-q", "reconcile", "--input", str(inp), "--output", str(out),
                                    "--conf", str(conf)])
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "is not a size Spark reads" in lines[0], res.stderr
    assert not out.exists()
