"""Sample data generator: a resident register, the 29 categories' records and an answer key.

`generate(output_dir, residents, seed)` writes, in the contract's input layout
(../shared/CONTRACT.md):

    DIR/residents/part-0.parquet          (or .csv) the register
    DIR/categories/<id>/part-0.parquet    one folder per category
    DIR/answer_key/part-0.parquet         per record: category, record_id, error_type,
                                          noise (list<string>), owner_number
    DIR/meta.json                         seed, residents, rates, reference_date, counts

The answer key is Parquet in both formats (it holds a list column).  The residents/,
categories/ and answer_key/ folders under DIR are replaced on each call.

Everything is drawn from numpy / `random.Random` generators seeded from `seed`, so a seed
and a reference date give the same files (ages, and so who is eligible where, are relative
to the reference date; no one is within 10 days of an age limit of a category).  A
category's records depend only on the seed, the register and the category id, so
generating a subset of the categories gives the same records for those categories.
No Spark here: numpy and pyarrow only.

The name, address and bank tables are hand-curated TSV files in jobs/data/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import shutil
import time
import unicodedata
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jobs.errors import UsageError

DATA_DIR = Path(__file__).resolve().parent / "data"

# ---------------------------------------------------------------------------------------
# Public constants
# ---------------------------------------------------------------------------------------

ERROR_TYPES = (
    "wrong_random", "same_name_person", "household_member", "digit_typo", "unknown_number",
    "deceased_active", "removed_active", "duplicate_record", "parent_account",
    "shared_account", "unlinked", "age_ineligible", "owner_not_in_register",
)
# Answer-key types for records that belong to an error without being its error record:
# the original a duplicate_record duplicates (evaluate counts it as neither miss nor alarm).
RELATED_TYPES = ("duplicate_original",)

# Benign variations.  The identity-changing ones (at most one per record) come first.
IDENTITY_NOISE = (
    "maiden_name", "kanji_same_reading", "kana_typo", "day_month_swap", "era_year", "alpha_typo",
)
COMMON_NOISE = (
    "width", "space", "small_kana", "variant_kanji", "hiragana", "address_notation",
    "old_address", "missing_field", "alpha_order", "alpha_case", "alpha_middle",
)
NOISE_KINDS = IDENTITY_NOISE + COMMON_NOISE

# Error rates are shares of the records the error can apply to: parent_account and
# shared_account of public_benefit_account records, duplicate_record of records in
# one_active categories, age_ineligible of records in age-limited categories, the rest
# of all records.  Identity-noise rates are shares of the records the kind can apply to.
DEFAULT_RATES: dict[str, float] = {
    "wrong_random": 0.0025,
    "same_name_person": 0.0015,
    "household_member": 0.002,
    "digit_typo": 0.002,
    "unknown_number": 0.001,
    "deceased_active": 0.001,
    "removed_active": 0.0005,
    "duplicate_record": 0.0015,
    "parent_account": 0.004,
    "shared_account": 0.002,
    "unlinked": 0.0015,
    "age_ineligible": 0.001,
    "owner_not_in_register": 0.001,
    # benign noise: share of records with at least one kind
    "noise": 0.20,
    # identity-changing noise kinds: share of the records they can apply to, at the default
    # noise share (they scale with "noise": noise 0 means no noise at all)
    "maiden_name": 0.02,
    "kanji_same_reading": 0.012,
    "kana_typo": 0.008,
    "day_month_swap": 0.01,
    "era_year": 0.005,
    "alpha_typo": 0.03,
    # population
    "kana_missing": 0.15,
    "foreign": 0.02,
    "deceased": 0.01,
    "removed": 0.005,
}

# relative weights of the common kinds among the records picked for common noise
_COMMON_WEIGHTS = {
    "width": 3.0, "space": 3.0, "small_kana": 1.5, "variant_kanji": 2.5, "hiragana": 1.0,
    "address_notation": 3.0, "old_address": 1.5, "missing_field": 1.2,
    "alpha_order": 8.0, "alpha_case": 8.0, "alpha_middle": 5.0,
}

BASIC_FIELDS = ("name_kanji", "name_kana", "birth_date", "sex", "address")
RESIDENT_COLUMNS = (
    "individual_number", "name_kanji", "name_kana", "birth_date", "sex", "address",
    "municipality_code", "household_id", "status", "status_date",
)
CATEGORY_COLUMNS = (
    "record_id", "individual_number", "name_kanji", "name_kana", "birth_date", "sex",
    "address", "active",
)
ACCOUNT_COLUMNS = ("account_holder_kana", "account_key")
ACCOUNT_CATEGORY = "public_benefit_account"

_WRONG_PERSON = ("wrong_random", "same_name_person", "household_member", "owner_not_in_register")

# How each category covers the eligible residents.  steps: (max_age, share, extra) — the
# share of eligible people of that age who have records, and for categories that allow
# several records the mean number of extra records (Poisson).  hist: share of people who
# also have an older, inactive record (one_active categories).  ins: the category is one
# of the mutually exclusive medical insurances, decided per person.
_PLAN: dict[str, dict[str, Any]] = {
    "health_insurance": dict(prefix="HI", ins="hi", hist=0.07),
    "national_health_insurance": dict(prefix="KH", ins="nhi", hist=0.06),
    "late_elderly_medical": dict(prefix="KK", ins="lem", hist=0.03),
    "medical_claims": dict(prefix="RC", digits=10, steps=[
        (5, 0.4, 1.3), (14, 0.22, 0.7), (39, 0.16, 0.5), (64, 0.22, 0.9), (74, 0.35, 1.3),
        (200, 0.42, 1.8)]),
    "medical_expenses": dict(prefix="IH", steps=[(17, 0.08, 0.2), (64, 0.12, 0.3), (200, 0.15, 0.3)]),
    "specific_health_checkup": dict(prefix="TK", steps=[(200, 0.48, 0.1)]),
    "cancer_screening": dict(prefix="GK", steps=[(39, 0.06, 0.2), (69, 0.2, 0.4), (200, 0.12, 0.3)]),
    "vaccination": dict(prefix="YS", digits=10, steps=[
        (2, 0.9, 3.5), (12, 0.45, 0.6), (64, 0.03, 0.0), (200, 0.3, 0.2)]),
    "school_health": dict(prefix="GH", steps=[(5, 0.3, 0), (17, 0.96, 0), (200, 0.3, 0)]),
    "intractable_disease": dict(prefix="NB", steps=[(39, 0.003, 0), (200, 0.012, 0)]),
    "pediatric_chronic_disease": dict(prefix="SM", steps=[(200, 0.008, 0)]),
    "public_pension": dict(prefix="NK", hist=0.03, steps=[
        (19, 0.1, 0), (59, 0.92, 0), (64, 0.75, 0), (200, 0.97, 0)]),
    "mutual_aid_pension": dict(prefix="KS", steps=[(21, 0.005, 0), (200, 0.05, 0)]),
    "national_tax": dict(prefix="KZ", steps=[(19, 0.002, 0), (64, 0.1, 0), (200, 0.14, 0)]),
    "resident_tax": dict(prefix="JZ", hist=0.02, steps=[(19, 0.03, 0), (64, 0.5, 0), (200, 0.35, 0)]),
    "public_benefit_account": dict(prefix="KO", steps=[(17, 0.3, 0), (200, 0.5, 0)]),
    "child_allowance": dict(prefix="JT", steps=[(15, 0.92, 0), (200, 0.35, 0)]),
    "child_rearing_allowance": dict(prefix="JF", single_parent=0.55, steps=[(200, 0.004, 0)]),
    "maternal_child_health": dict(prefix="BS", steps=[(0, 0.95, 1.5), (3, 0.85, 0.6), (200, 0.5, 0.2)]),
    "school_attendance_support": dict(prefix="SE", steps=[(5, 0.05, 0), (200, 0.14, 0)]),
    "disability_certificate": dict(prefix="SS", steps=[(17, 0.02, 0.05), (64, 0.04, 0.1), (200, 0.1, 0.15)]),
    "disability_welfare_services": dict(prefix="SF", steps=[(17, 0.01, 0), (64, 0.012, 0), (200, 0.02, 0)]),
    "public_assistance": dict(prefix="SG", ins="pa"),
    "china_returnee_support": dict(prefix="CZ", steps=[(74, 0.001, 0), (200, 0.004, 0)]),
    "long_term_care_insurance": dict(prefix="KG", steps=[(64, 0.01, 0), (200, 0.9, 0)]),
    "employment_insurance": dict(prefix="KY", hist=0.05, steps=[
        (17, 0.01, 0), (64, 0.38, 0), (200, 0.08, 0)]),
    "workers_compensation": dict(prefix="RS", steps=[(17, 0.0, 0), (70, 0.005, 0.2), (200, 0.0, 0)]),
    "mynapoint": dict(prefix="MP", steps=[(14, 0.15, 0), (200, 0.33, 0)]),
    "individual_number_card": dict(prefix="NC", hist=0.04, steps=[(200, 0.7, 0)]),
}
# Old forms a holder may write for a standard character in a name (variant_kanji noise,
# standard -> old direction; old -> standard uses the whole of kanji_variants.tsv).
_NAME_OLD_FORMS = {
    "高": ["髙"], "崎": ["﨑", "嵜"], "辺": ["邊", "邉"], "斎": ["齋"], "斉": ["齊"], "浜": ["濱", "濵"],
    "徳": ["德"], "吉": ["𠮷"], "沢": ["澤"], "島": ["嶋"], "桜": ["櫻"], "広": ["廣"], "国": ["國"],
    "関": ["關"], "瀬": ["瀨"], "真": ["眞"], "恵": ["惠"], "栄": ["榮"], "条": ["條"], "富": ["冨"],
    "渋": ["澁"], "滝": ["瀧"], "凛": ["凜"], "遥": ["遙"], "実": ["實"], "寿": ["壽"], "豊": ["豐"],
}
_INACTIVE_SHARE = 0.04       # of records in categories that allow several records
_BOUNDARY_DAYS = 10          # no person within this many days of an age boundary

# ---------------------------------------------------------------------------------------
# My Number check digit
# ---------------------------------------------------------------------------------------

_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def check_digit(first11: str) -> str:
    """The check digit of an individual number's first 11 digits (weights 6,5,4,3,2,7,6,5,4,3,2)."""
    if not isinstance(first11, str) or len(first11) != 11 or not (first11.isascii() and first11.isdigit()):
        raise ValueError(f"need 11 ASCII digits, got {first11!r}")
    rem = sum(int(c) * w for c, w in zip(first11, _WEIGHTS)) % 11
    return "0" if rem <= 1 else str(11 - rem)


def is_valid_number(s: Any) -> bool:
    """True for a 12-digit ASCII string whose last digit is the right check digit."""
    if not isinstance(s, str) or len(s) != 12 or not (s.isascii() and s.isdigit()):
        return False
    return check_digit(s[:11]) == s[11]


def _check_digits_np(bodies: np.ndarray) -> np.ndarray:
    """Vectorised check digits of 11-digit integers."""
    b = bodies.astype(np.int64)
    total = np.zeros(len(b), dtype=np.int64)
    for i, w in enumerate(_WEIGHTS):
        total += ((b // 10 ** (10 - i)) % 10) * w
    rem = total % 11
    return np.where(rem <= 1, 0, 11 - rem)


def _numbers_from_bodies(bodies: np.ndarray) -> np.ndarray:
    full = bodies.astype(np.int64) * 10 + _check_digits_np(bodies)
    return np.char.zfill(full.astype(str), 12).astype(object)


def _unique_ints(rng: np.random.Generator, low: int, high: int, size: int) -> np.ndarray:
    """`size` distinct integers in [low, high), in random order."""
    out = np.empty(0, dtype=np.int64)
    while len(out) < size:
        need = size - len(out)
        draw = rng.integers(low, high, size=int(need * 1.1) + 16, dtype=np.int64)
        allv = np.concatenate([out, draw])
        _, idx = np.unique(allv, return_index=True)
        out = allv[np.sort(idx)]
    return out[:size]


# ---------------------------------------------------------------------------------------
# Text helpers: width, kana, numerals
# ---------------------------------------------------------------------------------------

_SMALL_KANA = dict(zip("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ"))
_SMALL_KANA.update(zip("ぁぃぅぇぉっゃゅょゎ", "あいうえおつやゆよわ"))


def _build_halfwidth_map() -> dict[str, str]:
    m: dict[str, str] = {}
    for cp in range(0xFF61, 0xFFA0):
        h = chr(cp)
        f = unicodedata.normalize("NFKC", h)
        if len(f) == 1 and f not in m:
            m[f] = h
    for cp in range(0x30A1, 0x30FB):
        f = chr(cp)
        if f in m:
            continue
        d = unicodedata.normalize("NFD", f)
        if len(d) == 2 and d[0] in m:
            m[f] = m[d[0]] + ("ﾞ" if d[1] == "\u3099" else "ﾟ")
    m["ヵ"], m["ヶ"], m["ヮ"] = "ｶ", "ｹ", "ﾜ"
    m["\u3000"] = " "
    return m


_TR_HALF_KANA = str.maketrans(_build_halfwidth_map())
_TR_HIRA = str.maketrans({chr(c): chr(c - 0x60) for c in range(0x30A1, 0x30F7)})
_TR_LARGE = str.maketrans(_SMALL_KANA)
_TR_FULL_ASCII = str.maketrans({**{chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}, " ": "\u3000"})
_TR_HALF_ASCII = str.maketrans({**{chr(c + 0xFEE0): chr(c) for c in range(0x21, 0x7F)}, "\u3000": " "})
_TR_BANK = str.maketrans({**_SMALL_KANA, "ー": None, "－": None, "\u3000": " "})


def to_halfwidth_kana(s: str) -> str:
    """Full-width katakana (and ideographic space) to half-width."""
    return s.translate(_TR_HALF_KANA)


def to_hiragana(s: str) -> str:
    return s.translate(_TR_HIRA)


def large_kana(s: str) -> str:
    return s.translate(_TR_LARGE)


def to_fullwidth_ascii(s: str) -> str:
    return s.translate(_TR_FULL_ASCII)


def to_halfwidth_ascii(s: str) -> str:
    return s.translate(_TR_HALF_ASCII)


def bank_kana(kana: str | None, alpha: str | None = None) -> str | None:
    """An account holder name as a bank holds it: half-width katakana, small kana written
    large, no long-vowel mark, one half-width space between the parts; alphabet upper-case
    when there is no kana."""
    if kana:
        return " ".join(kana.translate(_TR_BANK).split()).translate(_TR_HALF_KANA)
    if alpha:
        return " ".join(to_halfwidth_ascii(alpha).upper().split())
    return None


_KDIGIT = "〇一二三四五六七八九"


def kanji_numeral(n: int) -> str:
    """1..9999 in kanji numerals (十, 百, 千 notation)."""
    if n <= 0:
        return "〇"
    out = ""
    for unit, ch in ((1000, "千"), (100, "百"), (10, "十")):
        q, n = divmod(n, unit)
        if q:
            out += ("" if q == 1 else _KDIGIT[q]) + ch
    if n:
        out += _KDIGIT[n]
    return out


# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------

def _read_tsv(name: str) -> list[list[str]]:
    rows = []
    with open(DATA_DIR / name, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                rows.append(line.split("\t"))
    return rows


@lru_cache(maxsize=1)
def _tables() -> dict[str, Any]:
    t: dict[str, Any] = {}
    sur = _read_tsv("surnames.tsv")
    t["sur_k"] = [r[0] for r in sur]
    t["sur_r"] = [r[1] for r in sur]
    t["sur_w"] = np.array([float(r[2]) for r in sur])

    giv = _read_tsv("given_names.tsv")
    t["giv_k"] = [r[0] for r in giv]
    t["giv_r"] = [r[1] for r in giv]
    t["giv_sex"] = np.array([int(r[2]) for r in giv])
    t["giv_w"] = np.array([float(r[3]) for r in giv])
    t["giv_era"] = [r[4] for r in giv]
    # same reading, same sex, other kanji: for kanji_same_reading
    groups: dict[tuple[str, int], list[int]] = {}
    for i, r in enumerate(giv):
        groups.setdefault((r[1], int(r[2])), []).append(i)
    alts = []
    for i, r in enumerate(giv):
        alts.append([j for j in groups[(r[1], int(r[2]))] if giv[j][0] != r[0]])
    t["giv_alts"] = alts

    fo = _read_tsv("foreign_names.tsv")
    t["foreign"] = [(r[0], r[1], r[2], r[3], r[4], float(r[5])) for r in fo]

    mu = _read_tsv("municipalities.tsv")
    t["muni_code"] = [r[0] for r in mu]
    t["muni_pref"] = [r[1] for r in mu]
    t["muni_name"] = [r[2] for r in mu]
    t["muni_w"] = np.array([float(r[3]) for r in mu])
    t["muni_towns"] = [[(x.rstrip("*"), x.endswith("*")) for x in r[4].split(",")] for r in mu]

    # shared with jobs/normalise.py: variant -> standard; every old form the noise writes
    # (_NAME_OLD_FORMS) must fold back through this table
    var = _read_tsv("kanji_variants.tsv")
    t["old2std"] = {r[0]: r[1] for r in var}
    t["tr_std"] = str.maketrans({**{r[0]: r[1] for r in var},
                                 **{chr(c + 0xFEE0): chr(c) for c in range(0x21, 0x7F)}, "\u3000": " "})
    t["std2old"] = {k: [v for v in vs if t["old2std"].get(v) == k] for k, vs in _NAME_OLD_FORMS.items()}

    banks = _read_tsv("banks.tsv")
    t["bank_code"] = [r[0] for r in banks]
    t["bank_w"] = np.array([float(r[2]) for r in banks])
    return t


def normalized_name(name: str) -> str:
    """Name key for grouping same-name residents: variant kanji to standard, no spaces, upper case."""
    return "".join(name.translate(_tables()["tr_std"]).split()).upper()


# ---------------------------------------------------------------------------------------
# Dates and ages
# ---------------------------------------------------------------------------------------

_EPOCH_ORD = dt.date(1970, 1, 1).toordinal()


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    mo = d.astype("datetime64[M]")
    m = mo.astype(np.int64) % 12 + 1
    dd = (d - mo.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, dd


def _age_at(y: np.ndarray, m: np.ndarray, d: np.ndarray, when: dt.date) -> np.ndarray:
    before = (m > when.month) | ((m == when.month) & (d > when.day))
    return when.year - y - before.astype(np.int64)


def _days(d: dt.date) -> int:
    return d.toordinal() - _EPOCH_ORD


# ---------------------------------------------------------------------------------------
# Population
# ---------------------------------------------------------------------------------------

class _Pop:
    """Residents (indices < n) and people who are not in the register (phantoms, >= n)."""


_JP_TYPES = (("single", 0.37), ("couple", 0.24), ("family", 0.23), ("single_parent", 0.07),
             ("three_gen", 0.09))
_FOREIGN_ORIGINS = (("CN", 0.27), ("VN", 0.2), ("KR", 0.14), ("PH", 0.1), ("BR", 0.08),
                    ("NP", 0.07), ("ID", 0.06), ("US", 0.08))
_MIDDLE_SHARE = {"VN": 0.95, "US": 0.5, "BR": 0.6, "PH": 0.5, "ID": 0.3, "NP": 0.3, "CN": 0.0, "KR": 0.0}
_OWN_FAMILY_NAME = {"CN", "KR", "VN"}   # spouses keep their own family names
_BUILDINGS = ("サンハイツ", "コーポ若葉", "メゾン・ド・ソレイユ", "グリーンハイツ", "パークホームズ",
              "ライオンズマンション", "ハイツ", "レジデンス", "グランドメゾン", "第２コーポ")
_REG_STYLES = (("std", 0.65), ("hyphen", 0.2), ("banchi", 0.1), ("mixed", 0.05))


def _kids(r: random.Random, mother_age: float, kmax: int, k: int) -> list[float]:
    """Ages of k children of a mother aged mother_age (each 22–44.9 years younger), some
    older ones moved out; twins get the same age."""
    ages: list[float] = []
    if k <= 0 or mother_age < 22.5:
        return ages
    c = mother_age - (22 + r.random() * min(15.0, mother_age - 22.2))
    for _ in range(k):
        if c < 0.05 or mother_age - c > 44.9:
            break
        if not (c > 25 and r.random() < 0.65):
            ages.append(c)
        c -= 1.2 + r.random() * 4
    if not ages:
        lo, hi = max(0.05, mother_age - 44.9), mother_age - 22.2
        if hi > lo:
            ages.append(lo + r.random() * (min(hi, lo + 15.0) - lo))
    if ages and len(ages) < kmax and r.random() < 0.025:
        j = r.randrange(len(ages))
        ages.insert(j + 1, ages[j])                     # twins: same age, next to each other
    return ages


def _choice(r: random.Random, items, weights):
    return items[_pick(r, items, weights)]


def _fit(age: float, lo: float, hi: float) -> float:
    return min(max(age, lo), hi) if lo <= hi else age


def _households(r: random.Random, n_people: int, foreign_share: float) -> dict[str, list]:
    """Draw households (Python loop, cheap per household) until n_people people exist.
    Returns per-person lists: hh, sex, age, parent (global index), spouse, married_f, twin_of,
    foreign, origin, hhtype, single_parent."""
    P: dict[str, list] = {k: [] for k in (
        "hh", "sex", "age", "parent", "spouse", "married", "twin", "foreign", "origin", "sp")}
    n_foreign_target = int(round(n_people * foreign_share))
    n_jp_target = n_people - n_foreign_target
    hh = 0

    def add(sex, age, parent=-1, spouse=-1, married=False, twin=-1, foreign=False, origin="", sp=False):
        P["hh"].append(hh)
        P["sex"].append(sex)
        P["age"].append(age)
        P["parent"].append(parent)
        P["spouse"].append(spouse)
        P["married"].append(married)
        P["twin"].append(twin)
        P["foreign"].append(foreign)
        P["origin"].append(origin)
        P["sp"].append(sp)
        return len(P["hh"]) - 1

    def add_kids(mother, father, kid_ages, foreign=False, origin="", sp=False):
        parent = mother if mother >= 0 else father
        prev_age, prev_idx = None, -1
        for a in kid_ages:
            twin = prev_idx if prev_age is not None and a == prev_age else -1
            prev_idx = add(1 if r.random() < 0.512 else 2, a, parent=parent, twin=twin,
                           foreign=foreign, origin=origin, sp=sp)
            prev_age = a

    types = [t for t, _ in _JP_TYPES]
    tw = [w for _, w in _JP_TYPES]
    count = 0
    while count < n_jp_target:
        start = len(P["hh"])
        t = _choice(r, types, tw)
        if t == "single":
            u = r.random()
            if u < 0.28:
                age = 18.2 + r.random() * 22
            elif u < 0.50:
                age = 40 + r.random() * 25
            else:
                age = 65 + r.betavariate(2, 3) * 37
            add(2 if r.random() < (0.5 if age < 65 else 0.66) else 1, age)
        elif t == "couple":
            if r.random() < 0.18:
                wife = 22 + r.random() * 23
            else:
                wife = 52 + r.betavariate(2.2, 2.4) * 44
            husband = max(20.0, wife + _fit(r.gauss(2, 3), -3, 12))
            w = add(2, wife, married=True)
            h = add(1, husband, spouse=w)
            P["spouse"][w] = h
        elif t in ("family", "single_parent"):
            sp = t == "single_parent"
            if sp:
                page = 24 + r.betavariate(2.2, 1.8) * 36
                k = _choice(r, (1, 2, 3), (0.55, 0.35, 0.10))
            else:
                page = 25 + r.betavariate(2.2, 1.9) * 40
                k = _choice(r, (1, 2, 3, 4), (0.44, 0.42, 0.12, 0.02))
            kid_ages = _kids(r, page, 5, k)
            if sp:
                mother_led = r.random() < 0.85
                p = add(2 if mother_led else 1, page, sp=True)
                add_kids(p, -1, kid_ages, sp=True)
            else:
                husband = page + _fit(r.gauss(2, 3), -3, 12)
                husband = _fit(husband, max(kid_ages) + 20.1, min(kid_ages) + 44.9)
                w = add(2, page, married=True)
                h = add(1, husband, spouse=w)
                P["spouse"][w] = h
                add_kids(w, h, kid_ages)
        else:  # three generations: grandparent(s), their son, his wife, grandchildren
            gm = 62 + r.betavariate(2, 2.4) * 34
            son = max(25.0, gm - (23 + r.random() * 15))
            if gm - son > 44.9:
                son = gm - 44.9
            g_m = add(2, gm, married=True)
            if r.random() < 0.6:
                gf = _fit(gm + _fit(r.gauss(2, 3), -3, 10), son + 20.1, son + 44.9)
                g_f = add(1, gf, spouse=g_m)
                P["spouse"][g_m] = g_f
            s = add(1, son, parent=g_m)
            wife = max(22.0, son - _fit(r.gauss(2, 3), -3, 10))
            w = add(2, wife, spouse=s, married=True)
            P["spouse"][s] = w
            k = _choice(r, (0, 1, 2, 3), (0.2, 0.3, 0.38, 0.12))
            kid_ages = _kids(r, wife, 4, k) if k else []
            if kid_ages:
                kid_ages = [a for a in kid_ages if son - a >= 20.1 and son - a <= 44.9]
            add_kids(w, s, kid_ages)
        count += len(P["hh"]) - start
        hh += 1

    # trim the overshoot: drop whole households from the end, then fill with singles
    while len(P["hh"]) > n_jp_target:
        last = P["hh"][-1]
        while P["hh"] and P["hh"][-1] == last:
            for v in P.values():
                v.pop()
        hh = last
    hh = (P["hh"][-1] + 1) if P["hh"] else 0
    while len(P["hh"]) < n_jp_target:
        add(1 if r.random() < 0.5 else 2, 18.2 + r.random() * 60)
        hh += 1

    origins = [o for o, _ in _FOREIGN_ORIGINS]
    ow = [w for _, w in _FOREIGN_ORIGINS]
    fcount = 0
    while fcount < n_foreign_target:
        o = _choice(r, origins, ow)
        left = n_foreign_target - fcount
        if r.random() < 0.65 or left < 2:
            age = 19 + r.betavariate(2, 3) * 27 if r.random() < 0.85 else 46 + r.random() * 30
            add(1 if r.random() < 0.5 else 2, age, foreign=True, origin=o)
            fcount += 1
        else:
            wife = 22 + r.betavariate(2, 2.5) * 30
            husband = max(20.0, wife + _fit(r.gauss(3, 3), -3, 12))
            kid_ages = _kids(r, wife, 3, _choice(r, (0, 1, 2), (0.45, 0.35, 0.2)))
            kid_ages = kid_ages[: max(0, left - 2)]
            if kid_ages:
                husband = _fit(husband, max(kid_ages) + 20.1, min(kid_ages) + 44.9)
            w = add(2, wife, married=o not in _OWN_FAMILY_NAME, foreign=True, origin=o)
            h = add(1, husband, spouse=w, foreign=True, origin=o)
            P["spouse"][w] = h
            add_kids(w, h, kid_ages, foreign=True, origin=o)
            fcount += 2 + len(kid_ages)
        hh += 1
    return P


def _build_population(n: int, n_phantom: int, seed: int, rates: dict, ref: dt.date) -> _Pop:
    T = _tables()
    ss = np.random.SeedSequence([seed, 0x5EED])
    rng = np.random.default_rng(ss)
    r = random.Random(int(rng.integers(1 << 62)))

    P = _households(r, n, rates["foreign"])
    Q = _households(r, n_phantom, rates["foreign"])
    # shuffle households (keeping members together) so foreign households are spread out
    hh = np.asarray(P["hh"], dtype=np.int64)
    n_hh = int(hh.max()) + 1 if len(hh) else 0
    rank = rng.permutation(n_hh)
    order = np.argsort(rank[hh], kind="stable")
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))

    def reorder(key, remap=False):
        a = np.asarray(P[key])[order]
        if remap:
            a = np.where(a >= 0, inv[np.maximum(a, 0)], -1)
        return a

    hh_new = rank[hh][order]
    # phantoms appended after the residents, with their own household numbers
    qh = np.asarray(Q["hh"], dtype=np.int64) + n_hh

    def cat(key, remap=False):
        a = reorder(key, remap)
        b = np.asarray(Q[key])
        if remap:
            b = np.where(b >= 0, b + n, -1)
        return np.concatenate([a, b]) if len(b) else a

    pop = _Pop()
    pop.n = n
    pop.N = N = n + len(Q["hh"])
    pop.hh = np.concatenate([hh_new, qh])
    pop.n_hh = int(pop.hh.max()) + 1 if N else 0
    pop.sex = cat("sex").astype(np.int8)
    age = cat("age").astype(np.float64)
    pop.parent = cat("parent", True).astype(np.int64)
    pop.spouse = cat("spouse", True).astype(np.int64)
    pop.married = cat("married").astype(bool)
    pop.twin = cat("twin", True).astype(np.int64)
    pop.foreign = cat("foreign").astype(bool)
    pop.origin = cat("origin").astype(object)
    pop.single_parent_hh = cat("sp").astype(bool)

    # birth dates; twins exactly equal
    ref_days = _days(ref)
    birth = ref_days - np.round(age * 365.2425).astype(np.int64)
    tw = np.nonzero(pop.twin >= 0)[0]
    birth[tw] = birth[pop.twin[tw]]
    pop.birth = birth

    # household layout: members are contiguous (sorted by household)
    hh_order = np.argsort(pop.hh, kind="stable")
    assert np.all(np.diff(pop.hh[hh_order]) >= 0)
    pop.hh_members = hh_order
    pop.hh_start = np.searchsorted(pop.hh[hh_order], np.arange(pop.n_hh))
    pop.hh_size = np.bincount(pop.hh, minlength=pop.n_hh)

    _names(pop, rng, T, rates)
    _addresses(pop, rng, T)
    _same_name_pairs(pop, rng, ref_days)
    _render_people(pop, rng, T, rates)
    _status_and_numbers(pop, rng, rates, ref)
    return pop


def _names(pop: _Pop, rng: np.random.Generator, T: dict, rates: dict) -> None:
    N = pop.N
    y, _, _ = _ymd(pop.birth)
    cohort = np.where(y < 1960, 0, np.where(y < 1990, 1, 2))
    # surnames: one per household (Japanese), maiden names for married women
    sw = T["sur_w"] / T["sur_w"].sum()
    hh_fam = rng.choice(len(sw), size=pop.n_hh, p=sw)
    fam = hh_fam[pop.hh].astype(np.int64)
    fam[pop.foreign] = -1
    maiden = np.full(N, -1, dtype=np.int64)
    mw = (pop.married & ~pop.foreign)
    idx = np.nonzero(mw)[0]
    draw = rng.choice(len(sw), size=len(idx), p=sw)
    clash = draw == fam[idx]
    draw[clash] = (draw[clash] + 1 + rng.integers(0, 50, size=int(clash.sum()))) % len(sw)
    maiden[idx] = draw
    # given names by sex and birth cohort
    giv = np.full(N, -1, dtype=np.int64)
    era = np.array(T["giv_era"])
    probs = {}
    for sex in (1, 2):
        for c, tag in enumerate(("old", "mid", "young")):
            w = T["giv_w"] * (T["giv_sex"] == sex) * np.where((era == tag) | (era == "all"), 1.0, 0.04)
            probs[(sex, c)] = w / w.sum()
            sel = np.nonzero((pop.sex == sex) & (cohort == c) & ~pop.foreign)[0]
            if len(sel):
                giv[sel] = rng.choice(len(w), size=len(sel), p=probs[(sex, c)])
    # no two members of a household share a given name or its reading (twins included)
    gk, gr = T["giv_k"], T["giv_r"]
    multi = np.nonzero((pop.hh_size[pop.hh] > 1) & ~pop.foreign)[0]
    used: dict[int, set] = {}
    for i in multi.tolist():
        seen = used.setdefault(int(pop.hh[i]), set())
        for _ in range(30):
            if gk[giv[i]] not in seen and gr[giv[i]] not in seen:
                break
            giv[i] = rng.choice(len(gk), p=probs[(int(pop.sex[i]), int(cohort[i]))])
        seen.update((gk[giv[i]], gr[giv[i]]))
    pop.fam, pop.giv, pop.maiden = fam, giv, maiden

    # foreign names: tokens (latin, kana)
    pop.fam_k = np.empty(N, dtype=object)
    pop.giv_k = np.empty(N, dtype=object)
    pop.mid_k = np.full(N, "", dtype=object)
    pop.fam_r = np.empty(N, dtype=object)
    pop.giv_r = np.empty(N, dtype=object)
    pop.mid_r = np.full(N, "", dtype=object)
    fo = T["foreign"]
    by: dict[tuple[str, str, int], tuple[list, np.ndarray]] = {}
    for o, _ in _FOREIGN_ORIGINS:
        for part in ("family", "given", "middle"):
            for sex in (1, 2):
                rows = [x for x in fo if x[0] == o and x[1] == part and x[4] in ("*", str(sex))]
                if rows:
                    w = np.array([x[5] for x in rows])
                    by[(o, part, sex)] = (rows, w / w.sum())

    def pick(o, part, sex):
        rows, w = by[(o, part, sex)]
        x = rows[rng.choice(len(rows), p=w)]
        return x[2], x[3]

    fidx = np.nonzero(pop.foreign)[0]
    hh_family: dict[int, tuple[str, str]] = {}
    for i in fidx:
        o, sex, h = pop.origin[i], int(pop.sex[i]), int(pop.hh[i])
        if h not in hh_family:                 # the husband's (household's) family name
            hh_family[h] = pick(o, "family", 1)
        if pop.parent[i] < 0 and sex == 2 and pop.spouse[i] >= 0 and o in _OWN_FAMILY_NAME:
            fk = pick(o, "family", 2)          # wives keep their own family name here
        else:
            fk = hh_family[h]
        gk = pick(o, "given", sex)
        tw = pop.twin[i]
        for _ in range(20):                    # twins get different given names
            if tw < 0 or gk[0] != pop.giv_k[tw]:
                break
            gk = pick(o, "given", sex)
        mk = ("", "")
        if (o, "middle", sex) in by and rng.random() < _MIDDLE_SHARE[o]:
            mk = pick(o, "middle", sex)
            if mk[0] == gk[0]:
                mk = ("", "")
        pop.fam_k[i], pop.fam_r[i] = fk
        pop.giv_k[i], pop.giv_r[i] = gk
        pop.mid_k[i], pop.mid_r[i] = mk

    jp = np.nonzero(~pop.foreign)[0]
    sur_k, sur_r, giv_k, giv_r = T["sur_k"], T["sur_r"], T["giv_k"], T["giv_r"]
    for i in jp:
        pop.fam_k[i] = sur_k[fam[i]]
        pop.fam_r[i] = sur_r[fam[i]]
        pop.giv_k[i] = giv_k[giv[i]]
        pop.giv_r[i] = giv_r[giv[i]]
    # foreign kana: about 60% have a katakana reading at all
    nokana = pop.foreign & (rng.random(N) >= 0.6)
    pop.has_kana = ~nokana


def _addresses(pop: _Pop, rng: np.random.Generator, T: dict) -> None:
    H = pop.n_hh
    mw = T["muni_w"] / T["muni_w"].sum()
    nm = len(mw)
    pop.muni_style = np.array([s for s, _ in _REG_STYLES], dtype=object)[
        rng.choice(len(_REG_STYLES), size=nm, p=[w for _, w in _REG_STYLES])]
    pop.h_muni, pop.h_town, pop.h_banchi, pop.h_c, pop.h_b, pop.h_g, pop.h_bldg = _draw_addresses(
        rng, H, T, mw)


def _draw_addresses(rng, H, T, mw, muni=None):
    nm = len(mw)
    if muni is None:
        muni = rng.choice(nm, size=H, p=mw)
    ntown = np.array([len(T["muni_towns"][m]) for m in range(nm)])
    town = (rng.random(H) * ntown[muni]).astype(np.int64)
    banchi = np.array([T["muni_towns"][m][t][1] for m, t in zip(muni, town)], dtype=bool)
    c = rng.integers(1, 6, size=H)
    b = np.where(banchi, rng.integers(1, 3000, size=H), rng.integers(1, 36, size=H))
    g = np.where(banchi, np.where(rng.random(H) < 0.5, 0, rng.integers(1, 20, size=H)),
                 rng.integers(1, 30, size=H))
    has_b = rng.random(H) < 0.18
    bname = rng.integers(0, len(_BUILDINGS), size=H)
    room = rng.integers(1, 12, size=H) * 100 + rng.integers(1, 10, size=H)
    bldg = np.array([f"{_BUILDINGS[x]}{y}" if h else "" for h, x, y in zip(has_b, bname, room)], dtype=object)
    return muni, town, banchi, c, b, g, bldg


def format_address(pref: str, muni: str, town: str, banchi: bool, c: int, b: int, g: int,
                   bldg: str, style: str, with_pref: bool = True) -> str:
    """One address in a given notation: std 1丁目2番3号, banchi 1丁目2番地3, hyphen 1-2-3,
    mixed 一丁目2-3, fullwidth １－２－３, fw_std １丁目２番３号, kanji 一丁目二番三号."""
    K = kanji_numeral
    head = (pref if with_pref else "") + muni + town
    if banchi:
        if style == "hyphen":
            body = f"{b}-{g}" if g else f"{b}番地"
        elif style == "fullwidth":
            body = to_fullwidth_ascii(f"{b}-{g}") if g else to_fullwidth_ascii(str(b)) + "番地"
        elif style == "kanji":
            body = K(b) + "番地" + (K(g) if g else "")
        elif style == "fw_std":
            body = to_fullwidth_ascii(f"{b}") + "番地" + (to_fullwidth_ascii(str(g)) if g else "")
        else:
            body = f"{b}番地" + (f"{g}" if g else "")
    else:
        if style == "banchi":
            body = f"{c}丁目{b}番地{g}"
        elif style == "hyphen":
            body = f"{c}-{b}-{g}"
        elif style == "mixed":
            body = f"{K(c)}丁目{b}-{g}"
        elif style == "fullwidth":
            body = to_fullwidth_ascii(f"{c}-{b}-{g}")
        elif style == "fw_std":
            body = to_fullwidth_ascii(f"{c}丁目{b}番{g}号")
        elif style == "kanji":
            body = f"{K(c)}丁目{K(b)}番{K(g)}号"
        else:
            body = f"{c}丁目{b}番{g}号"
    if bldg:
        if style in ("fullwidth", "fw_std"):
            bldg = to_fullwidth_ascii(bldg)
        body += (" " if style == "hyphen" else "\u3000" if style == "fullwidth" else "") + bldg
    return head + body


_ADDR_STYLES = ("std", "banchi", "hyphen", "mixed", "fullwidth", "fw_std", "kanji")


def _same_name_pairs(pop: _Pop, rng: np.random.Generator, ref_days: int) -> None:
    """A few unrelated residents with the same name AND birth date: a person living alone
    takes the name and birth date of an adult elsewhere."""
    n = pop.n
    singles = np.nonzero((pop.hh_size[pop.hh[:n]] == 1) & ~pop.foreign[:n])[0]
    others = np.nonzero(~pop.foreign[:n] & (ref_days - pop.birth[:n] > 20 * 366))[0]
    k = min(len(singles), max(2, int(round(n * 0.0003))))
    if k == 0 or len(others) < 2:
        pop.same_birth_pairs = []
        return
    bs = rng.choice(singles, size=k, replace=False)
    pairs = []
    used = set(bs.tolist())
    for b in bs:
        for _ in range(20):
            a = int(others[rng.integers(len(others))])
            if a not in used and pop.hh[a] != pop.hh[b] and pop.sex[a] == pop.sex[b]:
                break
        else:
            continue
        used.add(a)
        pop.fam[b], pop.giv[b] = pop.fam[a], pop.giv[a]
        pop.fam_k[b], pop.fam_r[b] = pop.fam_k[a], pop.fam_r[a]
        pop.giv_k[b], pop.giv_r[b] = pop.giv_k[a], pop.giv_r[a]
        pop.birth[b] = pop.birth[a]
        pop.maiden[b] = -1
        pairs.append((a, int(b)))
    pop.same_birth_pairs = pairs       # (same name, same birth date) pairs


def _render_people(pop: _Pop, rng: np.random.Generator, T: dict, rates: dict) -> None:
    """Register strings: name_kanji, kana, address, bank name."""
    N = pop.N
    pop.sep = np.where(rng.random(N) < 0.6, "\u3000", " ").astype(object)
    pop.sep[pop.foreign] = " "
    name_k = np.empty(N, dtype=object)
    kana = np.empty(N, dtype=object)
    fk, gk, mk, fr, gr, mr = pop.fam_k, pop.giv_k, pop.mid_k, pop.fam_r, pop.giv_r, pop.mid_r
    for i in range(N):
        if pop.foreign[i]:
            name_k[i] = _alpha_join(fk[i], gk[i], mk[i], pop.origin[i])
            kana[i] = _alpha_join(fr[i], gr[i], mr[i], pop.origin[i]) if pop.has_kana[i] else None
        else:
            name_k[i] = fk[i] + pop.sep[i] + gk[i]
            kana[i] = fr[i] + pop.sep[i] + gr[i]
    pop.name_k = name_k
    pop.kana = kana                              # the true reading (None: no katakana at all)
    missing = rng.random(N) < rates["kana_missing"]
    pop.reg_kana = np.where(missing, None, kana)

    old2std, std2old = T["old2std"], T["std2old"]
    varset = set(old2std) | {k for k, v in std2old.items() if v}
    pop.has_variant = np.array([(not f) and not varset.isdisjoint(s)
                                for s, f in zip(name_k, pop.foreign)], dtype=bool)
    smalls = set(_SMALL_KANA)
    pop.has_small = np.array([bool(k) and not smalls.isdisjoint(k) for k in kana], dtype=bool)
    alts = T["giv_alts"]
    pop.has_alt = np.array([g >= 0 and bool(alts[g]) for g in pop.giv], dtype=bool)
    pop.has_middle = np.array([bool(m) for m in pop.mid_k], dtype=bool)
    pop.bank = np.array([bank_kana(k, a) for k, a in zip(kana, name_k)], dtype=object)
    pop.sex_str = np.where(pop.sex == 1, "1", "2").astype(object)
    blank = pop.foreign & (rng.random(N) < 0.1)
    pop.sex_str[blank] = ""

    # addresses (register notation is per municipality)
    pref, mname, towns = T["muni_pref"], T["muni_name"], T["muni_towns"]
    h_addr = np.empty(pop.n_hh, dtype=object)
    for h in range(pop.n_hh):
        m, t = pop.h_muni[h], pop.h_town[h]
        h_addr[h] = format_address(pref[m], mname[m], towns[m][t][0], bool(pop.h_banchi[h]),
                                   int(pop.h_c[h]), int(pop.h_b[h]), int(pop.h_g[h]), pop.h_bldg[h],
                                   pop.muni_style[m])
    pop.h_addr = h_addr
    pop.addr = h_addr[pop.hh]
    pop.muni_code = np.array(T["muni_code"], dtype=object)[pop.h_muni][pop.hh]

    # name groups for same_name_person (residents only)
    keys = np.array([normalized_name(s) for s in name_k[: pop.n]], dtype=object)
    _, gid, cnt = np.unique(keys.astype(str), return_inverse=True, return_counts=True)
    pop.name_gid = gid
    pop.name_gcount = cnt[gid]
    order = np.argsort(gid, kind="stable")
    pop.name_members = order
    pop.name_start = np.searchsorted(gid[order], np.arange(len(cnt)))


def _alpha_join(fam, giv, mid, origin, swapped=False):
    toks = [fam, mid, giv] if origin == "VN" else [fam, giv, mid]
    toks = [t for t in toks if t]
    if swapped and len(toks) > 1:
        toks = toks[1:] + toks[:1]
    return " ".join(toks)


def _status_and_numbers(pop: _Pop, rng: np.random.Generator, rates: dict, ref: dt.date) -> None:
    n, N = pop.n, pop.N
    ref_days = _days(ref)
    y, m, d = _ymd(pop.birth)
    pop.y, pop.m, pop.d = y, m, d
    pop.age = _age_at(y, m, d, ref)
    status = np.zeros(N, dtype=np.int8)           # 0 resident, 1 deceased, 2 removed
    sdate = np.full(N, -1, dtype=np.int64)
    age = pop.age[:n].astype(np.float64)
    hazard = np.exp(0.09 * (np.minimum(age, 105) - 85))
    k_dec = min(n, int(round(n * rates["deceased"])))
    if k_dec:
        dec = rng.choice(n, size=k_dec, replace=False, p=hazard / hazard.sum())
        status[dec] = 1
        sdate[dec] = ref_days - rng.integers(20, 3 * 365, size=k_dec)
    adults = np.nonzero((pop.age[:n] >= 20) & (pop.age[:n] <= 70) & (status[:n] == 0))[0]
    k_rem = min(len(adults), int(round(n * rates["removed"])))
    if k_rem:
        rem = rng.choice(adults, size=k_rem, replace=False)
        status[rem] = 2
        sdate[rem] = ref_days - rng.integers(20, 5 * 365, size=k_rem)
    sdate = np.where(status > 0, np.maximum(sdate, pop.birth + 1), -1)
    pop.status, pop.status_date = status, sdate

    bodies = _unique_ints(rng, 0, 10 ** 11, n)
    pop.number_int = bodies
    pop.number = _numbers_from_bodies(bodies)
    pop.number_sorted = np.sort(bodies)

    T = _tables()
    bw = T["bank_w"] / T["bank_w"].sum()
    bank = rng.choice(len(bw), size=N, p=bw)
    codes = np.array(T["bank_code"], dtype=object)[bank]
    branch = rng.integers(1, 1000, size=N)
    yucho = codes == "9900"
    branch = np.where(yucho, (branch % 100) * 10 + 8, branch)
    typ = np.where(rng.random(N) < 0.96, "1", np.where(rng.random(N) < 0.7, "4", "2")).astype(object)
    acct = _unique_ints(rng, 0, 10 ** 7, N)
    pop.account_key = np.array(
        [f"{c}-{b:03d}-{t}-{a:07d}" for c, b, t, a in zip(codes, branch, typ, acct)], dtype=object)

    # one uniform per person deciding the mutually exclusive medical insurance
    u = rng.random(N)
    a = pop.age
    pop.ins = np.where(a < 75, np.where(u < 0.68, "hi", np.where(u < 0.95, "nhi",
                        np.where(u < 0.966, "pa", np.where((a >= 65) & (u >= 0.99), "lem", "")))),
                       np.where(u < 0.975, "lem", np.where(u < 0.99, "pa", "")))
    # ("pa": public assistance recipients get medical aid instead of NHI / late-elderly medical)


def _stable_elig(pop: _Pop, lo: int | None, hi: int | None, ref: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """(stably eligible, stably ineligible) for every person: the same answer at
    ref - 10 days, ref and ref + 10 days."""
    lo = 0 if lo is None else int(lo)
    hi = 10 ** 6 if hi is None else int(hi)
    res = []
    for delta in (-_BOUNDARY_DAYS, 0, _BOUNDARY_DAYS):
        a = _age_at(pop.y, pop.m, pop.d, ref + dt.timedelta(days=delta))
        res.append((a >= lo) & (a <= hi))
    el = res[0] & res[1] & res[2]
    inel = ~res[0] & ~res[1] & ~res[2]
    return el, inel


# ---------------------------------------------------------------------------------------
# Noise
# ---------------------------------------------------------------------------------------

_KANA_CONFUSE = {
    "シ": "ツ", "ツ": "シ", "ソ": "ン", "ン": "ソ", "ウ": "ワ", "ワ": "ウ", "ル": "レ", "レ": "ル",
    "ク": "ケ", "ケ": "ク", "コ": "ユ", "ユ": "コ", "メ": "ヌ", "ヌ": "メ", "ハ": "バ", "バ": "ハ",
    "カ": "ガ", "ガ": "カ", "キ": "ギ", "ギ": "キ", "サ": "ザ", "ザ": "サ", "タ": "ダ", "ダ": "タ",
    "ト": "ド", "ド": "ト", "ホ": "ボ", "ボ": "ホ", "フ": "ブ", "ブ": "フ", "ヒ": "ビ", "ビ": "ヒ",
    "ジ": "シ", "ズ": "ス", "オ": "ア", "イ": "エ", "エ": "イ", "ア": "マ", "マ": "ア", "チ": "テ",
    "テ": "チ", "ミ": "ニ", "ニ": "ミ", "ヨ": "コ", "ノ": "メ", "リ": "ソ", "ナ": "メ", "モ": "キ",
    "ラ": "ウ", "ロ": "コ", "セ": "ヤ", "ヤ": "セ", "ス": "ヌ", "ゴ": "コ", "グ": "ク", "ゲ": "ケ",
    "ゼ": "セ", "ゾ": "ソ", "デ": "テ", "ベ": "ヘ", "ヘ": "ベ", "ペ": "ベ", "パ": "バ", "ピ": "ビ",
    "プ": "ブ", "ポ": "ボ", "ム": "ン", "ネ": "ヌ", "ヂ": "チ", "ヅ": "ツ",
}
_ALPHA_NEAR = {c: n for c, n in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "SVXSRDHJOKLKNMPOWTDYIBEZUX")}


class _Rec:
    """One record's name and birth date while noise is applied."""
    __slots__ = ("fam", "giv", "mid", "famr", "givr", "midr", "sep", "ksep", "foreign", "origin",
                 "swapped", "birth", "nk", "nr", "has_kana")


_SMALL_AFTER = set("ァィゥェォャュョ")


def _kana_typo(r: random.Random, s: str) -> str:
    """One katakana replaced by a look-alike or voiced/unvoiced partner (not one that a
    small kana follows, so no impossible syllables)."""
    ok = [i for i in range(len(s)) if not (i + 1 < len(s) and s[i + 1] in _SMALL_AFTER)
          and s[i] not in _SMALL_AFTER]
    pos = [i for i in ok if s[i] in _KANA_CONFUSE]
    if not pos:
        pos = [i for i in ok if "ァ" <= s[i] <= "ヶ"]
        if not pos:
            return s
        i = r.choice(pos)
        return s[:i] + ("ア" if s[i] != "ア" else "イ") + s[i + 1:]
    i = r.choice(pos)
    return s[:i] + _KANA_CONFUSE[s[i]] + s[i + 1:]


def _alpha_typo(r: random.Random, s: str) -> str:
    pos = [i for i, c in enumerate(s) if "A" <= c <= "Z"]
    if not pos:
        return s
    i = r.choice(pos)
    kind = r.random()
    if kind < 0.6 or len(s) < 4:
        return s[:i] + _ALPHA_NEAR[s[i]] + s[i + 1:]
    if kind < 0.8 and i + 1 < len(s) and "A" <= s[i + 1] <= "Z" and s[i + 1] != s[i]:
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    return s[:i] + s[i + 1:]


def _era_shift(r: random.Random, y: int, m: int, d: int, ref: dt.date) -> dt.date | None:
    """A birth date with the year as an era-conversion slip would give (same month/day)."""
    born = dt.date(y, m, d)
    cands = []
    if born >= dt.date(2019, 5, 1):
        cands.append(y - 30)                         # Reiwa n read as Heisei n
    elif born >= dt.date(1989, 1, 8):
        cands.append(y - 63)                         # Heisei n read as Showa n
    elif born >= dt.date(1926, 12, 25):
        sy = y - 1925
        if sy <= 15:
            cands.append(y - 14)                     # Showa n read as Taisho n
        if 1988 + sy < ref.year:
            cands.append(y + 63)                     # Showa n read as Heisei n
    if cands and r.random() < 0.45:
        ny = r.choice(cands)
    else:
        ny = y + r.choice((-1, 1))
    try:
        out = dt.date(ny, m, d)
    except ValueError:
        return None
    return out if out < ref and out.year >= 1890 else None


def _render(rec: _Rec) -> None:
    if rec.foreign:
        rec.nk = _alpha_join(rec.fam, rec.giv, rec.mid, rec.origin, rec.swapped)
        rec.nr = _alpha_join(rec.famr, rec.givr, rec.midr, rec.origin, rec.swapped) if rec.has_kana else None
    else:
        rec.nk = rec.fam + rec.sep + rec.giv
        rec.nr = rec.famr + rec.ksep + rec.givr


# ---------------------------------------------------------------------------------------
# Categories
# ---------------------------------------------------------------------------------------

def _cat_seed(seed: int, cid: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, zlib.crc32(cid.encode("utf-8"))])


def _coverage(plan: dict, pop: _Pop, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Share of each resident covered, and mean extra records."""
    age = pop.age[:n]
    p = np.zeros(n)
    extra = np.zeros(n)
    ins = plan.get("ins")
    if ins:
        p[pop.ins[:n] == ins] = 0.98
    else:
        lo = -1
        for hi, share, ex in plan["steps"]:
            sel = (age > lo) & (age <= hi)
            p[sel] = share
            extra[sel] = ex
            lo = hi
    if plan.get("single_parent"):
        kids = pop.single_parent_hh[:n] & (pop.parent[:n] >= 0)
        p[kids] = plan["single_parent"]
    return p, extra


class _Cat:
    """Working state of one category while its records are built."""


def _build_category(cid: str, spec: dict, pop: _Pop, rates: dict, seed: int,
                    ref: dt.date) -> tuple[pa.Table, dict, dict, dict]:
    """One category's table, its answer-key columns, and its error and noise counts."""
    c = _Cat()
    c.cid, c.pop, c.rates, c.ref = cid, pop, rates, ref
    c.plan = _PLAN[cid]
    c.rng = np.random.default_rng(_cat_seed(seed, cid))
    c.r = random.Random(int(c.rng.integers(1 << 62)))
    c.n = pop.n
    c.fields = set(spec.get("fields") or BASIC_FIELDS)
    c.one_active = bool(spec.get("one_active"))
    c.is_account = cid == ACCOUNT_CATEGORY or bool(spec.get("account"))
    c.lo, c.hi = spec.get("min_age"), spec.get("max_age")
    c.elig, c.inelig = _stable_elig(pop, c.lo, c.hi, ref)
    c.alive = pop.status[: c.n] == 0
    _base_records(c)
    _modify_errors(c)
    _added_errors(c)
    _noise(c)
    return _assemble(c)


def _base_records(c: _Cat) -> None:
    """Correct records: the covered share of the stably eligible residents."""
    pop, rng, n = c.pop, c.rng, c.n
    elig = c.elig[:n]
    p, extra = _coverage(c.plan, pop, n)
    chosen = np.nonzero(elig & (rng.random(n) < p))[0]
    if len(chosen) < 3:                       # tiny runs: keep a few records per category
        pool = np.nonzero(elig & c.alive)[0]
        if len(pool):
            chosen = np.union1d(chosen, rng.choice(pool, size=min(3, len(pool)), replace=False))
    if c.one_active:
        hist = chosen[rng.random(len(chosen)) < c.plan.get("hist", 0.0)]   # older, closed records
        owners = np.concatenate([chosen, hist])
        active = np.arange(len(owners)) < len(chosen)
        main = active.copy()
    else:
        cnt = 1 + rng.poisson(extra[chosen])
        owners = np.repeat(chosen, cnt)
        main = np.zeros(len(owners), dtype=bool)
        if len(owners):
            main[np.concatenate([[0], np.cumsum(cnt)[:-1]])] = True
        active = rng.random(len(owners)) >= _INACTIVE_SHARE
    c.owners = owners.astype(np.int64)
    c.st = pop.status[c.owners]
    c.active = active & (c.st == 0)           # records of deceased / removed people are closed
    c.main = main
    c.R0 = R0 = len(c.owners)
    c.err = np.full(R0, None, dtype=object)
    c.link = pop.number[c.owners] if R0 else np.empty(0, dtype=object)
    c.acct = pop.account_key[c.owners] if c.is_account else None
    c.holder = pop.bank[c.owners] if c.is_account else None
    c.has_active = np.zeros(n, dtype=bool)
    c.has_active[c.owners[c.active]] = True
    c.has_any = np.zeros(n, dtype=bool)
    c.has_any[c.owners] = True
    c.free = c.active.copy()                  # correct, active records of living residents


def _nbin(c: _Cat, base: int, key: str) -> int:
    rate = c.rates[key]
    return int(c.rng.binomial(base, rate)) if base > 0 and rate > 0 else 0


def _take(c: _Cat, mask: np.ndarray, k: int) -> np.ndarray:
    """Up to k random free records among mask."""
    idx = np.nonzero(mask & c.free)[0]
    if k <= 0 or not len(idx):
        return np.empty(0, dtype=np.int64)
    return c.rng.permutation(idx)[: min(k, len(idx))]


def _target_ok(c: _Cat, t: int, owner: int) -> bool:
    """A resident a wrong link may point at: alive, eligible, and (one_active categories)
    without an active record of their own, so the error does not also turn a correct
    record into a duplicate."""
    if t < 0 or t >= c.n or t == owner or not c.alive[t] or not c.elig[t]:
        return False
    return not (c.one_active and c.has_active[t])


def _relink(c: _Cat, i: int, t: int, etype: str) -> None:
    c.link[i] = c.pop.number[t]
    c.err[i], c.free[i] = etype, False
    c.has_active[t] = True


def _modify_errors(c: _Cat) -> None:
    """Errors made by changing an existing correct record."""
    pop, rng, n, R0 = c.pop, c.rng, c.n, c.R0
    allr = np.ones(R0, dtype=bool)
    for etype, sv in (("deceased_active", 1), ("removed_active", 2)):
        want = _nbin(c, R0, etype)
        idx = np.nonzero(c.main & (c.st == sv))[0]
        if want and len(idx):
            sel = rng.permutation(idx)[:want]
            c.active[sel] = True
            c.err[sel] = etype

    want = _nbin(c, R0, "wrong_random")
    done = 0
    for i in _take(c, allr, want * 3):
        if done >= want:
            break
        o = c.owners[i]
        for _ in range(30):
            t = int(rng.integers(n))
            if _target_ok(c, t, o) and pop.hh[t] != pop.hh[o]:
                _relink(c, i, t, "wrong_random")
                done += 1
                break

    want = _nbin(c, R0, "same_name_person")
    if want:
        done = 0
        for i in _take(c, pop.name_gcount[c.owners] >= 2, 10 ** 9):
            if done >= want:
                break
            o = c.owners[i]
            s0 = pop.name_start[pop.name_gid[o]]
            mem = pop.name_members[s0: s0 + pop.name_gcount[o]]
            ok = [int(t) for t in mem if _target_ok(c, int(t), o) and pop.hh[t] != pop.hh[o]]
            if ok:
                _relink(c, i, ok[int(rng.integers(len(ok)))], "same_name_person")
                done += 1

    want = _nbin(c, R0, "household_member")
    if want:
        done = 0
        for i in _take(c, pop.hh_size[pop.hh[c.owners]] >= 2, 10 ** 9):
            if done >= want:
                break
            o = int(c.owners[i])
            h = pop.hh[o]
            mem = pop.hh_members[pop.hh_start[h]: pop.hh_start[h] + pop.hh_size[h]]
            ok = [int(t) for t in mem if _target_ok(c, int(t), o)]
            if not ok:
                continue
            # prefer the closest relations: parent / child, spouse, twin
            close = [t for t in ok if t in (pop.parent[o], pop.spouse[o], pop.twin[o])
                     or pop.parent[t] == o or pop.twin[t] == o] or ok
            _relink(c, i, close[int(rng.integers(len(close)))], "household_member")
            done += 1

    for i in _take(c, allr, _nbin(c, R0, "digit_typo")):
        s = c.link[i]
        pos = int(rng.integers(12))
        c.link[i] = s[:pos] + str((int(s[pos]) + int(rng.integers(1, 10))) % 10) + s[pos + 1:]
        c.err[i], c.free[i] = "digit_typo", False

    sel = _take(c, allr, _nbin(c, R0, "unknown_number"))
    if len(sel):
        bodies = rng.integers(0, 10 ** 11, size=len(sel) * 2 + 8, dtype=np.int64)
        pos = np.minimum(np.searchsorted(pop.number_sorted, bodies), len(pop.number_sorted) - 1)
        bodies = bodies[pop.number_sorted[pos] != bodies][: len(sel)]
        c.link[sel] = _numbers_from_bodies(bodies)
        c.err[sel], c.free[sel] = "unknown_number", False

    sel = _take(c, allr, _nbin(c, R0, "unlinked"))
    c.link[sel] = None
    c.err[sel], c.free[sel] = "unlinked", False

    if c.is_account:
        # a child's record carrying a parent's account and holder name; only parents with
        # no record here, so the parent's own record is not also a shared account
        want = _nbin(c, R0, "parent_account")
        kids = (pop.age[c.owners] < 18) & (pop.parent[c.owners] >= 0)
        done = 0
        for i in _take(c, kids, 10 ** 9):
            if done >= want:
                break
            par = int(pop.parent[c.owners[i]])
            opts = [x for x in (par, int(pop.spouse[par])) if 0 <= x < n and not c.has_any[x]]
            if not opts:
                continue
            x = opts[int(rng.integers(len(opts)))]
            c.acct[i], c.holder[i] = pop.account_key[x], pop.bank[x]
            c.err[i], c.free[i] = "parent_account", False
            c.has_any[x] = True
            done += 1
        # two adults' records with the same account: mark both
        want = int(rng.binomial(R0, c.rates["shared_account"] / 2)) if R0 else 0   # pairs
        cand = _take(c, pop.age[c.owners] >= 20, want * 2)
        for a, b in zip(cand[0::2], cand[1::2]):
            if c.owners[a] != c.owners[b]:
                c.acct[b] = c.acct[a]
                c.err[a] = c.err[b] = "shared_account"
                c.free[a] = c.free[b] = False


def _added_errors(c: _Cat) -> None:
    """Errors that are extra records: duplicates, ineligible people, people not in the register."""
    pop, rng, n, R0 = c.pop, c.rng, c.n, c.R0
    add_owner: list[int] = []
    add_err: list[str] = []
    add_link: list[Any] = []
    if c.one_active:
        for i in _take(c, c.main, _nbin(c, R0, "duplicate_record")):
            add_owner.append(int(c.owners[i]))
            add_err.append("duplicate_record")
            add_link.append(pop.number[c.owners[i]])
            # the record it duplicates is part of the same error: either one may be the
            # record a reviewer deactivates (evaluate counts it as neither miss nor false alarm)
            c.err[i], c.free[i] = "duplicate_original", False
    if c.lo is not None or c.hi is not None:
        want = _nbin(c, R0, "age_ineligible")
        pool = np.nonzero(c.inelig[:n] & c.alive & ~c.has_any)[0]
        # prefer people just outside the range (a 76-year-old in NHI, not a baby in pensions)
        a = pop.age[pool]
        lo = c.lo if c.lo is not None else -1
        hi = c.hi if c.hi is not None else 10 ** 6
        near = pool[np.where(a < lo, lo - a, a - hi) <= 15]
        pool = near if len(near) else pool
        if want and len(pool):
            for t in rng.choice(pool, size=min(want, len(pool)), replace=False):
                add_owner.append(int(t))
                add_err.append("age_ineligible")
                add_link.append(pop.number[t])
                c.has_active[t] = True
    want = _nbin(c, R0, "owner_not_in_register")
    ph = np.arange(n, pop.N)[c.elig[n:]]
    if want and len(ph):
        for o in rng.choice(ph, size=want, replace=True):
            for _ in range(30):
                t = int(rng.integers(n))
                if _target_ok(c, t, -1):
                    add_owner.append(int(o))
                    add_err.append("owner_not_in_register")
                    add_link.append(pop.number[t])
                    c.has_active[t] = True
                    break
    if add_owner:
        ao = np.array(add_owner, dtype=np.int64)
        c.owners = np.concatenate([c.owners, ao])
        c.active = np.concatenate([c.active, np.ones(len(ao), dtype=bool)])
        c.err = np.concatenate([c.err, np.array(add_err, dtype=object)])
        c.link = np.concatenate([c.link, np.array(add_link, dtype=object)])
        if c.is_account:
            c.acct = np.concatenate([c.acct, pop.account_key[ao]])
            c.holder = np.concatenate([c.holder, pop.bank[ao]])


def _pick(r: random.Random, items: list, weights: list[float]) -> int:
    """Index of a weighted random choice (cheaper than random.choices for one draw)."""
    x = r.random() * sum(weights)
    for j, w in enumerate(weights):
        x -= w
        if x < 0:
            return j
    return len(items) - 1


def _noise(c: _Cat) -> None:
    """The holder's copy of each record's basic items, with benign variations."""
    pop, rng, r, T = c.pop, c.rng, c.r, _tables()
    owners, fields = c.owners, c.fields
    R = len(owners)
    c.nk = pop.name_k[owners]
    c.nr = pop.kana[owners]
    c.bd = pop.birth[owners]
    c.sx = pop.sex_str[owners]
    c.ad = pop.addr[owners]
    c.null_birth = np.zeros(R, dtype=bool)
    c.noise = [None] * R
    c.noise_counts = {}
    f_nk, f_nr = "name_kanji" in fields, "name_kana" in fields
    f_bd, f_ad = "birth_date" in fields, "address" in fields
    if not R:
        return
    has_kana = pop.has_kana[owners] & f_nr
    foreign = pop.foreign[owners]
    wrong_person = np.isin(c.err.astype(str), _WRONG_PERSON)
    every = np.ones(R, dtype=bool)
    app = {
        "maiden_name": every & (f_nk or f_nr) & (pop.maiden[owners] >= 0),
        "kanji_same_reading": every & f_nk & pop.has_alt[owners],
        "kana_typo": has_kana,
        "day_month_swap": every & f_bd & (pop.d[owners] <= 12) & (pop.d[owners] != pop.m[owners]),
        "era_year": every & f_bd,
        "alpha_typo": every & f_nk & foreign,
        "width": has_kana | f_ad | (f_nk & foreign),
        "space": has_kana | f_nk,
        "small_kana": has_kana & pop.has_small[owners],
        "variant_kanji": every & f_nk & pop.has_variant[owners],
        "hiragana": has_kana & ~foreign,
        "address_notation": every & f_ad,
        "old_address": every & f_ad,
        "missing_field": every & (len(fields) >= 3) & ~wrong_person,
        "alpha_order": every & f_nk & foreign,
        "alpha_case": every & f_nk & foreign,
        "alpha_middle": (f_nk | has_kana) & foreign & pop.has_middle[owners],
    }
    # at most one identity-changing kind, never on wrong-person errors
    ident = np.full(R, None, dtype=object)
    u = rng.random(R)
    cum = np.zeros(R)
    scale = c.rates["noise"] / DEFAULT_RATES["noise"]
    for kind in IDENTITY_NOISE:
        top = cum + min(1.0, c.rates[kind] * scale) * (app[kind] & ~wrong_person)
        ident[(u >= cum) & (u < top)] = kind
        cum = top
    has_ident = ident != None  # noqa: E711
    id_share = float(has_ident.mean())
    q = max(0.0, c.rates["noise"] - id_share) / max(1e-9, 1.0 - id_share)
    common = rng.random(R) < q
    todo = np.nonzero(common | has_ident)[0]
    if not len(todo):
        return

    # older addresses, drawn in bulk: 35% in the same municipality
    mw = T["muni_w"] / T["muni_w"].sum()
    own_muni = pop.h_muni[pop.hh[owners[todo]]]
    same = rng.random(len(todo)) < 0.35
    muni = np.where(same, own_muni, rng.choice(len(mw), size=len(todo), p=mw))
    old = _draw_addresses(rng, len(todo), T, mw, muni)
    old_style = np.where(rng.random(len(todo)) < 0.7, pop.muni_style[muni],
                         np.array(_ADDR_STYLES, dtype=object)[rng.integers(0, len(_ADDR_STYLES), len(todo))])

    pref, mname, towns = T["muni_pref"], T["muni_name"], T["muni_towns"]
    old2std, std2old = T["old2std"], T["std2old"]
    old_chars = set(old2std)
    miss_opts = [f for f in BASIC_FIELDS if f in fields]
    if sum(f in miss_opts for f in ("name_kanji", "name_kana")) == 1:
        miss_opts = [f for f in miss_opts if f not in ("name_kanji", "name_kana")]   # never the only name
    sur_k, sur_r, giv_k, giv_alts = T["sur_k"], T["sur_r"], T["giv_k"], T["giv_alts"]
    # per-record inputs as plain lists (numpy scalar access is slow in this loop)
    ot = owners[todo]
    hh_t = pop.hh[ot]
    (foreign_l, origin_l, famk_l, givk_l, midk_l, famr_l, givr_l, midr_l, hask_l, sep_l,
     maiden_l, givrow_l, y_l, m_l, d_l) = (a[ot].tolist() for a in (
        pop.foreign, pop.origin, pop.fam_k, pop.giv_k, pop.mid_k, pop.fam_r, pop.giv_r, pop.mid_r,
        pop.has_kana, pop.sep, pop.maiden, pop.giv, pop.y, pop.m, pop.d))
    addr_l = list(zip(*(a[hh_t].tolist() for a in (
        pop.h_muni, pop.h_town, pop.h_banchi, pop.h_c, pop.h_b, pop.h_g, pop.h_bldg))))
    old_l = list(zip(*(a.tolist() for a in old)))
    old_style_l = old_style.tolist()
    muni_style = pop.muni_style.tolist()
    bd_l, ad_l = c.bd[todo].tolist(), c.ad[todo].tolist()
    nk_l, nr_l = c.nk[todo].tolist(), c.nr[todo].tolist()
    sx_l, nb_l = c.sx[todo].tolist(), [False] * len(todo)
    bits = np.zeros(len(todo), dtype=np.int64)
    for b, k in enumerate(COMMON_NOISE):
        bits |= app[k][todo].astype(np.int64) << b
    bits_l = bits.tolist()
    avail: dict[int, tuple[list[str], list[float]]] = {}
    for m_ in set(bits_l):
        ks = [k for b, k in enumerate(COMMON_NOISE) if m_ >> b & 1]
        avail[m_] = (ks, [_COMMON_WEIGHTS[k] for k in ks])
    common_t, ident_t = common[todo].tolist(), ident[todo].tolist()
    noise_t: list[list[str] | None] = [None] * len(todo)
    counts = c.noise_counts
    for j in range(len(todo)):
        kinds = set()
        if ident_t[j] is not None:
            kinds.add(ident_t[j])
        if common_t[j]:
            ks, ws = avail[bits_l[j]]
            if ks:
                av, w = list(ks), list(ws)
                k_n = 1 if r.random() < 0.72 else 2 if r.random() < 0.85 else 3
                for _ in range(min(k_n, len(av))):
                    x = _pick(r, av, w)
                    kinds.add(av.pop(x))
                    w.pop(x)
        if not kinds:
            continue
        rec = _Rec()
        rec.foreign = foreign_l[j]
        rec.origin = origin_l[j]
        rec.fam, rec.giv, rec.mid = famk_l[j], givk_l[j], midk_l[j]
        rec.famr, rec.givr, rec.midr = famr_l[j], givr_l[j], midr_l[j]
        rec.has_kana = hask_l[j]
        rec.sep = rec.ksep = sep_l[j]
        rec.swapped = False
        rec.birth = bd_l[j]
        applied: list[str] = []
        # structural changes first
        if "maiden_name" in kinds:
            mdn = maiden_l[j]
            rec.fam, rec.famr = sur_k[mdn], sur_r[mdn]
            applied.append("maiden_name")
        if "kanji_same_reading" in kinds:
            alts = giv_alts[givrow_l[j]]
            rec.giv = giv_k[alts[r.randrange(len(alts))]]
            applied.append("kanji_same_reading")
        if "kana_typo" in kinds and rec.famr:
            if r.random() < 0.6:
                rec.givr = _kana_typo(r, rec.givr)
            else:
                rec.famr = _kana_typo(r, rec.famr)
            applied.append("kana_typo")
        if "day_month_swap" in kinds:
            rec.birth = _days(dt.date(y_l[j], d_l[j], m_l[j]))
            applied.append("day_month_swap")
        if "era_year" in kinds:
            nd = _era_shift(r, y_l[j], m_l[j], d_l[j], c.ref)
            if nd is not None:
                rec.birth = _days(nd)
                applied.append("era_year")
        if "alpha_typo" in kinds:
            # in a longer part: a typo in "LI" or "WU" would be another name altogether
            if len(rec.giv or "") >= 4 and (len(rec.fam) < 4 or r.random() < 0.5):
                rec.giv = _alpha_typo(r, rec.giv)
            else:
                rec.fam = _alpha_typo(r, rec.fam)
            applied.append("alpha_typo")
        if "alpha_middle" in kinds and rec.mid:
            rec.mid, rec.midr = "", ""
            applied.append("alpha_middle")
        if "alpha_order" in kinds:
            rec.swapped = True
            applied.append("alpha_order")
        _render(rec)
        ad = ad_l[j]
        if "old_address" in kinds or "address_notation" in kinds:
            parts = addr_l[j]
            style = muni_style[parts[0]]
            if "old_address" in kinds:
                newp = old_l[j]
                if newp[:6] != parts[:6]:
                    parts, style = newp, old_style_l[j]
                    applied.append("old_address")
            m_, t_, bch, c_, b_, g_, bl = parts
            ad = format_address(pref[m_], mname[m_], towns[m_][t_][0], bch, c_, b_, g_, bl, style)
            if "address_notation" in kinds:
                for _ in range(6):
                    alt = format_address(pref[m_], mname[m_], towns[m_][t_][0], bch, c_, b_, g_, bl,
                                         r.choice(_ADDR_STYLES), r.random() < 0.75)
                    if alt != ad:
                        ad = alt
                        applied.append("address_notation")
                        break
        nk, nr = rec.nk, rec.nr
        # string-level changes
        if "variant_kanji" in kinds and nk:
            if not old_chars.isdisjoint(nk):
                s = "".join(old2std.get(ch, ch) for ch in nk)
            else:
                pos = [p for p, ch in enumerate(nk) if ch in std2old]
                s = nk
                if pos:
                    p = r.choice(pos)
                    s = nk[:p] + r.choice(std2old[nk[p]]) + nk[p + 1:]
            if s != nk:
                nk = s
                applied.append("variant_kanji")
        if "small_kana" in kinds and nr and large_kana(nr) != nr:
            nr = large_kana(nr)
            applied.append("small_kana")
        if "hiragana" in kinds and nr and to_hiragana(nr) != nr:
            nr = to_hiragana(nr)
            applied.append("hiragana")
        if "alpha_case" in kinds and nk:
            s = nk.title() if r.random() < 0.6 else nk.lower()
            if s != nk:
                nk = s
                applied.append("alpha_case")
        if "space" in kinds:
            tg = [x for x, v, f in (("nk", nk, f_nk), ("nr", nr, f_nr)) if v and f]
            if tg:
                x = r.choice(tg)
                s = nk if x == "nk" else nr
                roll = r.random()
                if roll < 0.4 and not rec.foreign:
                    s2 = s.replace(" ", "").replace("\u3000", "")
                elif roll < 0.55:
                    s2 = s.replace(" ", "  ", 1).replace("\u3000", "\u3000\u3000", 1)
                elif roll < 0.7:
                    s2 = " " + s + " "
                else:
                    s2 = s.replace("\u3000", "\x00").replace(" ", "\u3000").replace("\x00", " ")
                if s2 != s:
                    if x == "nk":
                        nk = s2
                    else:
                        nr = s2
                    applied.append("space")
        if "width" in kinds:
            tg = []
            if f_nr and nr and any("ァ" <= ch <= "ヶ" for ch in nr):
                tg.append("nr")
            if f_ad and ad:
                tg.append("ad")
            if f_nk and rec.foreign and nk:
                tg.append("nk")
            if tg:
                x = r.choice(tg)
                if x == "nr":
                    nr, changed = to_halfwidth_kana(nr), True
                elif x == "nk":
                    nk, changed = to_fullwidth_ascii(nk), True
                elif any("０" <= ch <= "９" for ch in ad):
                    ad, changed = to_halfwidth_ascii(ad), True
                else:
                    s = "".join(to_fullwidth_ascii(ch) if ch.isdigit() or ch == "-" else ch for ch in ad)
                    ad, changed = s, s != ad
                if changed:
                    applied.append("width")
        if "missing_field" in kinds and miss_opts:
            f = r.choice(miss_opts)
            if f == "name_kanji":
                nk = None
            elif f == "name_kana":
                nr = None
            elif f == "birth_date":
                nb_l[j] = True
            elif f == "sex":
                sx_l[j] = None
            else:
                ad = None
            applied.append("missing_field")
        nk_l[j], nr_l[j], bd_l[j], ad_l[j] = nk, nr, rec.birth, ad
        if applied:
            seen = list(dict.fromkeys(applied))
            noise_t[j] = seen
            for k in seen:
                counts[k] = counts.get(k, 0) + 1
    for arr, vals in ((c.nk, nk_l), (c.nr, nr_l), (c.ad, ad_l), (c.sx, sx_l)):
        tmp = np.empty(len(todo), dtype=object)
        tmp[:] = vals
        arr[todo] = tmp
    c.bd[todo] = np.asarray(bd_l, dtype=c.bd.dtype)
    c.null_birth[todo] = np.asarray(nb_l, dtype=bool)
    for j, i in enumerate(todo.tolist()):
        if noise_t[j]:
            c.noise[i] = noise_t[j]


def _assemble(c: _Cat) -> tuple[pa.Table, dict, dict, dict]:
    """Null the fields the holder does not keep, shuffle, number the records."""
    pop, rng, n, fields = c.pop, c.rng, c.n, c.fields
    R = len(c.owners)
    if "name_kanji" not in fields:
        c.nk[:] = None
    if "name_kana" not in fields:
        c.nr[:] = None
    if "birth_date" not in fields:
        c.null_birth[:] = True
    if "sex" not in fields:
        c.sx[:] = None
    if "address" not in fields:
        c.ad[:] = None
    perm = rng.permutation(R)
    digits = c.plan.get("digits", 8)
    start = int(rng.integers(1, 10 ** (digits - 1)))
    ids = np.char.zfill((np.arange(R, dtype=np.int64) + start).astype(str), digits)
    rid = np.char.add(c.plan["prefix"], ids).astype(object)
    cols = {
        "record_id": rid,
        "individual_number": c.link[perm],
        "name_kanji": c.nk[perm],
        "name_kana": c.nr[perm],
        "birth_date": (c.bd[perm], c.null_birth[perm]),
        "sex": c.sx[perm],
        "address": c.ad[perm],
        "active": c.active[perm],
    }
    if c.is_account:
        cols["account_holder_kana"] = c.holder[perm]
        cols["account_key"] = c.acct[perm]
    table = _category_table(cols, c.is_account)
    owner_num = np.full(R, None, dtype=object)
    inreg = c.owners < n
    owner_num[inreg] = pop.number[c.owners[inreg]]
    key = {
        "record_id": rid,
        "error_type": c.err[perm],
        "noise": [c.noise[j] or [] for j in perm],
        "owner_number": owner_num[perm],
    }
    ecounts: dict[str, int] = {}
    for e in c.err:
        if e is not None:
            ecounts[e] = ecounts.get(e, 0) + 1
    counts = dict(c.noise_counts)
    counts["_records"] = sum(1 for x in c.noise if x)
    return table, key, ecounts, counts


def _str_array(a) -> pa.Array:
    return pa.array(a, type=pa.string())


def _date_array(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    days = np.asarray(days, dtype=np.int32)
    mask = None if null is None else np.asarray(null, dtype=bool)
    return pa.array(days, type=pa.int32(), mask=mask).cast(pa.date32())


def _category_table(cols: dict, is_account: bool) -> pa.Table:
    names = list(CATEGORY_COLUMNS) + (list(ACCOUNT_COLUMNS) if is_account else [])
    arrays = []
    for c in names:
        v = cols[c]
        if c == "birth_date":
            arrays.append(_date_array(v[0], v[1]))
        elif c == "active":
            arrays.append(pa.array(v, type=pa.bool_()))
        else:
            arrays.append(_str_array(v))
    return pa.Table.from_arrays(arrays, names=names)


def _residents_table(pop: _Pop) -> pa.Table:
    n = pop.n
    status = np.array(["resident", "deceased", "removed"], dtype=object)[pop.status[:n]]
    hh_ids = _household_ids(pop)
    return pa.Table.from_arrays([
        _str_array(pop.number[:n]),
        _str_array(pop.name_k[:n]),
        _str_array(pop.reg_kana[:n]),
        _date_array(pop.birth[:n]),
        _str_array(pop.sex_str[:n]),
        _str_array(pop.addr[:n]),
        _str_array(pop.muni_code[:n]),
        _str_array(hh_ids[pop.hh[:n]]),
        _str_array(status),
        _date_array(np.maximum(pop.status_date[:n], 0), pop.status_date[:n] < 0),
    ], names=list(RESIDENT_COLUMNS))


def _household_ids(pop: _Pop) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence([pop.n, pop.n_hh, 77]))
    ids = _unique_ints(rng, 10 ** 9, 10 ** 10, pop.n_hh)
    return np.array([f"{x:010d}" for x in ids], dtype=object)


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------

def _cp932_safe(table: pa.Table, counter: dict) -> pa.Table:
    """Replace characters CP932 cannot hold (e.g. 𠮷) by their standard forms, or 〓."""
    old2std = _tables()["old2std"]
    cols = []
    for name in table.column_names:
        col = table[name]
        if not pa.types.is_string(col.type):
            cols.append(col)
            continue
        vals = col.to_pylist()
        chars = set("".join(v for v in vals if v))
        bad = set()
        for c in chars:
            try:
                c.encode("cp932")
            except UnicodeEncodeError:
                bad.add(c)
        if bad:
            tr = {}
            for c in bad:
                s = old2std.get(c, "〓")
                try:
                    s.encode("cp932")
                except UnicodeEncodeError:
                    s = "〓"
                tr[ord(c)] = s
            out = []
            for v in vals:
                if v and any(c in bad for c in v):
                    counter["cp932_substitutions"] = counter.get("cp932_substitutions", 0) + 1
                    v = v.translate(tr)
                out.append(v)
            col = pa.chunked_array([pa.array(out, type=pa.string())])
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


def _write(table: pa.Table, folder: Path, fmt: str, encoding: str, counter: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, folder / "part-0.parquet", compression="snappy")
        return
    # CSV: every value text, dates YYYY-MM-DD, booleans true/false
    cols = []
    for name in table.column_names:
        col = table[name]
        if not pa.types.is_string(col.type):
            col = pc.cast(col, pa.string())
        cols.append(col)
    t = pa.Table.from_arrays(cols, names=table.column_names)
    enc = encoding.lower().replace("_", "-")
    if enc in ("cp932", "shift-jis", "shift_jis", "sjis", "ms932", "windows-31j"):
        t = _cp932_safe(t, counter)
    buf = io.BytesIO()
    pacsv.write_csv(t, buf, pacsv.WriteOptions(include_header=True, quoting_style="needed"))
    data = buf.getvalue()
    if enc not in ("utf-8", "utf8"):
        data = data.decode("utf-8").encode("cp932" if enc in (
            "cp932", "shift-jis", "shift_jis", "sjis", "ms932", "windows-31j") else encoding)
    (folder / "part-0.csv").write_bytes(data)


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------

class GenerateUsageError(UsageError, ValueError):
    """A bad generate() argument (exit status 2 from the command line)."""


def _resolve_rates(rates: dict | None) -> dict[str, float]:
    out = dict(DEFAULT_RATES)
    for k, v in (rates or {}).items():
        if k not in out:
            raise GenerateUsageError(f"unknown rate {k!r}; known: {', '.join(sorted(out))}")
        v = float(v)
        if not 0.0 <= v <= 1.0:
            raise GenerateUsageError(f"rate {k} must be within 0..1, got {v}")
        out[k] = v
    return out


def generate(output_dir: str, residents: int, seed: int, fmt: str = "parquet",
             encoding: str = "UTF-8", rates: dict | None = None,
             categories: list[str] | None = None,
             reference_date: dt.date | None = None) -> dict:
    """Write a sample register, category records and an answer key under output_dir.

    Returns a summary: counts per category, per error type and per noise kind."""
    from jobs.config import load_config

    t0 = time.perf_counter()
    if fmt not in ("parquet", "csv"):
        raise GenerateUsageError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    if residents < 1:
        raise GenerateUsageError("residents must be at least 1")
    try:
        "x".encode(encoding)
    except LookupError:
        raise GenerateUsageError(f"unknown encoding {encoding!r}") from None
    rates_ = _resolve_rates(rates)
    ref = reference_date or dt.date.today()
    all_cats = load_config()["categories"]
    if categories is None:
        cat_ids = list(all_cats)
    else:
        unknown = [c for c in categories if c not in all_cats]
        if unknown:
            raise GenerateUsageError(f"unknown categories: {', '.join(unknown)}")
        cat_ids = [c for c in all_cats if c in set(categories)]
    missing_plan = [c for c in cat_ids if c not in _PLAN]
    if missing_plan:
        raise GenerateUsageError(f"no generation plan for categories: {', '.join(missing_plan)}")

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("residents", "categories", "answer_key"):     # our own layout: replaced whole
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)
    n_phantom = max(20, residents // 100)
    pop = _build_population(int(residents), n_phantom, int(seed), rates_, ref)
    counter: dict[str, int] = {}
    _write(_residents_table(pop), out / "residents", fmt, encoding, counter)

    cat_counts: dict[str, int] = {}
    err_counts = {e: 0 for e in ERROR_TYPES}
    noise_counts = {k: 0 for k in NOISE_KINDS}
    keys = []
    noisy = 0
    for cid in cat_ids:
        table, key, ec, nc = _build_category(cid, all_cats[cid], pop, rates_, int(seed), ref)
        _write(table, out / "categories" / cid, fmt, encoding, counter)
        cat_counts[cid] = table.num_rows
        for k, v in ec.items():
            err_counts[k] = err_counts.get(k, 0) + v
        noisy += nc.pop("_records", 0)
        for k, v in nc.items():
            noise_counts[k] += v
        keys.append(pa.Table.from_arrays([
            pa.array(np.full(table.num_rows, cid, dtype=object), type=pa.string()),
            _str_array(key["record_id"]),
            _str_array(key["error_type"]),
            pa.array(key["noise"], type=pa.list_(pa.string())),
            _str_array(key["owner_number"]),
        ], names=["category", "record_id", "error_type", "noise", "owner_number"]))
    ak = pa.concat_tables(keys) if keys else pa.table({
        "category": pa.array([], pa.string()), "record_id": pa.array([], pa.string()),
        "error_type": pa.array([], pa.string()), "noise": pa.array([], pa.list_(pa.string())),
        "owner_number": pa.array([], pa.string())})
    (out / "answer_key").mkdir(parents=True, exist_ok=True)
    pq.write_table(ak, out / "answer_key" / "part-0.parquet", compression="snappy")

    total = int(sum(cat_counts.values()))
    summary = {
        "residents": int(residents),
        "households": int(len(np.unique(pop.hh[: pop.n]))),
        "foreign_residents": int(pop.foreign[: pop.n].sum()),
        "deceased": int((pop.status[: pop.n] == 1).sum()),
        "removed": int((pop.status[: pop.n] == 2).sum()),
        "name_kana_missing": int(sum(1 for v in pop.reg_kana[: pop.n] if v is None)),
        "same_name_birth_pairs": len(pop.same_birth_pairs),
        "records": total,
        "records_per_resident": round(total / residents, 3),
        "error_records": int(sum(err_counts.values())),
        "noisy_records": noisy,
        "categories": cat_counts,
        "errors": err_counts,
        "noise": noise_counts,
        **counter,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    meta = {
        "seed": int(seed),
        "residents": int(residents),
        "format": fmt,
        "encoding": encoding,
        "reference_date": ref.isoformat(),
        "categories": cat_ids,
        "rates": rates_,
        "counts": summary,
    }
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m jobs.generate", description=__doc__.splitlines()[0])
    ap.add_argument("output_dir")
    ap.add_argument("--residents", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", dest="fmt", choices=("parquet", "csv"), default="parquet")
    ap.add_argument("--encoding", default="UTF-8")
    ap.add_argument("--reference-date", type=dt.date.fromisoformat, default=None)
    ap.add_argument("--categories", default=None, help="comma-separated category ids")
    ap.add_argument("--rate", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args(argv)
    rates = {}
    for kv in a.rate:
        k, _, v = kv.partition("=")
        rates[k] = float(v)
    cats = a.categories.split(",") if a.categories else None
    summary = generate(a.output_dir, a.residents, a.seed, a.fmt, a.encoding, rates or None, cats,
                       a.reference_date)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
