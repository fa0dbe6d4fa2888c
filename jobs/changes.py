"""Run-to-run changes: which suspects are new, which persist and which were resolved.

A run is compared with the previous published run (``publish.latest_published`` with
``before``), keyed on ``(category, record_id)``:

- ``new``         flagged now, not flagged in the previous run;
- ``persisting``  flagged in both (``reason`` and ``previous_reason`` show whether the
                  reason changed);
- ``resolved``    flagged in the previous run, checked again now and no longer flagged;
- ``quarantined`` flagged in the previous run, but its row was quarantined now, so it
                  was not checked (neither resolved nor persisting).

Only categories the current run checked are compared: a category left out of a run
(``--categories``) has nothing resolved.  The result is kept queryable in the Delta table
``OUTPUT/changes`` (one set of rows per run, replaced when rebuilt), written by
``tenken changes`` and ``tenken report``.  No tokens: ids, codes and reasons only.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import publish
from jobs.report import resolve_run

CHANGE_KINDS = ("new", "persisting", "resolved", "quarantined")
CHANGE_JA = {"new": "新規", "persisting": "継続", "resolved": "解消", "quarantined": "隔離（未点検）"}

CHANGES_SCHEMA = T.StructType([
    T.StructField("run_id", T.StringType(), False),
    T.StructField("previous_run_id", T.StringType(), True),
    T.StructField("category", T.StringType(), False),
    T.StructField("holder_id", T.StringType(), True),
    T.StructField("record_id", T.StringType(), False),
    T.StructField("change", T.StringType(), False),
    T.StructField("reason", T.StringType(), True),
    T.StructField("previous_reason", T.StringType(), True),
    T.StructField("severity", T.StringType(), True),
    T.StructField("previous_severity", T.StringType(), True),
])


def _suspects_of(sus: DataFrame, run_id: str) -> DataFrame:
    return sus.where(F.col("run_id") == run_id).select("category", "record_id", "holder_id", "reason", "severity")


def compute_changes(spark: SparkSession, output: str, run_id: str | None = None) -> tuple[DataFrame, dict]:
    """Row-level changes of ``run_id`` (default: the newest published run) against the
    previous published run, as a DataFrame with ``CHANGES_SCHEMA``, and the context
    ``{"run_id", "previous_run_id", "categories", "previous_categories"}``."""
    run = resolve_run(spark, output, run_id, published_only=True)
    run_id = run["run_id"]
    checked = [c["category"] for c in (run.get("categories") or [])]
    prev_id = publish.latest_published(spark, output, before=run_id)
    prev_cats: list[str] = []
    if prev_id is not None:
        prev_row = resolve_run(spark, output, prev_id)
        prev_cats = [c["category"] for c in (prev_row.get("categories") or [])]
    ctx = {"run_id": run_id, "previous_run_id": prev_id, "categories": checked, "previous_categories": prev_cats}

    sus = publish.read_table(spark, output, "suspects")
    if sus is None:
        return spark.createDataFrame([], CHANGES_SCHEMA), ctx
    cur = _suspects_of(sus, run_id)
    if prev_id is None:
        prev = spark.createDataFrame([], "category string, record_id string, holder_id string, "
                                         "reason string, severity string")
    else:
        prev = _suspects_of(sus, prev_id)
        if checked:
            prev = prev.where(F.col("category").isin(checked))
    prev = prev.select(*[F.col(c).alias(f"p_{c}") for c in prev.columns])

    quarantine = publish.read_table(spark, output, "quarantine")
    if quarantine is not None and prev_id is not None:
        dropped = (quarantine.where((F.col("run_id") == run_id) & (F.col("source") == "records")
                                    & (F.col("action") == "row_quarantined") & F.col("record_id").isNotNull())
                   .select(F.col("category").alias("q_category"), F.col("record_id").alias("q_record_id"))
                   .distinct().withColumn("q_dropped", F.lit(True)))
    else:
        dropped = spark.createDataFrame([], "q_category string, q_record_id string, q_dropped boolean")

    joined = cur.join(prev, (cur["category"] == prev["p_category"]) & (cur["record_id"] == prev["p_record_id"]),
                      "full_outer")
    category = F.coalesce(F.col("category"), F.col("p_category"))
    record_id = F.coalesce(F.col("record_id"), F.col("p_record_id"))
    joined = (joined.withColumn("k_category", category).withColumn("k_record_id", record_id)
              .join(dropped, (F.col("k_category") == F.col("q_category"))
                    & (F.col("k_record_id") == F.col("q_record_id")), "left"))
    change = (F.when(F.col("category").isNotNull() & F.col("p_category").isNotNull(), F.lit("persisting"))
              .when(F.col("category").isNotNull(), F.lit("new"))
              .when(F.coalesce(F.col("q_dropped"), F.lit(False)), F.lit("quarantined"))
              .otherwise(F.lit("resolved")))
    out = joined.select(
        F.lit(run_id).alias("run_id"),
        F.lit(prev_id).cast("string").alias("previous_run_id"),
        F.col("k_category").alias("category"),
        F.coalesce(F.col("holder_id"), F.col("p_holder_id")).alias("holder_id"),
        F.col("k_record_id").alias("record_id"),
        change.alias("change"),
        F.col("reason"),
        F.col("p_reason").alias("previous_reason"),
        F.col("severity"),
        F.col("p_severity").alias("previous_severity"),
    )
    return out, ctx


def change_counts(changes: DataFrame) -> dict[str, dict[str, int]]:
    """``{category: {"new": n, "persisting": n, "resolved": n, "quarantined": n}}``."""
    counts: dict[str, dict[str, int]] = {}
    for r in changes.groupBy("category", "change").agg(F.count(F.lit(1)).alias("n")).collect():
        counts.setdefault(r["category"], {k: 0 for k in CHANGE_KINDS})[r["change"]] = int(r["n"])
    return counts


def write_changes(changes: DataFrame, output: str, run_id: str) -> str:
    """Replace ``run_id``'s rows of the Delta table OUTPUT/changes; returns its path."""
    publish.replace_run(changes.select(*CHANGES_SCHEMA.fieldNames()), output, "changes", run_id)
    return publish.table_path(output, "changes")


def build_changes(spark: SparkSession, output: str, run_id: str | None = None) -> tuple[dict, dict]:
    """Compute, write OUTPUT/changes and return ``(context, counts per category)``."""
    df, ctx = compute_changes(spark, output, run_id)
    df = df.cache()
    try:
        counts = change_counts(df)
        write_changes(df, output, ctx["run_id"])
    finally:
        df.unpersist()
    return ctx, counts


def format_counts(ctx: dict, counts: dict, cfg: dict) -> str:
    """Console table of the per-category counts."""
    cats = cfg["categories"]
    prev = ctx["previous_run_id"] or "(none: first published run)"
    lines = [f"run {ctx['run_id']} compared with {prev}",
             f"  {'category':<28} {'new':>8} {'persist':>8} {'resolved':>8} {'quarant.':>8}  名称"]
    tot = {k: 0 for k in CHANGE_KINDS}
    for cid in sorted(set(ctx["categories"]) | set(counts)):
        c = counts.get(cid, {k: 0 for k in CHANGE_KINDS})
        for k in CHANGE_KINDS:
            tot[k] += c[k]
        note = "" if not ctx["previous_run_id"] or cid in ctx["previous_categories"] else "  (not in previous run)"
        lines.append(f"  {cid:<28} {c['new']:>8,} {c['persisting']:>8,} {c['resolved']:>8,} "
                     f"{c['quarantined']:>8,}  {cats.get(cid, {}).get('name_ja', '')}{note}")
    lines.append(f"  {'total':<28} {tot['new']:>8,} {tot['persisting']:>8,} {tot['resolved']:>8,} "
                 f"{tot['quarantined']:>8,}")
    return "\n".join(lines)

