"""Publish a run's results to the output Delta tables (the second I/O end of a run).

READER RULE (CONTRACT.md, issue 23).  Every row of the run-keyed tables (suspects,
quarantine, corrections, models, changes) carries ``run_id`` and ``attempt``.  A row
counts only when the ``runs`` table has a row with the same ``run_id``, status
``published`` and the same ``attempt`` (rows written before attempts existed have no
attempt, null, on both sides: compare null-safe).  Any Delta reader (deltalake, DuckDB,
polars, Spark) that applies the rule sees each run whole or not at all, and never a mix of
two attempts of one run id, whichever commit a publication was killed after.
``read_table`` applies it for Tenken's own readers.

Publication of one attempt (``commit``), each step one Delta commit:

1. append the attempt's rows to suspects, quarantine, corrections, models (they do not
   count yet: no runs row names the attempt);
2. replace the run's ``runs`` row (``replaceWhere run_id = ...``) by one with status
   ``published`` and the new attempt: from this commit on the new rows count and the rows
   of an earlier attempt of the same run id do not;
3. sweep: delete from each run-keyed table the rows that do not count (the replaced
   attempt, attempts that were killed, runs whose runs row is not ``published``).  This
   changes nothing a reader following the rule sees; a sweep that fails only warns, and the
   next publication sweeps again.

A kill before step 2 leaves the previous state (the killed attempt's rows are invisible
and swept by the next publication); a kill after it leaves the new state.  Nothing is ever
restored.  Staged outputs (``OUTPUT/_staging/<run_id>/``, Parquet, what the output gate
validated) are removed at the start of the next run.

One writer per OUTPUT (``jobs.lock``): a run holds ``OUTPUT/_tenken.lock`` from before it
writes anything; recovery (the staging clean-up, the legacy manifest below) runs only
under the lock, so it never touches a publication in progress.

A write that fails (storage full, unwritable) raises ``PublishError``: one line naming the
path and the cause (exit 1), the published state as it was, and the same run can be
started again.

Legacy: an ``OUTPUT/_publishing.json`` left by a killed publication of an older version is
still rolled back (RESTORE to the recorded versions) at the start of the next run.

Readers should read the runs table before the run-keyed tables: a reader whose read spans
a whole publication (including its sweep) may miss the rows of a republished run id.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.errors import TenkenError

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
    # the attempt whose rows this run's rows are (see READER RULE above); null for runs
    # published before attempts existed
    T.StructField("attempt", T.StringType(), True),
])



log = logging.getLogger("tenken")

ATTEMPT = "attempt"
MANIFEST = "_publishing.json"     # legacy (before issue 23): rolled back by recover()
STAGING = "_staging"
TABLES = ("suspects", "quarantine", "runs")
# the run-keyed tables, whose rows count by the reader rule
DATA_TABLES = ("suspects", "quarantine", "corrections", "models", "changes")
# test hook: seconds to pause after each table commit (lets a test act between commits);
# it only waits, it changes nothing that is written
PAUSE_ENV = "TENKEN_TEST_PAUSE_BETWEEN_COMMITS"
# test hook: the name of a step boundary of publication (see STEPS) at which the process
# exits at once (os._exit: no clean-up, no finally), as a kill would
EXIT_AT_ENV = "TENKEN_TEST_EXIT_AT"


def steps(tables: list[str]) -> list[str]:
    """The step boundaries of publishing ``tables`` (then the runs row), in order."""
    return (["begin"] + [f"after:{t}" for t in tables] + ["after:runs"]
            + [f"after:sweep:{t}" for t in DATA_TABLES] + ["end"])


PUBLISH_STEPS = steps(["suspects", "quarantine", "corrections", "models"])


def _step(name: str) -> None:
    if os.environ.get(EXIT_AT_ENV) == name:
        log.warning("publish: test hook: exiting at %s", name)
        logging.shutdown()
        os._exit(137)


class PublishError(TenkenError):
    """A write to OUTPUT failed (storage full, unwritable ...): exit 1, nothing more published."""


def cause(exc: BaseException) -> str:
    """The innermost cause of ``exc`` on one line (a Java exception's root cause, not Py4J's
    "An error occurred while calling o123.save")."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            root, seen = java, 0
            while root.getCause() is not None and seen < 20:
                root, seen = root.getCause(), seen + 1
            msg = root.getMessage()
            name = root.getClass().getSimpleName()
            text = f"{name}: {msg}" if msg else name
        except Exception:  # noqa: BLE001 - the gateway may be gone
            text = str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    from jobs.gates import _cause

    return _cause(text)


@contextmanager
def writing(path: str):
    """Turn a failed write to ``path`` into a one-line PublishError."""
    try:
        yield
    except TenkenError:
        raise
    except Exception as exc:  # noqa: BLE001 - Py4J, OSError ...
        raise PublishError(f"cannot write {path}: {cause(exc)}; nothing more was published, "
                           f"the published tables are as they were") from exc


def table_path(output: str, name: str) -> str:
    return str(Path(output) / name)


def _is_delta(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def _load(spark: SparkSession, output: str, name: str) -> DataFrame | None:
    path = table_path(output, name)
    if not _is_delta(spark, path):
        return None
    return spark.read.format("delta").load(path)


def _with_attempt_column(spark: SparkSession, path: str) -> None:
    """Give an existing table (written before attempts) the nullable ``attempt`` column."""
    if not _is_delta(spark, path):
        return
    cols = DeltaTable.forPath(spark, path).toDF().columns
    if ATTEMPT not in cols:
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({ATTEMPT} STRING)")


def _append(df: DataFrame, path: str) -> None:
    spark = df.sparkSession
    _with_attempt_column(spark, path)
    df.write.format("delta").option("mergeSchema", "false").mode("append").save(path)


def _replace(df: DataFrame, path: str, run_id: str) -> None:
    spark = df.sparkSession
    writer = df.write.format("delta").option("mergeSchema", "false")
    if _is_delta(spark, path):
        _with_attempt_column(spark, path)
        safe = run_id.replace("'", "''")
        writer.mode("overwrite").option("replaceWhere", f"run_id = '{safe}'").save(path)
    else:
        writer.mode("append").save(path)


def replace_run(df: DataFrame, output: str, name: str, run_id: str) -> None:
    """Write ``df`` as the rows of ``run_id`` in OUTPUT/<name>, replacing earlier rows of that
    run, in one commit.  A run-keyed table's rows without an ``attempt`` get the attempt of
    the run's current runs row (so a derived table such as changes follows the reader rule)."""
    path = table_path(output, name)
    spark = df.sparkSession
    if name != "runs" and ATTEMPT not in df.columns:
        df = df.withColumn(ATTEMPT, F.lit(current_attempt(spark, output, run_id)).cast("string"))
    with writing(path):
        _replace(df, path, run_id)


def runs_row(spark: SparkSession, row: dict) -> DataFrame:
    values = {f.name: row.get(f.name) for f in RUNS_SCHEMA.fields}
    return spark.createDataFrame([values], RUNS_SCHEMA)


def current_attempt(spark: SparkSession, output: str, run_id: str) -> str | None:
    runs = _load(spark, output, "runs")
    if runs is None or ATTEMPT not in runs.columns:
        return None
    row = runs.where(F.col("run_id") == run_id).select(ATTEMPT).first()
    return row[0] if row else None


def published_attempts(spark: SparkSession, output: str) -> list[tuple[str, str | None]] | None:
    """``(run_id, attempt)`` of every published run (None: no runs table)."""
    runs = _load(spark, output, "runs")
    if runs is None:
        return None
    att = F.col(ATTEMPT) if ATTEMPT in runs.columns else F.lit(None).cast("string")
    return [(r[0], r[1]) for r in runs.where(F.col("status") == "published")
            .select("run_id", att.alias(ATTEMPT)).collect()]


def apply_rule(df: DataFrame, published: list[tuple[str, str | None]]) -> DataFrame:
    """The rows of ``df`` that count: those of a published run's attempt."""
    spark = df.sparkSession
    if ATTEMPT not in df.columns:
        df = df.withColumn(ATTEMPT, F.lit(None).cast("string"))
    keep = spark.createDataFrame(published or [], "p_run_id string, p_attempt string")
    cond = (df["run_id"] == keep["p_run_id"]) & df[ATTEMPT].eqNullSafe(keep["p_attempt"])
    return df.join(F.broadcast(keep), cond, "left_semi")


def read_table(spark: SparkSession, output: str, name: str) -> DataFrame | None:
    """OUTPUT/<name> as published: the runs table as it is, a run-keyed table's rows that
    count by the reader rule (None when the table or the runs table does not exist)."""
    if name == "runs":
        return _load(spark, output, "runs")
    published = published_attempts(spark, output)   # the runs table first (see the docstring)
    df = _load(spark, output, name)
    if df is None or published is None:
        return None
    return apply_rule(df, published)


def table_version(spark: SparkSession, path: str) -> int | None:
    if not _is_delta(spark, path):
        return None
    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])


def _remove_path(spark: SparkSession, path: str) -> None:
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(hpath, True)


def recover(spark: SparkSession, output: str) -> list[str]:
    """Clean up after a killed run; call only while holding OUTPUT's lock.

    Removes every staging folder (a run in progress would hold the lock) and rolls back a
    legacy ``_publishing.json`` publication.  The rows of a killed attempt need nothing:
    they do not count, and the next publication sweeps them.  Returns the tables restored."""
    restored: list[str] = []
    manifest_path = Path(output) / MANIFEST
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
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
        log.warning("legacy publication of run %s was interrupted: restored %s", manifest.get("run_id"),
                    ", ".join(restored) or "nothing")
        manifest_path.unlink()
    staging = Path(output) / STAGING
    if staging.exists():
        log.info("removing staged outputs of interrupted runs: %s", ", ".join(sorted(os.listdir(staging))))
        shutil.rmtree(staging, ignore_errors=True)
    return restored


def stage(df: DataFrame, output: str, run_id: str, name: str) -> DataFrame:
    """Write ``df`` to OUTPUT/_staging/<run_id>/<name> and return it read back from there."""
    path = str(Path(output) / STAGING / run_id / name)
    with writing(path):
        df.write.mode("overwrite").parquet(path)
    return df.sparkSession.read.parquet(path)


def drop_staging(output: str, run_id: str) -> None:
    shutil.rmtree(Path(output) / STAGING / run_id, ignore_errors=True)
    try:
        (Path(output) / STAGING).rmdir()
    except OSError:
        pass


def sweep(spark: SparkSession, output: str) -> dict[str, int]:
    """Delete the rows that do not count (see the docstring); returns the attempts removed
    per table.  Best effort: a failure is a warning (the rows stay invisible)."""
    removed: dict[str, int] = {}
    published = published_attempts(spark, output)
    if published is None:
        return removed
    keep = set(published)
    for name in DATA_TABLES:
        path = table_path(output, name)
        try:
            df = _load(spark, output, name)
            if df is not None:
                att = F.col(ATTEMPT) if ATTEMPT in df.columns else F.lit(None).cast("string")
                pairs = {(r[0], r[1]) for r in df.select("run_id", att).distinct().collect()}
                stale = sorted(pairs - keep, key=lambda p: (p[0] or "", p[1] or ""))
                if stale:
                    cond = F.lit(False)
                    for run_id, attempt in stale:
                        cond = cond | (F.col("run_id").eqNullSafe(F.lit(run_id))
                                       & att.eqNullSafe(F.lit(attempt).cast("string")))
                    DeltaTable.forPath(spark, path).delete(cond)
                    removed[name] = len(stale)
        except Exception as exc:  # noqa: BLE001 - rows that do not count may stay
            log.warning("publish: sweep of %s skipped: %s", path, cause(exc))
        _step(f"after:sweep:{name}")
    return removed


def commit(spark: SparkSession, output: str, run_id: str, tables: list[tuple[str, DataFrame]],
           runs_df: DataFrame, attempt: str, lock=None) -> None:
    """Publish one attempt of ``run_id``: append its rows, then replace its runs row (the one
    commit that makes it count), then sweep (see the module docstring)."""
    pause = float(os.environ.get(PAUSE_ENV) or 0)
    _step("begin")
    for name, df in tables:
        path = table_path(output, name)
        with writing(path):
            _append(df.withColumn(ATTEMPT, F.lit(attempt)), path)
        log.info("publish: committed %s", name)
        if pause:
            time.sleep(pause)
        _step(f"after:{name}")
    if lock is not None:
        lock.verify()
    runs_df = runs_df.withColumn(ATTEMPT, F.lit(attempt))
    path = table_path(output, "runs")
    with writing(path):
        _replace(runs_df, path, run_id)
    log.info("publish: committed runs (run %s attempt %s published)", run_id, attempt)
    _step("after:runs")
    removed = sweep(spark, output)
    if removed:
        log.info("publish: swept rows that do not count: %s",
                 ", ".join(f"{k} ({v} attempt{'s' if v > 1 else ''})" for k, v in removed.items()))
    drop_staging(output, run_id)
    _step("end")


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
