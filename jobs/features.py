"""Normalise and tokenise: comparison keys for residents and records (DataFrame -> DataFrame).

The keys make normal variation compare equal (see `jobs.normalise`).  Normalisation is
the costliest per-value work of a run (some forty regular expressions per record), and
the same values come back again and again: one person's name, reading and address appear
in the register and in each of their records, so a sample has about one distinct name per
seven rows.  The keys are therefore computed once per **distinct value**, in three value
tables (names, readings, addresses; `value_tables`), and joined back to every row on the
raw value.  The same tables serve the register and the records, so a name written the same
way on both sides is normalised once.

Inside a table each expensive normalisation runs once per value: the parts are computed in
one projection and the whole-name keys and the area key are derived from them in the next,
so Spark does not inline (and repeat) the large expressions.
"""

from __future__ import annotations

from typing import NamedTuple

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs import normalise as N
from jobs.joins import broadcast_if_small

NAME_KEYS = ("nk", "nfam", "ngiv", "alpha", "atok", "rfam", "rgiv", "rfull")
KANA_KEYS = ("kk", "kfam", "kgiv", "ks", "katok")
ADDRESS_KEYS = ("ak", "aa")
FEATURES = ("nk", "nfam", "ngiv", "kk", "kfam", "kgiv", "ks", "alpha", "atok", "ak", "aa")
"""The comparison keys every resident and record gets (plus the readings ``rfam``/``rgiv``/``rfull``)."""
HOLDER_KEYS = {"kfam": "hfam", "kgiv": "hgiv", "kk": "hk", "ks": "hks", "katok": "hatok", "ksnd": "hsnd"}
"""The account holder's keys of a record: reading-table column -> record column."""
RECORD_KEYS = FEATURES + ("rfam", "rgiv", "rfull", "bd", "sx") + tuple(HOLDER_KEYS.values())
"""Every comparison key `record_features` adds."""

BROADCAST_VALUE_ROWS = 1_000_000
"""Value tables up to this many rows are joined back by broadcast (``run.broadcast_value_rows``)."""

_ALPHA_NAME = r"^[A-Z][A-Z.,'\-]*$"


class ValueTables(NamedTuple):
    """The keys of each distinct raw value (column ``v``): names, readings, addresses."""

    names: DataFrame
    kana: DataFrame
    addresses: DataFrame


def _distinct(frames_and_cols: list[tuple[DataFrame, Column]]) -> DataFrame:
    parts = [df.select(col.alias("v")) for df, col in frames_and_cols]
    union = parts[0]
    for p in parts[1:]:
        union = union.unionByName(p)
    return union.where(F.col("v").isNotNull()).distinct()


def name_table(values: DataFrame, readings: DataFrame | None = None) -> DataFrame:
    """``v`` -> ``nfam``, ``ngiv``, ``nk``, ``alpha``, ``atok``, ``asnd`` (an alphabet name's
    sound key, `jobs.normalise.alpha_sound_key`) and, with a reading table,
    ``rfam``/``rgiv`` (`jobs.readings.add_readings`; null arrays without one)."""
    parts = values.select("v", N.name_pieces(F.col("v")).alias("__np"))
    keyed = parts.select(
        "v",
        F.nullif(F.get("__np", 0), F.lit("")).alias("nfam"),
        F.nullif(F.get("__np", 1), F.lit("")).alias("ngiv"),
    ).withColumn("nk", F.nullif(F.concat_ws("", "nfam", "ngiv"), F.lit("")))
    alpha = F.coalesce(F.col("nk").rlike(_ALPHA_NAME), F.lit(False))
    # an alphabet name's keys are its letters: JI-WOO, JIWOO and O'BRIEN, OBRIEN compare equal
    letters = {c: F.when(F.col("alpha"), F.nullif(F.regexp_replace(c, "[^A-Z]", ""), F.lit(""))).otherwise(F.col(c))
               for c in ("nfam", "ngiv", "nk")}
    keyed = (keyed.select("v", "nfam", "ngiv", "nk", alpha.alias("alpha"))
             .select("v", *[letters[c].alias(c) for c in ("nfam", "ngiv", "nk")], "alpha",
                     F.when(F.col("alpha"), N.alpha_tokens(F.col("v"))).alias("atok"))
             .withColumn("asnd", N.alpha_sound_key("atok")))
    if readings is not None:
        from jobs.readings import add_readings

        keyed = keyed.transform(add_readings, readings)
    else:
        none = F.lit(None).cast("array<string>")
        keyed = keyed.select("*", none.alias("rfam"), none.alias("rgiv"))
    # a part written in kana (小林 さくら) reads as itself
    kana_only = "^[\u30a1-\u30fa]+$"
    keyed = (keyed.withColumn("rfam", F.coalesce("rfam", F.when(F.col("nfam").rlike(kana_only), F.array("nfam"))))
             .withColumn("rgiv", F.coalesce("rgiv", F.when(F.col("ngiv").rlike(kana_only), F.array("ngiv")))))
    from jobs.readings import full_readings

    return keyed.withColumn("rfull", full_readings(F.col("rfam"), F.col("rgiv"), F.col("ngiv")))


def kana_table(values: DataFrame) -> DataFrame:
    """``v`` -> ``kfam``, ``kgiv``, ``kk``, ``ks`` (the sorted parts of a reading of three or
    more parts, `jobs.normalise.kana_token_set`), ``katok`` (alphabet tokens of a holder
    name written in the alphabet, as foreign residents' accounts are) and ``ksnd`` (the
    sound key, `jobs.normalise.kana_sound_key`)."""
    parts = values.select("v", N.kana_pieces(F.col("v")).alias("__kp"))
    keyed = parts.select(
        "v",
        F.nullif(F.get("__kp", 0), F.lit("")).alias("kfam"),
        F.nullif(F.get("__kp", 1), F.lit("")).alias("kgiv"),
    ).withColumn("kk", F.nullif(F.concat_ws("", "kfam", "kgiv"), F.lit("")))
    keyed = keyed.withColumn("ks", N.kana_token_set(F.col("v")))
    return keyed.select("*", F.when(F.col("kk").rlike(_ALPHA_NAME), N.alpha_tokens(F.col("v"))).alias("katok"),
                        N.kana_sound_key(F.col("v")).alias("ksnd"))


def address_table(values: DataFrame) -> DataFrame:
    """``v`` -> ``ak`` (address key) and ``aa`` (its area part)."""
    keyed = values.select("v", N.address_key(F.col("v")).alias("ak"))
    return keyed.select("v", "ak", N.area_of_address_key("ak").alias("aa"))


def kept_fields(categories: dict) -> dict[str, Column]:
    """Each basic field of a record, null where the category's holder does not keep it
    (conf/categories.yaml): such a field is compared as missing, whatever the file holds."""
    kept = {}
    for field in ("name_kanji", "name_kana", "birth_date", "sex", "address"):
        ids = [cid for cid, spec in categories.items() if field in spec["fields"]]
        kept[field] = F.when(F.col("category").isin(ids), F.col(field))
    return kept


def broadcast_small(tables: ValueTables, max_rows: int) -> ValueTables:
    """Mark the value tables of at most ``max_rows`` rows for a broadcast join.

    Joined back by broadcast, the wide rows of the register and the records are not shuffled
    (four sort-merge joins per record cost four times what normalising did on a 200k
    sample); a national run's tables are too large and stay shuffle joins.  The tables
    should be materialised: each is counted (up to ``max_rows + 1`` rows)."""
    return ValueTables(*[broadcast_if_small(t, max_rows)[0] for t in tables])


def value_tables(residents: DataFrame | None, records: DataFrame | None = None,
                 categories: dict | None = None, readings: DataFrame | None = None) -> ValueTables:
    """The three value tables of every distinct name, reading (holder names included) and
    address of the cleaned residents and (optionally) records.

    Materialise them when they are joined more than once (the pipeline checkpoints them)."""
    names, kana, addresses = [], [], []
    if residents is not None:
        names.append((residents, F.col("name_kanji")))
        kana.append((residents, F.col("name_kana")))
        addresses.append((residents, F.col("address")))
    if records is not None:
        kept = kept_fields(categories or {})
        names.append((records, kept["name_kanji"]))
        kana.append((records, kept["name_kana"]))
        if "account_holder_kana" in records.columns:
            kana.append((records, F.col("account_holder_kana")))
        addresses.append((records, kept["address"]))
    return ValueTables(name_table(_distinct(names), readings), kana_table(_distinct(kana)),
                       address_table(_distinct(addresses)))


def _join_keys(df: DataFrame, value: Column, table: DataFrame, keys: dict[str, str]) -> DataFrame:
    """Left-join ``table`` on ``value`` = ``v``, adding ``keys`` (table column -> new name)."""
    side = table.select(F.col("v").alias("__v"), *[F.col(k).alias(out) for k, out in keys.items()])
    return df.join(side, value == F.col("__v"), "left").drop("__v")


def _add_keys(df: DataFrame, tables: ValueTables, name: Column, kana: Column, address: Column,
              name_keys: tuple[str, ...] = NAME_KEYS) -> DataFrame:
    out = _join_keys(df, name, tables.names, {k: k for k in name_keys})
    out = _join_keys(out, kana, tables.kana, {"kk": "kk", "kfam": "kfam", "kgiv": "kgiv", "ks": "ks"})
    out = _join_keys(out, address, tables.addresses, {"ak": "ak", "aa": "aa"})
    return out.withColumn("alpha", F.coalesce(F.col("alpha"), F.lit(False)))


def resident_features(df: DataFrame, tables: ValueTables | None = None,
                      readings: DataFrame | None = None) -> DataFrame:
    """Add comparison keys to cleaned resident rows (``FEATURES`` plus ``rfam``/``rgiv`` and
    ``asnd``, the sound key an account holder's katakana is matched with).

    ``tables`` are the value tables of `value_tables`; without them they are built from
    ``df`` itself (with ``readings``, the reading table, when given)."""
    tables = tables or value_tables(df, readings=readings)
    return _add_keys(df, tables, F.col("name_kanji"), F.col("name_kana"), F.col("address"),
                     NAME_KEYS + ("asnd",))


def record_features(df: DataFrame, categories: dict, tables: ValueTables | None = None,
                    readings: DataFrame | None = None) -> DataFrame:
    """Add comparison keys to cleaned records, blanking fields the holder does not keep,
    plus ``bd``/``sx`` and the account holder's keys ``hfam``/``hgiv``/``hk``/``hks``/``hatok``/``hsnd``."""
    tables = tables or value_tables(None, df, categories, readings)
    kept = kept_fields(categories)
    staged = df.select("*", kept["birth_date"].alias("bd"), kept["sex"].alias("sx"))
    if "account_holder_kana" in df.columns:
        staged = _join_keys(staged, F.col("account_holder_kana"), tables.kana, HOLDER_KEYS)
    else:
        staged = staged.select("*", *[F.lit(None).cast("array<string>" if k == "katok" else "string").alias(out)
                                      for k, out in HOLDER_KEYS.items()])
    return _add_keys(staged, tables, kept["name_kanji"], kept["name_kana"], kept["address"])
