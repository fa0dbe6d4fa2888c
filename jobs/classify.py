"""Classify: turn verified (and searched) records into the suspects rows of the contract."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.compare import FIELDS

SEVERITY_RANK = {"high": 3, "medium": 2, "low": 1}


def primary_reason(reasons: Column, precedence: list[dict]) -> Column:
    """The first reason in configured precedence that the row has."""
    return F.coalesce(*[F.when(F.array_contains(reasons, r["code"]), F.lit(r["code"])) for r in precedence])


def severity_of(primary: Column, precedence: list[dict]) -> Column:
    expr = F.lit("low")
    for r in reversed(precedence):
        expr = F.when(primary == r["code"], F.lit(r["severity"])).otherwise(expr)
    return expr


def _levels_map(prefix: str) -> Column:
    """``{field: <prefix><field>}``: the levels (``lv_``) or weights (``w_``) of the five
    fields as one map, built for the suspects only."""
    return F.create_map(*[x for f in FIELDS for x in (F.lit(f), F.col(f"{prefix}{f}"))])


def evidence(df: DataFrame) -> Column:
    """What a reviewer needs to see why: per-field levels and weights for the linked and the
    suggested resident, the name judgement, age, and the records a duplicate or shared
    account involves."""
    has_sugg = "s_lv_name_kanji" in df.columns
    null_map_s = F.lit(None).cast("map<string,string>")
    null_map_d = F.lit(None).cast("map<string,double>")
    return F.struct(
        F.when(F.col("r_num").isNotNull(), _levels_map("lv_")).alias("linked_levels"),
        F.when(F.col("r_num").isNotNull(), _levels_map("w_")).alias("linked_weights"),
        (_levels_map("s_lv_") if has_sugg else null_map_s).alias("suggested_levels"),
        (F.when(F.col("s_w_name_kanji").isNotNull(), _levels_map("s_w_")) if has_sugg
         else null_map_d).alias("suggested_weights"),
        F.col("name_judgement").alias("name_judgement"),
        F.col("number_state").alias("number_state"),
        F.col("r_status").alias("resident_status"),
        F.col("age").alias("age"),
        F.when(F.col("is_dup"), F.col("dup_records")).alias("duplicate_records"),
        F.col("acct_records").alias("shared_account_records"),
        (F.col("holder_in_household") if "holder_in_household" in df.columns
         else F.lit(None).cast("boolean")).alias("holder_in_household"),
        (F.col("n_candidates") if "n_candidates" in df.columns
         else F.lit(None).cast("int")).alias("candidates"),
    )


def holder_of(categories: dict) -> Column:
    """The holder id of each row's category (conf/categories.yaml)."""
    holder = F.lit(None).cast("string")
    for cid, spec in categories.items():
        holder = F.when(F.col("category") == cid, F.lit(spec.get("holder_id"))).otherwise(holder)
    return holder


def suspects(df: DataFrame, run_id: str, cfg: dict) -> DataFrame:
    """One row per flagged record, with the contract's columns plus holder and priority."""
    precedence = cfg["thresholds"]["reasons"]
    holder = holder_of(cfg["categories"])
    flagged = df.where(F.size("reasons") > 0)
    prim = primary_reason(F.col("reasons"), precedence)
    sev = severity_of(prim, precedence)
    sugg_token = F.col("s_token") if "s_token" in df.columns else F.lit(None).cast("string")
    sugg_score = F.col("s_score") if "s_score" in df.columns else F.lit(None).cast("double")
    sev_rank = F.when(sev == "high", 3).when(sev == "medium", 2).otherwise(1)
    return flagged.select(
        F.lit(run_id).alias("run_id"),
        F.col("category"),
        F.col("record_id"),
        prim.alias("reason"),
        F.col("reasons"),
        sev.alias("severity"),
        F.col("resident_token"),
        sugg_token.alias("suggested_token"),
        F.col("score").cast("double").alias("score"),
        sugg_score.cast("double").alias("suggested_score"),
        evidence(df).alias("evidence"),
        holder.alias("holder_id"),
        F.coalesce(F.col("r_muni"), F.lit(None).cast("string")).alias("municipality_code"),
        (sev_rank.cast("double") + F.coalesce(sugg_score, F.lit(0.0)) * 0.5
         + (F.lit(1.0) - F.col("score")) * 0.4).alias("priority"),
    )


WRONG_LINK_REASONS = ("LINKED_TO_OTHER_PERSON", "LINKED_TO_HOUSEHOLD_MEMBER", "AMBIGUOUS_IDENTITY", "ATTRIBUTE_MISMATCH")
"""Reasons that say the link itself is wrong or unconfirmed: such a record is no correction."""

CORRECTIONS_SCHEMA = ("run_id string, category string, record_id string, field string, level string, weight double, "
                      "score double, resident_token string, holder_id string, municipality_code string")
"""The ``corrections`` table."""


def corrections(df: DataFrame, run_id: str, cfg: dict) -> DataFrame:
    """Same person, wrong data: one row per record and field of ``decision.correction_fields``
    where a record that is probably its linked person's (not doubtful, no other person found)
    differs beyond notation (a correctable level of kind differ, `jobs.compare.Comparison.
    corrections`: a mistyped birth date, a name part left out, an address number mistyped; not
    an older address).  These are not wrong links and not suspects: they go to the holder as corrections.
    No raw value: the field, its level and weight, and the person's token.

    ``df`` holds the verified and searched rows with ``resident_token``."""
    from jobs.compare import COMPARISONS

    fields = cfg["thresholds"]["decision"]["correction_fields"]
    if not fields:
        return df.sparkSession.createDataFrame([], CORRECTIONS_SCHEMA)
    wrong = F.lit(False)
    for code in WRONG_LINK_REASONS:
        wrong = wrong | F.array_contains(F.col("reasons"), code)
    cells = F.array(*[F.when(F.col(f"lv_{f}").isin(*COMPARISONS[f].corrections),
                             F.struct(F.lit(f).alias("field"), F.col(f"lv_{f}").alias("level"),
                                      F.col(f"w_{f}").cast("double").alias("weight"))) for f in fields])
    rows = df.where(F.col("r_num").isNotNull() & ~F.col("doubtful") & ~wrong)
    return (rows.select("category", "record_id", "score", "resident_token", holder_of(cfg["categories"]).alias("holder_id"),
                        F.col("r_muni").alias("municipality_code"),
                        F.explode(F.filter(cells, lambda c: c.isNotNull())).alias("__c"))
            .select(F.lit(run_id).alias("run_id"), "category", "record_id", "__c.field", "__c.level", "__c.weight",
                    F.col("score").cast("double").alias("score"), "resident_token", "holder_id", "municipality_code"))
