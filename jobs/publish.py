"""Publish a run's results to the output Delta tables (the second I/O end of a run).

Each table is written with ``replaceWhere run_id = ...``: a rerun with the same run id
replaces that run's rows in one Delta commit and never duplicates them.  The ``runs``
row is written last and is the mark that a run was published.
"""

from __future__ import annotations

from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

RUNS_SCHEMA = T.StructType([
    T.StructField("run_id", T.StringType(), False),
    T.StructField("status", T.StringType(), False),
    T.StructField("started_at", T.TimestampType(), True),
    T.StructField("finished_at", T.TimestampType(), True),
    T.StructField("duration_s", T.DoubleType(), True),
    T.StructField("input_path", T.StringType(), True),
    T.StructField("residents", T.LongType(), True),
    T.StructField("records", T.LongType(), True),
    T.StructField("suspects", T.LongType(), True),
    T.StructField("quarantined", T.LongType(), True),
    T.StructField("categories", T.ArrayType(T.StructType([
        T.StructField("category", T.StringType()),
        T.StructField("input_rows", T.LongType()),
        T.StructField("checked_rows", T.LongType()),
        T.StructField("quarantined_rows", T.LongType()),
        T.StructField("suspects", T.LongType()),
    ])), True),
    T.StructField("reason_counts", T.MapType(T.StringType(), T.LongType()), True),
    T.StructField("stage_seconds", T.MapType(T.StringType(), T.DoubleType()), True),
    T.StructField("figures", T.MapType(T.StringType(), T.LongType()), True),
    T.StructField("gate_failures", T.ArrayType(T.StringType()), True),
    T.StructField("message", T.StringType(), True),
])


def table_path(output: str, name: str) -> str:
    return str(Path(output) / name)


def replace_run(df: DataFrame, output: str, name: str, run_id: str) -> None:
    """Write ``df`` as the rows of ``run_id`` in OUTPUT/<name>, replacing earlier rows of that run."""
    path = table_path(output, name)
    spark = df.sparkSession
    writer = df.write.format("delta").option("mergeSchema", "false")
    if DeltaTable.isDeltaTable(spark, path):
        safe = run_id.replace("'", "''")
        writer.mode("overwrite").option("replaceWhere", f"run_id = '{safe}'").save(path)
    else:
        writer.mode("append").save(path)


def runs_row(spark: SparkSession, row: dict) -> DataFrame:
    values = {f.name: row.get(f.name) for f in RUNS_SCHEMA.fields}
    return spark.createDataFrame([values], RUNS_SCHEMA)


def read_table(spark: SparkSession, output: str, name: str) -> DataFrame | None:
    path = table_path(output, name)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    return spark.read.format("delta").load(path)


def latest_published(spark: SparkSession, output: str, before: str | None = None) -> str | None:
    """Run id of the newest published run (optionally the newest before ``before``)."""
    runs = read_table(spark, output, "runs")
    if runs is None:
        return None
    runs = runs.where(F.col("status") == "published")
    if before is not None:
        start = runs.where(F.col("run_id") == before).select("started_at").first()
        if start is None:
            return None
        runs = runs.where((F.col("started_at") < start[0]) & (F.col("run_id") != before))
    row = runs.orderBy(F.col("started_at").desc()).select("run_id").first()
    return row[0] if row else None
