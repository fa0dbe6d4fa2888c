"""Publish a run's results to the output Delta tables (the second I/O end of a run).

Each table is written with ``replaceWhere run_id = ...``: a rerun with the same run id
replaces that run's rows in one Delta commit and never duplicates them.  The ``runs``
row is written last and is the mark that a run was published.

Atomic publication (issue 4).  Delta commits are atomic per table, but there is no
transaction over several tables, so a run publishes in three steps:

1. ``stage``: the run's outputs are written under ``OUTPUT/_staging/<run_id>/`` (Parquet)
   and read back from there; the output gate validates exactly what will be committed.
2. ``commit``: ``OUTPUT/_publishing.json`` (the manifest) records the current version of
   each published table (or that it does not exist yet); then suspects, quarantine and
   last the runs row are committed; then the manifest is removed.
3. ``recover`` (at the start of every run): a manifest left behind means a publication
   was killed.  Each table is restored to its recorded version (``RESTORE``; a table that
   did not exist is removed) and the manifest deleted.  The published tables then hold
   exactly the rows they held before, and the same run id can be run again.

While a manifest exists, `read_table` reads every table at its recorded version, so a
reader (report, changes, export, evaluate) never sees a half-published run, and readers
never restore anything themselves.

What this does not give: isolation between two runs publishing into the same OUTPUT at
the same time (one writer at a time per OUTPUT, as before); a restore is a new Delta
version with the old rows (the history keeps the killed commits, time travel shows them);
a kill after the runs row was committed but before the manifest was removed is also
rolled back (the run had not finished; rerun it).  The manifest is written with the local
file API, as the gate results and reports are: OUTPUT must be a local or mounted path.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
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


log = logging.getLogger("tenken")

MANIFEST = "_publishing.json"
STAGING = "_staging"
TABLES = ("suspects", "quarantine", "runs")
# test hook: seconds to pause after each table commit (lets a test kill the process between
# commits); it only waits, it changes nothing that is written
PAUSE_ENV = "TENKEN_TEST_PAUSE_BETWEEN_COMMITS"


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


def read_manifest(output: str) -> dict | None:
    path = Path(output) / MANIFEST
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def read_table(spark: SparkSession, output: str, name: str) -> DataFrame | None:
    """OUTPUT/<name> as published: at the manifest's version while a publication is open."""
    path = table_path(output, name)
    manifest = read_manifest(output)
    if manifest is not None and name in manifest["versions"]:
        version = manifest["versions"][name]
        if version is None:
            return None
        return spark.read.format("delta").option("versionAsOf", version).load(path)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    return spark.read.format("delta").load(path)


def table_version(spark: SparkSession, path: str) -> int | None:
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])


def _remove_path(spark: SparkSession, path: str) -> None:
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(hpath, True)


def recover(spark: SparkSession, output: str) -> list[str]:
    """Undo a killed publication (see the module docstring); returns the tables restored."""
    manifest = read_manifest(output)
    if manifest is None:
        return []
    restored = []
    for name, version in manifest["versions"].items():
        path = table_path(output, name)
        now = table_version(spark, path)
        if version is None:
            if now is not None:
                _remove_path(spark, path)
                restored.append(name)
        elif now is not None and now != version:
            DeltaTable.forPath(spark, path).restoreToVersion(version)
            restored.append(name)
    log.warning("publication of run %s was interrupted: restored %s to their state before it",
                manifest.get("run_id"), ", ".join(restored) or "nothing (no table had changed)")
    (Path(output) / MANIFEST).unlink()
    shutil.rmtree(Path(output) / STAGING / str(manifest.get("run_id")), ignore_errors=True)
    return restored


def stage(df: DataFrame, output: str, run_id: str, name: str) -> DataFrame:
    """Write ``df`` to OUTPUT/_staging/<run_id>/<name> and return it read back from there."""
    path = str(Path(output) / STAGING / run_id / name)
    df.write.mode("overwrite").parquet(path)
    return df.sparkSession.read.parquet(path)


def drop_staging(output: str, run_id: str) -> None:
    shutil.rmtree(Path(output) / STAGING / run_id, ignore_errors=True)
    try:
        (Path(output) / STAGING).rmdir()
    except OSError:
        pass


def _write_manifest(output: str, body: dict) -> None:
    path = Path(output) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(body, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def commit(spark: SparkSession, output: str, run_id: str, tables: list[tuple[str, DataFrame]],
           runs_df: DataFrame) -> None:
    """Commit the staged tables and then the runs row, undoable until the manifest is removed."""
    names = [n for n, _ in tables] + ["runs"]
    versions = {n: table_version(spark, table_path(output, n)) for n in names}
    _write_manifest(output, {"run_id": run_id, "versions": versions})
    pause = float(os.environ.get(PAUSE_ENV) or 0)
    for name, df in [*tables, ("runs", runs_df)]:
        replace_run(df, output, name, run_id)
        log.info("publish: committed %s", name)
        if pause:
            time.sleep(pause)
    (Path(output) / MANIFEST).unlink()
    drop_staging(output, run_id)


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
