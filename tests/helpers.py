"""Small hand-made inputs for tests (written with pyarrow, read by the engine with Spark)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.tokens import check_digit

RES_COLS = ["individual_number", "name_kanji", "name_kana", "birth_date", "sex", "address",
            "municipality_code", "household_id", "status", "status_date"]
CAT_COLS = ["record_id", "individual_number", "name_kanji", "name_kana", "birth_date", "sex", "address",
            "active", "account_holder_kana", "account_key"]


def number(i: int) -> str:
    """A valid My Number built from an integer."""
    first = f"{i:011d}"
    return first + str(check_digit(first))


def _d(v):
    return dt.date.fromisoformat(v) if isinstance(v, str) else v


def write_residents(root: Path, rows: list[dict]) -> None:
    data = {c: [r.get(c) for r in rows] for c in RES_COLS}
    data["birth_date"] = [_d(v) for v in data["birth_date"]]
    data["status_date"] = [_d(v) for v in data["status_date"]]
    data["status"] = [v or "resident" for v in data["status"]]
    schema = pa.schema([(c, pa.date32() if c in ("birth_date", "status_date") else pa.string()) for c in RES_COLS])
    (root / "residents").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(data, schema=schema), root / "residents" / "part-0.parquet")


def write_category(root: Path, cid: str, rows: list[dict]) -> None:
    data = {c: [r.get(c) for r in rows] for c in CAT_COLS}
    data["birth_date"] = [_d(v) for v in data["birth_date"]]
    data["active"] = [True if v is None else v for v in data["active"]]
    types = {"birth_date": pa.date32(), "active": pa.bool_()}
    schema = pa.schema([(c, types.get(c, pa.string())) for c in CAT_COLS])
    (root / "categories" / cid).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(data, schema=schema), root / "categories" / cid / "part-0.parquet")


def record_from(res: dict, rid: str, **over) -> dict:
    """A category record copying a resident's basic items, with overrides."""
    rec = {"record_id": rid, "individual_number": res["individual_number"]}
    for c in ("name_kanji", "name_kana", "birth_date", "sex", "address"):
        rec[c] = res.get(c)
    rec.update(over)
    return rec


SMALL_REGISTER = [{"individual_number": number(i), "name_kanji": f"山田 太郎{i}", "name_kana": "ヤマダ タロウ",
                   "birth_date": "1970-04-01", "sex": "1", "address": "東京都千代田区丸の内1丁目2番3号",
                   "municipality_code": "131016", "household_id": f"H{i}"} for i in range(1, 4)]
"""Three residents: the register of the input-layout and hostile-input tests."""


def write_small_input(root: Path) -> Path:
    """A valid input folder: `SMALL_REGISTER` and one health_insurance record of its first resident."""
    write_residents(root, SMALL_REGISTER)
    write_category(root, "health_insurance", [record_from(SMALL_REGISTER[0], "HI01")])
    return root
