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
    ("1.5g", 3 << 29), (None, None),
])
def test_parse_size(text, expected):
    assert bench.parse_size(text) == expected


def test_budget_is_the_configured_heap_plus_overhead(spark, cfg):
    budget = bench.driver_budget(spark)
    assert budget["heap_bytes"] == bench.parse_size(cfg["spark"]["driver_memory"])
    assert budget["overhead_bytes"] == bench.parse_size(cfg["spark"]["driver_memory_overhead"])
    assert budget["budget_bytes"] == budget["heap_bytes"] + budget["overhead_bytes"]


def test_sampler_reports_peaks_within_the_jvm_limits(spark):
    with bench.MemorySampler(spark, interval=0.05) as sampler:
        spark.range(3_000_000).selectExpr("sum(length(repeat('x', cast(id % 90 AS int))))").collect()
        time.sleep(0.2)
    fig = sampler.figures(spark)
    assert sampler.samples >= 2
    assert 0 < fig["driver_jvm_peak_heap_bytes"] <= fig["driver_jvm_max_heap_bytes"]
    assert fig["driver_jvm_peak_heap_committed_bytes"] >= fig["driver_jvm_peak_heap_bytes"]
    assert fig["driver_jvm_peak_nonheap_bytes"] > 0
    # the JVM's resident set holds at least its non-heap in use; the high-water marks bound the samples
    assert fig["driver_jvm_peak_rss_bytes"] > fig["driver_jvm_peak_nonheap_bytes"]
    assert fig["driver_peak_rss_bytes"] >= fig["driver_sampled_peak_rss_bytes"] > 0
    assert fig["within_budget"] == (fig["driver_peak_rss_bytes"] <= fig["driver_budget_bytes"])
