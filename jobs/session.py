"""The Spark session factory: local mode from conf/local.yaml, or whatever spark-submit set up.

Delta's jars are resolved by Spark itself through `spark.jars.packages`
(Maven Central, cached by Ivy under ~/.ivy2*), so a fresh machine needs no manual step.
Under spark-submit (``--packages`` given there) the running session is reused as it is.
"""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def delta_package() -> str:
    """Maven coordinates of the Delta jar that matches the installed delta-spark and pyspark."""
    from importlib.metadata import version

    import pyspark

    spark_mm = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_mm}_2.13:{version('delta_spark')}"


def under_spark_submit() -> bool:
    """True when this Python driver was started by spark-submit (its JVM is already running,
    with the master, memory and --packages that spark-submit was given)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ or "SPARK_SUBMIT_OPTS" in os.environ


def get_spark(cfg: dict) -> SparkSession:
    """Return the active session if there is one (tests), else build one: a local one from the
    config, or under spark-submit one on the submitted JVM (master, driver memory and jars are
    then spark-submit's; the config's other Spark settings still apply)."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    scfg = cfg.get("spark") or {}
    submitted = under_spark_submit()
    builder = SparkSession.builder.appName(scfg.get("app_name") or "tenken")
    if scfg.get("master") and not submitted:
        builder = builder.master(scfg["master"])
    if scfg.get("driver_memory") and not submitted:
        builder = builder.config("spark.driver.memory", scfg["driver_memory"])
    if scfg.get("driver_memory_overhead") and not submitted:
        # recorded for the budget (scripts/bench.py); a local JVM is not limited by it
        builder = builder.config("spark.driver.memoryOverhead", scfg["driver_memory_overhead"])
    for key, value in (scfg.get("conf") or {}).items():
        builder = builder.config(key, str(value))
    if not submitted:
        builder = builder.config("spark.jars.packages", delta_package())
    builder = (
        builder.config("spark.sql.extensions", DELTA_EXTENSION)
        .config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
