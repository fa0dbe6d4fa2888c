"""The sample data generator (jobs/generate.py): layout, numbers, households, errors, noise.

No Spark: the files are read back with pyarrow / pandas."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from jobs.config import load_config
from jobs.errors import UsageError
from jobs.generate import (
    CATEGORY_COLUMNS,
    DATA_DIR,
    DEFAULT_RATES,
    ERROR_TYPES,
    RELATED_TYPES,
    IDENTITY_NOISE,
    NOISE_KINDS,
    RESIDENT_COLUMNS,
    _build_population,
    bank_kana,
    check_digit,
    format_address,
    generate,
    is_valid_number,
    kanji_numeral,
    normalized_name,
)

REF = dt.date(2025, 6, 1)
SEED = 11
N = 3000
CATS = load_config()["categories"]
SPLIT = re.compile(r"[ \u3000]+")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "sample"
    summary = generate(str(out), N, SEED, reference_date=REF)
    return out, summary


@pytest.fixture(scope="module")
def frames(sample):
    out, _ = sample
    res = pq.read_table(out / "residents").to_pandas()
    key = pq.read_table(out / "answer_key").to_pandas()
    cats = {}
    for cid in CATS:
        t = pq.read_table(out / "categories" / cid).to_pandas()
        k = key[key.category == cid].drop(columns="category")
        cats[cid] = t.merge(k, on="record_id", how="left", validate="one_to_one")
    return res, key, cats


def _age(birth: pd.Series, when: dt.date) -> pd.Series:
    b = pd.to_datetime(birth)
    before = (b.dt.month > when.month) | ((b.dt.month == when.month) & (b.dt.day > when.day))
    return when.year - b.dt.year - before.astype(int)


# --------------------------------------------------------------------------- check digits


def test_check_digit_known_values():
    assert check_digit("12345678901") == "8"
    assert is_valid_number("123456789018")
    assert not is_valid_number("123456789012")
    for bad in (None, 123456789018, "12345678901", "1234567890188", "１２３４５６７８９０１８", "12345678901a"):
        assert not is_valid_number(bad)
    with pytest.raises(ValueError):
        check_digit("1234")


def test_check_digit_remainder_zero_and_one_give_zero():
    weights = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    seen = set()
    for i in range(2000):
        body = f"{i * 7919:011d}"
        rem = sum(int(c) * w for c, w in zip(body, weights)) % 11
        expect = "0" if rem <= 1 else str(11 - rem)
        assert check_digit(body) == expect
        seen.add(rem)
    assert {0, 1} <= seen


# --------------------------------------------------------------------------- helpers


def test_text_helpers():
    assert bank_kana("ジョウ\u3000タロウ") == "ｼﾞﾖｳ ﾀﾛｳ"
    assert bank_kana("スミス メアリー") == "ｽﾐｽ ﾒｱﾘ"
    assert bank_kana("パク  ミンジ") == "ﾊﾟｸ ﾐﾝｼﾞ"
    assert bank_kana(None, "smith john") == "SMITH JOHN"
    assert kanji_numeral(1) == "一" and kanji_numeral(23) == "二十三" and kanji_numeral(1234) == "千二百三十四"
    a = format_address("東京都", "千代田区", "丸の内", False, 1, 2, 3, "", "std")
    assert a == "東京都千代田区丸の内1丁目2番3号"
    assert format_address("東京都", "千代田区", "丸の内", False, 1, 2, 3, "", "hyphen", False) == "千代田区丸の内1-2-3"
    assert format_address("東京都", "千代田区", "丸の内", False, 1, 2, 3, "", "fullwidth").endswith("１－２－３")
    assert format_address("東京都", "千代田区", "丸の内", False, 1, 2, 3, "", "kanji").endswith("一丁目二番三号")
    assert format_address("長野県", "松本市", "大字島内", True, 0, 1234, 5, "", "std").endswith("1234番地5")
    assert normalized_name("髙橋\u3000一郎") == normalized_name("高橋 一郎") == "高橋一郎"
    assert normalized_name("渡邊 太郎") == normalized_name("渡辺太郎")


def test_data_tables_are_small_and_well_formed():
    data = DATA_DIR
    assert sum(p.stat().st_size for p in data.iterdir()) < 2_000_000
    munis = [line.split("\t") for line in (data / "municipalities.tsv").read_text("utf-8").splitlines()
             if line and not line.startswith("#")]
    assert len(munis) >= 30
    for code, *_ in munis:
        assert len(code) == 6 and code.isdigit()
        rem = sum(int(c) * w for c, w in zip(code[:5], (6, 5, 4, 3, 2))) % 11
        assert int(code[5]) == (11 - rem) % 10, code
    given = [line.split("\t") for line in (data / "given_names.tsv").read_text("utf-8").splitlines()
             if line and not line.startswith("#")]
    groups = {}
    for kanji, reading, sex, _w, _era in given:
        groups.setdefault((reading, sex), set()).add(kanji)
    assert sum(len(v) >= 2 for v in groups.values()) >= 40       # for kanji_same_reading
    assert {"陽子", "洋子"} <= groups[("ヨウコ", "2")]


# --------------------------------------------------------------------------- layout


def test_layout_and_types(sample):
    out, summary = sample
    res = pq.read_table(out / "residents")
    assert res.column_names == list(RESIDENT_COLUMNS)
    types = dict(zip(res.column_names, res.schema.types))
    assert types["birth_date"] == pa.date32() and types["status_date"] == pa.date32()
    assert all(t == pa.string() for c, t in types.items() if c not in ("birth_date", "status_date"))
    assert res.num_rows == N
    assert sorted(p.name for p in (out / "categories").iterdir()) == sorted(CATS)
    for cid, spec in CATS.items():
        files = list((out / "categories" / cid).iterdir())
        assert [f.name for f in files] == ["part-0.parquet"]
        t = pq.read_table(files[0])
        cols = list(CATEGORY_COLUMNS) + (["account_holder_kana", "account_key"]
                                         if cid == "public_benefit_account" else [])
        assert t.column_names == cols, cid
        for c, typ in zip(t.column_names, t.schema.types):
            want = pa.date32() if c == "birth_date" else pa.bool_() if c == "active" else pa.string()
            assert typ == want, (cid, c)
        assert t.num_rows > 0, cid
        assert summary["categories"][cid] == t.num_rows
        df = t.to_pandas()
        assert df.record_id.is_unique
        for f in ("name_kanji", "name_kana", "birth_date", "sex", "address"):
            if f in spec["fields"]:
                assert df[f].notna().any(), (cid, f)
            else:
                assert df[f].isna().all(), (cid, f)
    key = pq.read_table(out / "answer_key")
    assert key.column_names == ["category", "record_id", "error_type", "noise", "owner_number"]
    assert key.schema.field("noise").type == pa.list_(pa.string())
    assert key.num_rows == sum(summary["categories"].values()) == summary["records"]
    meta = json.loads((out / "meta.json").read_text("utf-8"))
    assert meta["seed"] == SEED and meta["residents"] == N and meta["reference_date"] == REF.isoformat()
    assert meta["rates"]["noise"] == DEFAULT_RATES["noise"]
    assert meta["counts"]["records"] == summary["records"]


def test_answer_key_matches_records(frames):
    _, key, cats = frames
    assert not key.duplicated(["category", "record_id"]).any()
    assert set(key.error_type.dropna()) <= set(ERROR_TYPES) | set(RELATED_TYPES)
    # every duplicate has its original marked, in the same category
    dup = key[key.error_type == "duplicate_record"].groupby("category").size()
    orig = key[key.error_type == "duplicate_original"].groupby("category").size()
    assert dup.to_dict() == orig.to_dict() and len(dup) > 0
    for cid, df in cats.items():
        assert df.noise.notna().all(), cid            # every record has its answer-key row
        assert df.record_id.str.fullmatch(r"[A-Z]{2}\d{8,10}").all(), cid


# --------------------------------------------------------------------------- register


def test_numbers_valid_unique(frames):
    res, _, _ = frames
    nums = res.individual_number
    assert nums.is_unique
    assert nums.str.fullmatch(r"\d{12}").all()
    assert all(is_valid_number(x) for x in nums)


def test_register_shape(frames):
    res, _, _ = frames
    assert set(res.status) == {"resident", "deceased", "removed"}
    share = res.status.value_counts(normalize=True)
    assert 0.005 < share["deceased"] < 0.02 and 0.002 < share["removed"] < 0.01
    assert res.status_date.isna().eq(res.status == "resident").all()
    dead = res[res.status != "resident"]
    assert (pd.to_datetime(dead.status_date) > pd.to_datetime(dead.birth_date)).all()
    assert (pd.to_datetime(dead.status_date) <= pd.Timestamp(REF)).all()
    assert 0.12 < res.name_kana.isna().mean() < 0.2
    assert set(res.sex) <= {"1", "2", ""}
    assert res.municipality_code.str.fullmatch(r"\d{6}").all()
    alpha = res.name_kanji.str.fullmatch(r"[A-Z' ]+")
    assert 0.01 < alpha.mean() < 0.03                          # foreign residents
    assert (res[alpha].name_kanji.str.count(" ") >= 2).any()   # some middle names
    assert (res.sex[alpha] == "").any() and (res.sex[~alpha] != "").all()
    spaces = res.name_kanji[~alpha]
    assert spaces.str.contains(" ").any() and spaces.str.contains("\u3000").any()
    ages = _age(res.birth_date, REF)
    assert 0.08 < (ages < 15).mean() < 0.18 and 0.22 < (ages >= 65).mean() < 0.36
    assert 0.3 < ((ages >= 40) & (ages <= 75)).mean() < 0.6
    # old / variant kanji forms in the register
    assert res.name_kanji.str.contains("[髙﨑邊邉齋齊濵德澤嶋櫻]").any()


def test_households_consistent(frames):
    res, _, _ = frames
    r = res.assign(age=_age(res.birth_date, REF), family=res.name_kanji.str.split(SPLIT).str[0])
    g = r.groupby("household_id")
    assert (g.address.nunique() == 1).all() and (g.municipality_code.nunique() == 1).all()
    assert 1.9 < len(r) / g.ngroups < 2.7
    minors = r[r.age < 18]
    assert len(minors) > 0
    ok = 0
    for _, m in minors.iterrows():
        hh = r[(r.household_id == m.household_id) & (r.index != m.name)]
        parents = hh[(hh.family == m.family) & (hh.age - m.age >= 19) & (hh.age - m.age <= 46)]
        ok += len(parents) > 0
    assert ok == len(minors)
    jp = r[~r.name_kanji.str.fullmatch(r"[A-Z' ]+")]
    given = jp.name_kanji.str.split(SPLIT).str[-1]
    assert not jp.assign(g=given).duplicated(["household_id", "g"]).any()
    kana = jp.name_kana.dropna().str.split(SPLIT).str[-1]
    assert not jp.loc[kana.index].assign(k=kana).duplicated(["household_id", "k"]).any()


def test_parent_child_gaps_and_twins():
    pop = _build_population(4000, 40, 3, DEFAULT_RATES, REF)
    kids = np.nonzero(pop.parent >= 0)[0]
    for parent in (pop.parent[kids], np.where(pop.spouse[pop.parent[kids]] >= 0, pop.spouse[pop.parent[kids]], -1)):
        sel = parent >= 0
        gap = (pop.birth[kids[sel]] - pop.birth[parent[sel]]) / 365.2425
        assert gap.min() >= 20 and gap.max() <= 45
        assert (pop.hh[kids[sel]] == pop.hh[parent[sel]]).all()
    tw = np.nonzero(pop.twin >= 0)[0]
    assert len(tw) > 0
    assert (pop.birth[tw] == pop.birth[pop.twin[tw]]).all()
    assert (pop.hh[tw] == pop.hh[pop.twin[tw]]).all()
    assert (pop.giv_k[tw] != pop.giv_k[pop.twin[tw]]).all()


def test_same_name_residents(frames):
    res, _, _ = frames
    key = res.name_kanji.map(normalized_name)
    counts = key.value_counts()
    assert (counts >= 2).sum() >= 20                                  # 同姓同名
    both = (key + "|" + res.birth_date.astype(str)).value_counts()
    pairs = both[both >= 2].index
    assert len(pairs) >= 1                                            # same name and birth date
    for p in pairs:
        rows = res[(key + "|" + res.birth_date.astype(str)) == p]
        assert rows.household_id.nunique() == len(rows)


# --------------------------------------------------------------------------- records


def test_correct_records(frames):
    res, _, cats = frames
    reg = res.set_index("individual_number")
    for cid, spec in CATS.items():
        df = cats[cid]
        ok = df[df.error_type.isna()]
        assert (ok.individual_number == ok.owner_number).all(), cid
        owner = reg.loc[ok.owner_number]
        assert not (ok.active.values & (owner.status.values != "resident")).any(), cid
        # the owner is eligible now and 10 days either side
        lo, hi = spec.get("min_age"), spec.get("max_age")
        for delta in (-10, 0, 10):
            age = _age(pd.Series(owner.birth_date.values), REF + dt.timedelta(days=delta))
            if lo is not None:
                assert (age >= lo).all(), cid
            if hi is not None:
                assert (age <= hi).all(), cid
        # without noise the holder's copy is the register's (kana: the person's reading)
        clean = ok[ok.noise.map(len) == 0]
        o = reg.loc[clean.owner_number]
        for f in ("name_kanji", "birth_date", "sex", "address"):
            if f in spec["fields"]:
                assert (clean[f].values == o[f].values).all(), (cid, f)
        if "name_kana" in spec["fields"]:
            has = o.name_kana.notna().values
            assert (clean.name_kana.values[has] == o.name_kana.values[has]).all(), cid
        # one active record per person where only one is allowed
        if spec.get("one_active"):
            act = df[df.active & df.individual_number.notna()]
            for _, grp in act[act.individual_number.duplicated(keep=False)].groupby("individual_number"):
                assert "duplicate_record" in set(grp.error_type.dropna()), cid


def test_error_semantics(frames):
    res, _, cats = frames
    reg = res.set_index("individual_number")
    nums = set(res.individual_number)
    for cid, spec in CATS.items():
        df = cats[cid]
        err = df[df.error_type.notna()]
        assert err.active.all(), cid
        for etype, g in err.groupby("error_type"):
            linked, owner = g.individual_number, g.owner_number
            if etype in ("wrong_random", "same_name_person", "household_member"):
                assert (linked != owner).all() and linked.isin(nums).all() and owner.isin(nums).all()
                a, b = reg.loc[linked], reg.loc[owner]
                if etype == "same_name_person":
                    assert (a.name_kanji.map(normalized_name).values == b.name_kanji.map(normalized_name).values).all()
                    assert (a.household_id.values != b.household_id.values).all()
                elif etype == "household_member":
                    assert (a.household_id.values == b.household_id.values).all()
                else:
                    assert (a.household_id.values != b.household_id.values).all()
            elif etype == "digit_typo":
                assert all(sum(x != y for x, y in zip(a, b)) == 1 for a, b in zip(linked, owner))
            elif etype == "unknown_number":
                assert all(is_valid_number(x) for x in linked) and not linked.isin(nums).any()
                assert owner.isin(nums).all()
            elif etype in ("deceased_active", "removed_active"):
                assert (linked == owner).all()
                want = "deceased" if etype == "deceased_active" else "removed"
                assert (reg.loc[owner].status == want).all()
            elif etype == "duplicate_record":
                assert spec.get("one_active")
                for num in linked:
                    assert (df.active & (df.individual_number == num)).sum() >= 2
            elif etype == "parent_account":
                assert cid == "public_benefit_account" and (linked == owner).all()
                assert (_age(reg.loc[owner].birth_date, REF) < 18).all()
                for _, row in g.iterrows():
                    # a parent's account (the parent has no record here, so the key is unique)
                    assert df.account_key.eq(row.account_key).sum() == 1
                    me = reg.loc[row.owner_number]
                    hh = reg[(reg.household_id == me.household_id) & (reg.index != row.owner_number)]
                    adults = hh[_age(hh.birth_date, REF) >= 18]
                    assert len(adults)
                    if isinstance(me.name_kana, str):     # given names differ within a household
                        assert row.account_holder_kana != bank_kana(me.name_kana)
                    known = adults.name_kana.dropna().map(bank_kana)
                    if len(known) == len(adults):
                        assert row.account_holder_kana in set(known)
            elif etype == "shared_account":
                assert cid == "public_benefit_account" and (linked == owner).all()
                assert (df.account_key.value_counts()[g.account_key] >= 2).all()
                assert (_age(reg.loc[owner].birth_date, REF) >= 20).all()
            elif etype == "unlinked":
                assert linked.isna().all() and owner.isin(nums).all()
            elif etype == "age_ineligible":
                assert (linked == owner).all()
                age = _age(reg.loc[owner].birth_date, REF)
                lo, hi = spec.get("min_age"), spec.get("max_age")
                assert lo is not None or hi is not None
                outside = pd.Series(False, index=age.index)
                if lo is not None:
                    outside |= age < lo
                if hi is not None:
                    outside |= age > hi
                assert outside.all(), cid
            elif etype == "owner_not_in_register":
                assert owner.isna().all() and linked.isin(nums).all()


def test_error_counts_plausible(sample):
    _, summary = sample
    errors, total = summary["errors"], summary["records"]
    share = sum(errors.values()) / total
    assert 0.01 < share < 0.022
    for etype in ("wrong_random", "household_member", "digit_typo", "unlinked"):
        expect = DEFAULT_RATES[etype] * total
        assert 0.4 * expect < errors[etype] < 2.0 * expect, etype


def test_every_error_type_present(tmp_path):
    rates = {e: DEFAULT_RATES[e] * 5 for e in ERROR_TYPES}
    rates |= {"shared_account": 0.03, "parent_account": 0.03}   # account category only
    s = generate(str(tmp_path / "x"), 3000, 5, rates=rates, reference_date=REF)
    missing = [e for e in ERROR_TYPES if s["errors"][e] == 0]
    assert not missing
    assert 0.05 < s["error_records"] / s["records"] < 0.1


def test_account_category(frames):
    res, _, cats = frames
    df = cats["public_benefit_account"]
    assert df.account_key.str.fullmatch(r"\d{4}-\d{3}-[124]-\d{7}").all()
    assert df.account_holder_kana.notna().all()
    half = df.account_holder_kana.str.fullmatch(r"[\uff66-\uff9f A-Z']+")
    assert half.all()
    assert not df.account_holder_kana.str.contains("[ｧｨｩｪｫｯｬｭｮｰ]").any()
    ok = df[df.error_type.isna()]
    assert ok.account_key.is_unique


# --------------------------------------------------------------------------- noise


def test_noise(frames):
    res, key, cats = frames
    reg = res.set_index("individual_number")
    noisy = key.noise.map(len) > 0
    assert 0.15 < noisy.mean() < 0.25
    flat = [k for ks in key.noise for k in ks]
    assert set(flat) <= set(NOISE_KINDS)
    for kind in NOISE_KINDS:
        assert kind in flat, kind
    ident = key.noise.map(lambda ks: sum(k in IDENTITY_NOISE for k in ks))
    assert ident.max() <= 1
    wrong = key.error_type.isin(["wrong_random", "same_name_person", "household_member", "owner_not_in_register"])
    assert (ident[wrong] == 0).all()
    rows = pd.concat([df.assign(category=c) for c, df in cats.items()])
    rows = rows[rows.owner_number.notna()]
    o = reg.loc[rows.owner_number]
    rows = rows.assign(reg_name=o.name_kanji.values, reg_birth=o.birth_date.values, reg_addr=o.address.values)
    has = rows.noise.map(set)

    sub = rows[has.map(lambda s: "day_month_swap" in s) & rows.birth_date.notna()]
    assert len(sub) and all(a.month == b.day and a.day == b.month for a, b in zip(sub.birth_date, sub.reg_birth))
    sub = rows[has.map(lambda s: "era_year" in s) & rows.birth_date.notna()]
    assert len(sub) and all(a.year != b.year and (a.month, a.day) == (b.month, b.day)
                            for a, b in zip(sub.birth_date, sub.reg_birth))
    sub = rows[has.map(lambda s: "maiden_name" in s) & rows.name_kanji.notna()]
    assert len(sub)
    for a, b in zip(sub.name_kanji, sub.reg_name):
        given = normalized_name(SPLIT.split(b.strip())[-1])
        assert normalized_name(a) != normalized_name(b) and normalized_name(a).endswith(given)
    sub = rows[has.map(lambda s: "old_address" in s) & rows.address.notna()]
    assert len(sub) and (sub.address != sub.reg_addr).all()
    sub = rows[has.map(lambda s: "hiragana" in s) & rows.name_kana.notna()]
    assert len(sub) and sub.name_kana.str.contains("[ぁ-ゖ]").all()
    sub = rows[has.map(lambda s: s == {"variant_kanji"})]
    assert len(sub) and (sub.name_kanji.map(normalized_name) == sub.reg_name.map(normalized_name)).all()
    sub = rows[has.map(lambda s: s == {"address_notation"})]
    assert len(sub) and (sub.address != sub.reg_addr).all()
    sub = rows[has.map(lambda s: "missing_field" in s)]
    assert len(sub)
    rare = pd.Series(flat).value_counts() / len(key)
    for kind in ("maiden_name", "era_year", "day_month_swap"):
        assert 0.0005 < rare[kind] < 0.015, kind


# --------------------------------------------------------------------------- determinism, formats


def _tables(root: Path) -> dict[str, pa.Table]:
    out = {"residents": pq.read_table(root / "residents"), "answer_key": pq.read_table(root / "answer_key")}
    for p in sorted((root / "categories").iterdir()):
        out[p.name] = pq.read_table(p)
    return out


def test_deterministic_per_seed(tmp_path):
    a = generate(str(tmp_path / "a"), 400, 42, reference_date=REF)
    b = generate(str(tmp_path / "b"), 400, 42, reference_date=REF)
    c = generate(str(tmp_path / "c"), 400, 43, reference_date=REF)
    ta, tb, tc = _tables(tmp_path / "a"), _tables(tmp_path / "b"), _tables(tmp_path / "c")
    assert ta.keys() == tb.keys()
    for k in ta:
        assert ta[k].equals(tb[k]), k
    assert not ta["residents"].equals(tc["residents"])
    assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    assert a["records"] != c["records"] or a["errors"] != c["errors"]
    # a subset of the categories gives the same records for those categories
    generate(str(tmp_path / "d"), 400, 42, reference_date=REF, categories=["public_pension", "vaccination"])
    td = _tables(tmp_path / "d")
    assert sorted(k for k in td if k not in ("residents", "answer_key")) == ["public_pension", "vaccination"]
    assert td["residents"].equals(ta["residents"])
    assert td["public_pension"].equals(ta["public_pension"])
    assert td["vaccination"].equals(ta["vaccination"])


@pytest.mark.parametrize("encoding", ["UTF-8", "CP932"])
def test_csv_round_trip(tmp_path, encoding):
    generate(str(tmp_path / "p"), 600, 9, reference_date=REF)
    generate(str(tmp_path / "c"), 600, 9, fmt="csv", encoding=encoding, reference_date=REF)
    codec = "cp932" if encoding == "CP932" else "utf-8"
    for sub in ["residents", "categories/public_benefit_account", "categories/medical_claims"]:
        raw = (tmp_path / "c" / sub / "part-0.csv").read_bytes()
        text = raw.decode(codec)                      # decodes cleanly in the declared encoding
        header = text.splitlines()[0].replace('"', "").split(",")
        pt = pq.read_table(tmp_path / "p" / sub / "part-0.parquet")
        assert header == pt.column_names
        ct = pacsv.read_csv(
            tmp_path / "c" / sub / "part-0.csv",
            read_options=pacsv.ReadOptions(encoding=codec),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header}, strings_can_be_null=True))
        for c in header:
            want = pt[c].to_pylist()
            got = ct[c].to_pylist()
            want = [None if v in (None, "") else
                    v.isoformat() if isinstance(v, dt.date) else
                    ("true" if v else "false") if isinstance(v, bool) else v for v in want]
            got = [None if v in (None, "") else v for v in got]
            if encoding == "CP932":
                want = [v.replace("𠮷", "吉") if isinstance(v, str) else v for v in want]
            assert got == want, (sub, c)
        if sub == "residents":
            assert re.search(r"\d{4}-\d{2}-\d{2}", text)
        else:
            assert re.search(r',"?(true|false)"?(,|$)', text, re.M)
            assert not re.search(r'"(True|False|TRUE|FALSE)"', text)


def test_bad_arguments(tmp_path):
    with pytest.raises(UsageError):
        generate(str(tmp_path / "x"), 100, 1, rates={"no_such_rate": 0.1})
    with pytest.raises(UsageError):
        generate(str(tmp_path / "x"), 100, 1, categories=["no_such_category"])
    with pytest.raises(UsageError):
        generate(str(tmp_path / "x"), 100, 1, fmt="json")
    with pytest.raises(ValueError):
        generate(str(tmp_path / "x"), 100, 1, rates={"noise": 2})


def test_tiny_and_rate_free_runs(tmp_path):
    s = generate(str(tmp_path / "t"), 30, 1, reference_date=REF)
    assert s["residents"] == 30 and pq.read_table(tmp_path / "t" / "residents").num_rows == 30
    zero = {e: 0.0 for e in ERROR_TYPES} | {"noise": 0.0}
    z = generate(str(tmp_path / "z"), 300, 1, rates=zero, reference_date=REF)
    assert z["error_records"] == 0 and z["noisy_records"] == 0
