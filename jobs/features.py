"""Normalise and tokenise: comparison keys for residents and records (DataFrame -> DataFrame).

The keys make normal variation compare equal (see `jobs.normalise`); the raw values are
kept for the holder's own view but never leave the run.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs import normalise as N

ALPHA = r"^[A-Z][A-Z .,'\-]*$"


def _name_features(name: Column, kana: Column, address: Column) -> dict[str, Column]:
    nparts = N.name_parts(name)
    kparts = N.kana_parts(kana)
    return {
        "nk": N.name_key(name),
        "nfam": nparts["family"],
        "ngiv": nparts["given"],
        "kk": N.kana_key(kana),
        "kfam": kparts["family"],
        "kgiv": kparts["given"],
        "alpha": F.upper(N.fold_width(name)).rlike(ALPHA),
        "atok": N.alpha_tokens(name),
        "ak": N.address_key(address),
        "aa": N.address_area_key(address),
    }


def resident_features(df: DataFrame) -> DataFrame:
    """Add comparison keys to cleaned resident rows."""
    feats = _name_features(F.col("name_kanji"), F.col("name_kana"), F.col("address"))
    return df.select("*", *[v.alias(k) for k, v in feats.items()])


def record_features(df: DataFrame, categories: dict) -> DataFrame:
    """Add comparison keys to cleaned records, blanking fields the holder does not keep.

    A field the category's holder does not keep (conf/categories.yaml) is compared as
    missing, whatever the file holds.
    """
    kept = {}
    for field in ("name_kanji", "name_kana", "birth_date", "sex", "address"):
        ids = [cid for cid, spec in categories.items() if field in spec["fields"]]
        kept[field] = F.when(F.col("category").isin(ids), F.col(field))
    feats = _name_features(kept["name_kanji"], kept["name_kana"], kept["address"])
    feats["bd"] = kept["birth_date"]
    feats["sx"] = kept["sex"]
    feats["hk"] = N.kana_key(F.col("account_holder_kana"))
    feats["hfam"] = N.kana_parts(F.col("account_holder_kana"))["family"]
    feats["hgiv"] = N.kana_parts(F.col("account_holder_kana"))["given"]
    return df.select("*", *[v.alias(k) for k, v in feats.items()])
