"""The benchmark's memory figures (scripts/bench.py), on the shared session."""

import importlib.util
import time
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("bench", Path(__file__).resolve().parent.parent / "scripts" / "bench.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


@pytest.mark.parametrize("text, expected", [
    ("6g", 6 << 30), ("2G", 2 << 30), ("1536m", 1536 << 20), ("512k", 512 << 10), ("1024", 1024 << 20),
    ("2gb", 2 << 30), ("100b", 100), (None, None),
])
def test_parse_size(text, expected):
    assert bench.parse_size(text) == expected


@pytest.mark.parametrize("conf, overhead", [
    ({"spark.driver.memory": "6g", "spark.driver.memoryOverhead": "2g"}, 2 << 30),
    ({"spark.driver.memory": "6g"}, int((6 << 30) * 0.1)),                 # Spark's default factor
    ({"spark.driver.memory": "2g"}, 384 << 20),                            # ... and its minimum
    ({"spark.driver.memory": "2g", "spark.driver.minMemoryOverhead": "1g"}, 1 << 30),
    ({"spark.driver.memory": "8g", "spark.driver.memoryOverheadFactor": "0.25"}, 2 << 30),
])
def test_budget_is_heap_plus_overhead_as_spark_sizes_it(conf, overhead):
    budget = bench.driver_budget(conf)
    assert budget["overhead_bytes"] == overhead
    assert budget["budget_bytes"] == bench.parse_size(conf["spark.driver.memory"]) + overhead


def test_within_budget_verdict():
    assert bench.within(7 << 30, 8 << 30) is True
    assert bench.within(9 << 30, 8 << 30) is False
    assert bench.within(None, 8 << 30) is None


def test_sampler_measures_the_run_against_the_configured_budget(spark, cfg):
    with bench.MemorySampler(spark, interval=0.05) as sampler:
        spark.range(3_000_000).selectExpr("sum(length(repeat('x', cast(id % 90 AS int))))").collect()
        time.sleep(0.2)
    fig = sampler.figures()
    assert sampler.samples >= 2 and fig["sampler_error"] is None
    # the budget is the session's own: conf/local.yaml's driver memory and overhead
    assert fig["driver_heap_bytes"] == bench.parse_size(cfg["spark"]["driver_memory"])
    assert fig["driver_overhead_bytes"] == bench.parse_size(cfg["spark"]["driver_memory_overhead"])
    assert 0 < fig["driver_jvm_peak_heap_bytes"] <= fig["driver_jvm_max_heap_bytes"]
    assert fig["driver_jvm_peak_heap_committed_bytes"] >= fig["driver_jvm_peak_heap_bytes"]
    assert fig["driver_jvm_peak_nonheap_bytes"] > 0
    # the JVM's resident set holds at least its non-heap in use; the high-water marks bound the samples
    assert fig["driver_jvm_peak_rss_bytes"] > fig["driver_jvm_peak_nonheap_bytes"]
    assert fig["driver_peak_rss_bytes"] >= fig["driver_sampled_peak_rss_bytes"] > 0
    # the kernel's marks (JVM + Python) and the samples measure the same processes
    assert fig["driver_jvm_peak_rss_bytes"] + fig["python_peak_rss_bytes"] >= 0.98 * fig["driver_sampled_peak_rss_bytes"]
    assert fig["within_budget"] is not None


def test_json_stdout_holds_only_the_json_when_a_child_process_prints():
    """--json: a child started after json_stdout() (as pyspark starts the JVM) writes to
    stderr, so stdout parses as the one JSON object."""
    import json
    import subprocess
    import sys
    bench_py = Path(bench.__file__)
    code = (
        "import importlib.util, json, subprocess, sys\n"
        f"spec = importlib.util.spec_from_file_location('bench', {str(bench_py)!r})\n"
        "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)\n"
        "out = b.json_stdout()\n"
        "subprocess.run(['sh', '-c', 'echo [warning][gc] Retried waiting for GCLocker too often'], check=True)\n"
        "print('stray print')\n"
        "print(json.dumps({'full_s': 1.5}), file=out, flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"full_s": 1.5}
    assert "GCLocker" in done.stderr and "stray print" in done.stderr


def test_floor_and_carrying_join_read_the_sample(spark, cfg, tmp_path):
    """The two references: the floor joins the linked numbers; the carrying join reads every
    record with all its columns (as the run does) and keeps each one (left join)."""
    from jobs.generate import generate

    summary = generate(str(tmp_path / "d"), 200, 5, categories=["health_insurance", "public_pension"])
    floor_s, joined = bench.floor_run(spark, tmp_path / "d")
    carry_s, records = bench.carry_run(spark, tmp_path / "d", cfg)
    n_records = spark.read.parquet(str(tmp_path / "d" / "categories" / "*")).count()
    assert records == n_records > 0
    # the floor counts only records whose number is in the register (most, not all, are)
    assert 0.5 * n_records < joined <= n_records
    assert floor_s > 0 and carry_s > 0
    assert records == summary["records"]


def test_sample_is_generated_once_in_a_child_process(tmp_path):
    folder, meta, took = bench.ensure_sample(tmp_path, 150, 4)
    assert took is not None and (folder / ".complete").exists()
    assert meta["residents"] == 150 and (folder / "residents").is_dir()
    again, meta2, took2 = bench.ensure_sample(tmp_path, 150, 4)
    assert again == folder and took2 is None and meta2 == meta
