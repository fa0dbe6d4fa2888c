"""The FEBRL benchmark's recast (scripts/febrl.py), without Spark: layout, counts, numbers,
error shares and the answer key on FEBRL1 (and that FEBRL4 recasts)."""

import importlib.util
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.config import BASIC_FIELDS, load_config
from jobs.tokens import is_valid_number

_spec = importlib.util.spec_from_file_location("febrl", Path(__file__).resolve().parent.parent / "scripts" / "febrl.py")
febrl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(febrl)

RES_COLS = ["individual_number", "name_kanji", "name_kana", "birth_date", "sex", "address",
            "municipality_code", "household_id", "status", "status_date"]
CAT_COLS = ["record_id", "individual_number", "name_kanji", "name_kana", "birth_date", "sex", "address",
            "active", "account_holder_kana", "account_key"]
KEY_SCHEMA = pa.schema([("category", pa.string()), ("record_id", pa.string()), ("error_type", pa.string()),
                        ("noise", pa.list_(pa.string())), ("owner_number", pa.string())])


@pytest.fixture(scope="module")
def febrl1(tmp_path_factory):
    out = tmp_path_factory.mktemp("febrl1")
    meta = febrl.recast("febrl1", out, seed=1, error_rate=0.05, unlinked_rate=0.01)
    return out, meta


def _records(out: Path) -> dict[tuple[str, str], dict]:
    recs = {}
    for p in sorted((out / "categories").glob("*/part-0.parquet")):
        t = pq.read_table(p)
        assert t.column_names == CAT_COLS
        assert t.schema.field("birth_date").type == pa.date32()
        for r in t.to_pylist():
            recs[(p.parent.name, r["record_id"])] = r
    return recs


def test_layout_and_counts(febrl1):
    out, meta = febrl1
    rows, _ = febrl.load_set("febrl1")
    ids = [r["rec_id"] for r in rows]
    entities = {int(re.match(r"rec-(\d+)-", i).group(1)) for i in ids}
    assert (out / "residents" / "part-0.parquet").is_file()
    assert (out / "answer_key" / "part-0.parquet").is_file()
    res = pq.read_table(out / "residents")
    assert res.column_names == RES_COLS
    assert res.num_rows == len(entities) == meta["residents"] == 500
    assert len(set(res.column("household_id").to_pylist())) == res.num_rows
    assert set(res.column("status").to_pylist()) == {"resident"}
    assert all(m is None or re.fullmatch(r"[0-9]{6}", m) for m in res.column("municipality_code").to_pylist())
    recs = _records(out)
    assert len(recs) == len(ids) == meta["records"] == 1000       # 500 originals + 500 duplicates
    assert {rid for _, rid in recs} == set(ids)
    assert {c for c, _ in recs} <= set(febrl.CATEGORIES)
    assert all(r["active"] is True and r["account_key"] is None and r["account_holder_kana"] is None
               and r["name_kana"] is None and r["sex"] is None for r in recs.values())


def test_every_number_valid_and_distinct(febrl1):
    out, _ = febrl1
    nums = pq.read_table(out / "residents").column("individual_number").to_pylist()
    assert all(is_valid_number(n) for n in nums)
    assert len(set(nums)) == len(nums)
    linked = [r["individual_number"] for r in _records(out).values()]
    assert all(n is None or n in set(nums) for n in linked)
    key = pq.read_table(out / "answer_key").to_pylist()
    assert all(is_valid_number(k["owner_number"]) and k["owner_number"] in set(nums) for k in key)


def test_answer_key_matches_records_one_to_one(febrl1):
    out, meta = febrl1
    key = pq.read_table(out / "answer_key")
    assert key.schema == KEY_SCHEMA
    recs = _records(out)
    kd = {(k["category"], k["record_id"]): k for k in key.to_pylist()}
    assert len(kd) == key.num_rows == len(recs)
    assert set(kd) == set(recs)
    n = len(recs)
    counts = {}
    for ck, k in kd.items():
        r = recs[ck]
        counts[k["error_type"]] = counts.get(k["error_type"], 0) + 1
        if k["error_type"] is None:
            assert r["individual_number"] == k["owner_number"]
        elif k["error_type"] == "wrong_random":
            assert r["individual_number"] is not None and r["individual_number"] != k["owner_number"]
        else:
            assert k["error_type"] == "unlinked" and r["individual_number"] is None
        if ck[1].endswith("-org"):
            assert k["noise"] == []
        assert set(k["noise"]) <= {"name_kanji", "birth_date", "address"}
    assert abs(counts["wrong_random"] / n - 0.05) <= 0.005
    assert abs(counts["unlinked"] / n - 0.01) <= 0.005
    assert counts[None] == n - counts["wrong_random"] - counts["unlinked"]
    assert meta["errors"] == {"wrong_random": counts["wrong_random"], "unlinked": counts["unlinked"]}
    # FEBRL's duplicates are corrupted: most carry noise, and each kind occurs
    dups = [k for ck, k in kd.items() if "-dup-" in ck[1]]
    assert sum(1 for k in dups if k["noise"]) > 0.9 * len(dups)
    assert {x for k in dups for x in k["noise"]} == {"name_kanji", "birth_date", "address"}


def test_one_person_per_category_and_no_duplicate_wrong_links(febrl1):
    out, _ = febrl1
    key = pq.read_table(out / "answer_key").to_pylist()
    owners = [(k["category"], k["owner_number"]) for k in key]
    assert len(set(owners)) == len(owners)           # no person twice in one category
    one_active = {c for c, s in load_config(out / "febrl.yaml")["categories"].items() if s.get("one_active")}
    linked = [(c, r["individual_number"]) for (c, _), r in _records(out).items()
              if c in one_active and r["individual_number"]]
    assert len(set(linked)) == len(linked)


def test_fields_follow_the_org_row(febrl1):
    out, _ = febrl1
    rows, _ = febrl.load_set("febrl1")
    org = next(r for r in rows if r["rec_id"] == "rec-122-org")   # lachlan berry, 19990219
    num = febrl.person_number(122, 1)
    res = {r["individual_number"]: r for r in pq.read_table(out / "residents").to_pylist()}[num]
    assert res["name_kanji"] == "BERRY LACHLAN"
    assert str(res["birth_date"]) == "1999-02-19"
    assert res["address"] == " ".join(org[p] for p in febrl.ADDRESS_PARTS if org[p])
    assert febrl.birth_date_of({"date_of_birth": "19651310"}) is None
    assert febrl.birth_date_of({"date_of_birth": None}) is None
    assert febrl.name_of({"surname": "waller", "given_name": None}) == "WALLER"


def test_config_changes_only_the_field_lists(febrl1):
    out, _ = febrl1
    base, cfg = load_config(), load_config(out / "febrl.yaml")
    assert set(cfg["categories"]) == set(base["categories"])
    for cid, spec in cfg["categories"].items():
        assert spec["fields"] == ["name_kanji", "birth_date", "address"]
        assert set(spec["fields"]) <= set(BASIC_FIELDS)
        assert {k: v for k, v in spec.items() if k != "fields"} == \
            {k: v for k, v in base["categories"][cid].items() if k != "fields"}
    for k in ("spark", "run", "thresholds", "blocking", "tokens"):
        assert cfg[k] == base[k]


def test_deterministic_and_no_originals(febrl1, tmp_path):
    out, _ = febrl1
    again = tmp_path / "again"
    febrl.recast("febrl1", again, seed=1)
    assert pq.read_table(again / "answer_key").equals(pq.read_table(out / "answer_key"))
    assert pq.read_table(again / "residents").equals(pq.read_table(out / "residents"))
    dups = tmp_path / "dups"
    meta = febrl.recast("febrl1", dups, seed=1, originals=False)
    assert meta["records"] == 500 and meta["residents"] == 500
    assert all("-dup-" in rid for _, rid in _records(dups))
    other = febrl.recast("febrl1", tmp_path / "seed2", seed=2)
    assert other["records"] == 1000
    assert febrl.person_number(5, 2) != febrl.person_number(5, 1)


def test_febrl4_recasts_a_as_register_and_b_as_records(tmp_path):
    meta = febrl.recast("febrl4", tmp_path, seed=1)
    assert meta["residents"] == 5000 and meta["records"] == 5000
    recs = _records(tmp_path)
    assert all("-dup-" in rid for _, rid in recs)
