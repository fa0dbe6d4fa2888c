"""Readings of kanji names, so that a kanji-only name compares with a kana name.

A holder may keep a name in kanji only (陽子) while the register or another holder has its
reading (ヨウコ), or two records may spell one reading with other kanji (洋子/陽子).  The
readings come from the kanji-kana dictionary shipped in the ``pykakasi`` package (PyPI;
about 270,000 words, several readings per word, name readings included: 公 reads コウ,
イサオ, ヒトシ …).  Nothing of it is copied into this repository: the table is read from
the installed package at run time.

`reading_table` turns the dictionary into a Spark DataFrame ``(rw, rr)``: the word keyed
with `jobs.normalise.name_pieces`'s rules and its readings keyed with `kana_key`'s
(bank style, so that they compare with every other reading in Tenken).  `add_readings`
adds ``rfam``/``rgiv`` (possible readings of the family and given name parts) to a frame
with ``nfam``/``ngiv``: a word missing from the dictionary but made of two words that are
in it (陽翔 = 陽 + 翔) gets the combinations of their readings.  `reading_keys` derives the
blocking keys: ``rk`` (full readings) and ``rkf`` (family readings).

Only Spark joins and higher-order functions run on the data: the dictionary is a small
broadcast table.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import unicodedata
from functools import lru_cache
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import normalise as N

MAX_WORD = 4          # longest name part looked up (in characters)
MAX_READINGS = 12     # readings kept per word (the most common come first in the dictionary)
MAX_COMBINED = 24     # readings kept for a word combined from two words
MAX_FULL = 16         # full-name readings per record used as blocking keys
MAX_COMPARED = 64     # full-name readings per name kept for comparison (rfull)


def _is_name_char(ch: str) -> bool:
    return ch in "々〆ヶ" or unicodedata.name(ch, "").startswith("CJK ")


@lru_cache(maxsize=1)
def dictionary_rows() -> tuple[tuple[str, str], ...]:
    """(word, reading) pairs of kanji words of at most MAX_WORD characters, from pykakasi."""
    try:
        from importlib.resources import files

        data = files("pykakasi") / "data" / "kanwadict4.db"
        with data.open("rb") as fh:
            table = pickle.load(fh)
    except Exception as exc:  # noqa: BLE001 - a missing package is a setup problem
        from jobs.errors import UsageError

        raise UsageError(f"the name-reading dictionary (pykakasi) cannot be read: {exc}") from None
    rows = []
    for words in table.values():
        for word, readings in words.items():
            if not (1 <= len(word) <= MAX_WORD) or not all(_is_name_char(ch) for ch in word):
                continue
            seen = []
            for reading, _ in readings:
                if reading and all("\u3041" <= ch <= "\u309f" or ch == "ー" for ch in reading) and reading not in seen:
                    seen.append(reading)
            for reading in seen[:MAX_READINGS]:
                rows.append((word, reading))
    return tuple(rows)


def _cache_name() -> str:
    """Cache file name: changes whenever the dictionary or the keying rules change."""
    from importlib.metadata import version

    h = hashlib.sha256()
    for path in (Path(N.__file__), Path(__file__), Path(N.__file__).with_name("data") / "kanji_variants.tsv"):
        h.update(path.read_bytes())
    return f"readings-pykakasi{version('pykakasi')}-{h.hexdigest()[:12]}.parquet"


def reading_table(spark: SparkSession, cache_dir: str | None = None) -> DataFrame:
    """The reading table, read from ``cache_dir`` when it was built there before.

    Building it keys 200,000 words with the normalisation expressions (half a minute on
    two cores); the cache makes that once per machine.  On a cluster ``cache_dir`` must
    be storage every executor reads (or null: build it in each run)."""
    if not cache_dir:
        return build_reading_table(spark)
    target = Path(cache_dir).expanduser() / _cache_name()
    if not (target / "_SUCCESS").exists():
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        build_reading_table(spark).coalesce(1).write.mode("overwrite").parquet(str(tmp))
        try:
            os.replace(tmp, target)
        except OSError:  # another run built it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    return spark.read.parquet(str(target))


def configured_table(spark: SparkSession, cfg: dict) -> DataFrame:
    """`reading_table` with the cache folder of the configuration (``readings.cache_dir``)."""
    return reading_table(spark, (cfg.get("readings") or {}).get("cache_dir"))


def build_reading_table(spark: SparkSession) -> DataFrame:
    """``rw`` (word as a name key) -> ``rr`` (array of reading keys), one row per word.

    The rows go to Spark as one Arrow batch (words with their readings joined by "|"); the
    keys are then made by the same Spark expressions as every other name and reading."""
    import pandas as pd

    grouped: dict[str, list[str]] = {}
    for word, reading in dictionary_rows():
        grouped.setdefault(word, []).append(reading)
    pdf = pd.DataFrame({"w": list(grouped), "r": ["|".join(v) for v in grouped.values()]})
    prev = spark.conf.get("spark.sql.execution.arrow.pyspark.enabled", "false")
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    try:
        raw = spark.createDataFrame(pdf, "w string, r string")
    finally:
        spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", prev)
    keyed = raw.select(F.get(N.name_pieces(F.col("w")), 0).alias("rw"),
                       F.transform(F.split("r", "[|]"), lambda x: N.kana_key(x)).alias("rr"))
    return (keyed.where(F.col("rw").isNotNull() & (F.col("rw") != ""))
            .select("rw", F.explode("rr").alias("r")).where(F.col("r").isNotNull())
            .groupBy("rw").agg(F.array_sort(F.collect_set("r")).alias("rr")))


def _lookup(df: DataFrame, table: DataFrame, part: str, out: str) -> DataFrame:
    """Readings of ``part``: the word itself, else first character + rest or first two + rest."""
    whole = F.broadcast(table.select(F.col("rw").alias("__w"), F.col("rr").alias("__whole")))
    head1 = F.broadcast(table.select(F.col("rw").alias("__h1"), F.col("rr").alias("__rh1")))
    tail1 = F.broadcast(table.select(F.col("rw").alias("__t1"), F.col("rr").alias("__rt1")))
    head2 = F.broadcast(table.select(F.col("rw").alias("__h2"), F.col("rr").alias("__rh2")))
    tail2 = F.broadcast(table.select(F.col("rw").alias("__t2"), F.col("rr").alias("__rt2")))
    p = F.col(part)
    short = p.isNotNull() & (F.length(p) >= 2) & (F.length(p) <= MAX_WORD)
    joined = (
        df.join(whole, p == F.col("__w"), "left")
        .join(head1, short & (F.left(p, F.lit(1)) == F.col("__h1")), "left")
        .join(tail1, short & (F.substring(p, 2, MAX_WORD) == F.col("__t1")), "left")
        .join(head2, short & (F.length(p) >= 3) & (F.left(p, F.lit(2)) == F.col("__h2")), "left")
        .join(tail2, short & (F.length(p) >= 3) & (F.substring(p, 3, MAX_WORD) == F.col("__t2")), "left")
    )

    def combos(a: str, b: str):
        return F.when(F.col(a).isNotNull() & F.col(b).isNotNull(),
                      F.flatten(F.transform(F.col(a), lambda x: F.transform(F.col(b), lambda y: F.concat(x, y)))))

    combined = F.slice(F.array_distinct(F.concat(
        F.coalesce(combos("__rh1", "__rt1"), F.array().cast("array<string>")),
        F.coalesce(combos("__rh2", "__rt2"), F.array().cast("array<string>")))), 1, MAX_COMBINED)
    readings = F.coalesce(F.col("__whole"), F.when(F.size(combined) > 0, combined))
    return joined.withColumn(out, readings).drop("__w", "__whole", "__h1", "__rh1", "__t1", "__rt1",
                                                 "__h2", "__rh2", "__t2", "__rt2")


def add_readings(df: DataFrame, table: DataFrame) -> DataFrame:
    """Add ``rfam`` and ``rgiv``: the dictionary readings of ``nfam`` and ``ngiv`` (null when
    the part is not written in kanji or the dictionary does not know it)."""
    return df.transform(_lookup, table, "nfam", "rfam").transform(_lookup, table, "ngiv", "rgiv")


def full_readings(rfam, rgiv, ngiv):
    """``rfull``: the possible full readings of a kanji name (each family reading followed by
    each given reading; the family readings alone when the name has no given part), at most
    MAX_COMPARED.  Computed once per distinct name (`jobs.features.name_table`), so that
    comparing a reading with them is one ``array_contains``."""
    combos = F.flatten(F.transform(rfam, lambda x: F.transform(rgiv, lambda y: F.concat(x, y))))
    return F.slice(F.coalesce(F.when(ngiv.isNull(), rfam), combos), 1, MAX_COMPARED)


def reading_keys(df: DataFrame) -> DataFrame:
    """Blocking keys from readings: ``rk`` the possible full readings (family x given, or the
    kana key when there is one) and ``rkf`` the possible family readings, as arrays."""
    fam = F.coalesce(F.when(F.col("kfam").isNotNull(), F.array("kfam")), F.col("rfam"))
    giv = F.coalesce(F.when(F.col("kgiv").isNotNull(), F.array("kgiv")), F.col("rgiv"))
    full = F.flatten(F.transform(fam, lambda x: F.transform(giv, lambda y: F.concat(x, y))))
    rk = F.coalesce(F.when(F.col("kk").isNotNull(), F.array("kk")),
                    F.slice(full, 1, MAX_FULL))
    return df.withColumn("rk", rk).withColumn("rkf", fam)
