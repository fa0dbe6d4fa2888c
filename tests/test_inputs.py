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
from tests.helpers import CAT_COLS, number, record_from, write_category, write_residents

RES = [{"individual_number": number(i), "name_kanji": f"山田 太郎{i}", "name_kana": "ヤマダ タロウ",
        "birth_date": "1970-04-01", "sex": "1", "address": "東京都千代田区丸の内1丁目2番3号",
        "municipality_code": "131016", "household_id": f"H{i}"} for i in range(1, 4)]


def _good(root: Path) -> Path:
    write_residents(root, RES)
    write_category(root, "health_insurance", [record_from(RES[0], "HI01")])
    return root


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
