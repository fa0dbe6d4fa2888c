"""Normalise and tokenise: comparison keys for residents and records (DataFrame -> DataFrame).

The keys make normal variation compare equal (see `jobs.normalise`).  Each expensive
normalisation runs once per value: the parts are computed in one projection and the
whole-name keys and the area key are derived from them in the next, so Spark does not
inline (and repeat) the large expressions.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs import normalise as N

FEATURES = ("nk", "nfam", "ngiv", "kk", "kfam", "kgiv", "alpha", "atok", "ak", "aa")


def _add_name_features(df: DataFrame, name: Column, kana: Column, address: Column) -> DataFrame:
    base = [c for c in df.columns if c not in FEATURES]
    layer1 = df.select(
        *base,
        N.name_pieces(name).alias("__np"),
        N.kana_pieces(kana).alias("__kp"),
        N.address_key(address).alias("ak"),
        name.alias("__name"),
    )
    layer2 = layer1.select(
        *base,
        F.nullif(F.get("__np", 0), F.lit("")).alias("nfam"),
        F.nullif(F.get("__np", 1), F.lit("")).alias("ngiv"),
        F.nullif(F.get("__kp", 0), F.lit("")).alias("kfam"),
        F.nullif(F.get("__kp", 1), F.lit("")).alias("kgiv"),
        "ak",
        N.area_of_address_key("ak").alias("aa"),
        "__name",
    )
    nk = F.nullif(F.concat_ws("", "nfam", "ngiv"), F.lit(""))
    kk = F.nullif(F.concat_ws("", "kfam", "kgiv"), F.lit(""))
    layer3 = layer2.select("*", nk.alias("nk"), kk.alias("kk"))
    alpha = F.coalesce(F.col("nk").rlike(r"^[A-Z][A-Z.,'\-]*$"), F.lit(False))
    return layer3.select(
        *base, *[c for c in ("nk", "nfam", "ngiv", "kk", "kfam", "kgiv")],
        alpha.alias("alpha"),
        F.when(alpha, N.alpha_tokens(F.col("__name"))).alias("atok"),
        "ak", "aa",
    )


def resident_features(df: DataFrame) -> DataFrame:
    """Add comparison keys to cleaned resident rows."""
    return _add_name_features(df, F.col("name_kanji"), F.col("name_kana"), F.col("address"))


def record_features(df: DataFrame, categories: dict) -> DataFrame:
    """Add comparison keys to cleaned records, blanking fields the holder does not keep.

    A field the category's holder does not keep (conf/categories.yaml) is compared as
    missing, whatever the file holds.
    """
    kept = {}
    for field in ("name_kanji", "name_kana", "birth_date", "sex", "address"):
        ids = [cid for cid, spec in categories.items() if field in spec["fields"]]
        kept[field] = F.when(F.col("category").isin(ids), F.col(field))
    staged = df.select("*", kept["birth_date"].alias("bd"), kept["sex"].alias("sx"),
                       N.kana_pieces(F.col("account_holder_kana")).alias("__hp"))
    staged = staged.select(
        *[c for c in staged.columns if c != "__hp"],
        F.nullif(F.get("__hp", 0), F.lit("")).alias("hfam"), F.nullif(F.get("__hp", 1), F.lit("")).alias("hgiv"),
    ).withColumn("hk", F.nullif(F.concat_ws("", "hfam", "hgiv"), F.lit("")))
    # an account holder written in the alphabet (foreign residents): compared token by token
    staged = staged.withColumn("hatok", F.when(F.col("hk").rlike(r"^[A-Z][A-Z.,'\-]*$"),
                                                N.alpha_tokens(F.col("account_holder_kana"))))
    return _add_name_features(staged, kept["name_kanji"], kept["name_kana"], kept["address"])
