#!/usr/bin/env python
"""Benchmark one full reconciliation against the Spark floor on this machine.

    .venv/bin/python scripts/bench.py --residents 1000000 [--seed 1] [--cache .bench] [--json]

1. Generates a sample of N residents with all 29 categories (jobs.generate), cached under
   CACHE/r<N>_s<SEED>/ and reused by later runs.
2. Runs the full reconciliation in this process (jobs.pipeline.run with
   jobs.config.load_config(), i.e. conf/local.yaml: local[2], the configured driver memory),
   writing to a scratch output that is removed afterwards (--keep-output keeps it).
3. Times the Spark floor in the same session: read the same register and records, join them
   on the linked number, count; and a second reference, the same join carrying every column
   of both sides as the run reads them (no cleaning or normalisation), to a noop sink.
4. Prints per-stage times, input rows per second (and per core), shuffle bytes (from the
   Spark UI's REST API: the bench turns the UI on), peak memory (the driver JVM's and this
   Python process's peak RSS against the driver budget, spark.driver.memory +
   spark.driver.memoryOverhead; the heap sampled while the run goes on), the slowest Spark
   stages and the ratio full / floor.

Timings on a shared machine are noisy: run the same size twice before drawing conclusions.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shutil
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

log = logging.getLogger("tenken.bench")


# ---------------------------------------------------------------------------------------
# sample
# ---------------------------------------------------------------------------------------

def sample_dir(cache: Path, residents: int, seed: int) -> Path:
    return cache / f"r{residents}_s{seed}"


def ensure_sample(cache: Path, residents: int, seed: int) -> tuple[Path, dict, float | None]:
    """The cached sample's folder and meta.json (generated when absent), and the seconds
    generation took (None when it was cached).

    The sample is generated in a child process: memory the generator leaves to this
    process's allocator would count in the run's peak memory (500k residents: the Python
    driver's peak 0.92 GiB instead of ~0.35 GiB)."""
    import subprocess

    folder = sample_dir(cache, residents, seed)
    done = folder / ".complete"
    if done.exists() and (folder / "meta.json").exists():
        return folder, json.loads((folder / "meta.json").read_text(encoding="utf-8")), None
    if folder.exists():
        shutil.rmtree(folder)
    log.info("generating %d residents (seed %d) into %s", residents, seed, folder)
    t0 = time.perf_counter()
    code = "import sys; from jobs.generate import generate; generate(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    subprocess.run([sys.executable, "-c", code, str(folder), str(residents), str(seed)], check=True, env=env)
    took = time.perf_counter() - t0
    done.write_text("ok\n")
    return folder, json.loads((folder / "meta.json").read_text(encoding="utf-8")), took


# ---------------------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(p.name))
    return out


def _status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def driver_jvm_pids() -> list[int]:
    """The java processes started (directly or through spark-submit's shell) by this process."""
    found, todo = [], _children(os.getpid())
    while todo:
        pid = todo.pop()
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm == "java":
            found.append(pid)
        todo.extend(_children(pid))
    return found


def parse_size(text: str | None) -> int | None:
    """Bytes of a Spark memory size such as ``6g``, ``1536m`` or a bare number of MiB (as Spark
    reads ``spark.driver.memory`` and ``spark.driver.memoryOverhead``); the grammar is the
    config's own (jobs.config.parse_size), so a size the run refuses is refused here too."""
    from jobs.config import parse_size as _parse

    return _parse(text, "driver memory size")


def driver_budget(conf: dict) -> dict:
    """The driver's memory budget as Spark sizes a driver container, from the Spark settings
    ``conf``: ``spark.driver.memory`` (the JVM heap) plus ``spark.driver.memoryOverhead``
    (everything outside the heap: JIT code, metaspace, GC structures, thread stacks, native
    buffers, the Python driver), whose default is max(``spark.driver.minMemoryOverhead``,
    ``spark.driver.memoryOverheadFactor`` x memory)."""
    heap = parse_size(conf.get("spark.driver.memory") or "1g")
    overhead = parse_size(conf.get("spark.driver.memoryOverhead"))
    if overhead is None:
        factor = float(conf.get("spark.driver.memoryOverheadFactor") or "0.1")
        overhead = max(parse_size(conf.get("spark.driver.minMemoryOverhead") or "384m"), int(heap * factor))
    return {"heap_bytes": heap, "overhead_bytes": overhead, "budget_bytes": heap + overhead}


def within(peak: int | None, budget: int) -> bool | None:
    """Whether a peak stayed within the budget; None when the peak is unknown."""
    return None if not peak else peak <= budget


class MemorySampler:
    """Samples the driver's memory every ``interval`` seconds on a thread while a run goes on.

    Peaks kept: the heap in use (all pools at one instant: per-pool peaks happen at different
    times and do not add up), the heap committed, the live heap (the old generation after its
    latest collection, so it lags the heap in use), the non-heap in use (metaspace, code
    cache), and the resident set of the JVM and of this Python process together (``/proc``).
    The kernel's own high-water marks (VmHWM) are restarted on entry and read on exit, so they
    cover the run and nothing after it."""

    def __init__(self, spark, interval: float = 0.5):
        import threading

        self._mf = spark.sparkContext._jvm.java.lang.management.ManagementFactory
        # read before the run: a malformed size fails now, not after the run
        self.budget = driver_budget(dict(spark.sparkContext.getConf().getAll()))
        self._pids = driver_jvm_pids()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)
        self.peak = {"heap_used": 0, "heap_committed": 0, "heap_live": 0, "nonheap_used": 0, "rss_total": 0}
        self.samples = 0
        self.error: str | None = None
        self.hwm = {"jvm": None, "python": None}
        self.heap_max: int | None = None

    def _sample(self) -> None:
        mx = self._mf.getMemoryMXBean()
        heap, nonheap = mx.getHeapMemoryUsage(), mx.getNonHeapMemoryUsage()
        live = 0
        for pool in self._mf.getMemoryPoolMXBeans():
            name = str(pool.getName())
            if str(pool.getType().toString()) == "Heap memory" and ("Old" in name or "Tenured" in name):
                after_gc = pool.getCollectionUsage()
                live += int(after_gc.getUsed()) if after_gc is not None else 0
        rss = sum(_status_kb(p, "VmRSS") or 0 for p in self._pids) + (_status_kb(os.getpid(), "VmRSS") or 0)
        now = {"heap_used": int(heap.getUsed()), "heap_committed": int(heap.getCommitted()),
               "heap_live": live, "nonheap_used": int(nonheap.getUsed()), "rss_total": rss * 1024}
        for k, v in now.items():
            self.peak[k] = max(self.peak[k], v)
        if self.heap_max is None:
            self.heap_max = int(heap.getMax())
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sample()
            except Exception as exc:  # noqa: BLE001 - the run goes on; the figures say so
                self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
                log.warning("memory sampler stopped after %d samples: %s", self.samples, self.error)
                return
            self._stop.wait(self._interval)

    def __enter__(self) -> "MemorySampler":
        # restart the kernel's high-water marks (VmHWM), so that the peaks are the run's own
        # and not, say, the generation of the sample in this process
        for pid in [os.getpid(), *self._pids]:
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                pass
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        jvm = [_status_kb(p, "VmHWM") for p in self._pids]
        self.hwm = {"jvm": sum(jvm) * 1024 if jvm and None not in jvm else None,
                    "python": (_status_kb(os.getpid(), "VmHWM") or 0) * 1024 or None}

    def figures(self) -> dict:
        """Peaks, the driver budget and whether the run stayed within it (None when the
        peaks could not be read)."""
        budget = self.budget
        sampled = {k: (v if self.samples else None) for k, v in self.peak.items()}
        jvm, py = self.hwm["jvm"], self.hwm["python"]
        # the two high-water marks may come at different times, so their sum bounds the peak
        # from above; the sampled sum bounds it from below (the kernel updates its RSS
        # counters lazily, so a sample may exceed the marks by a few pages: take the larger)
        peak_upper = max(jvm + py, sampled["rss_total"] or 0) if jvm is not None and py is not None else None
        return {
            "driver_jvm_peak_rss_bytes": jvm,
            "python_peak_rss_bytes": py,
            "driver_peak_rss_bytes": peak_upper,
            "driver_sampled_peak_rss_bytes": sampled["rss_total"],
            "driver_jvm_peak_heap_bytes": sampled["heap_used"],
            "driver_jvm_peak_heap_committed_bytes": sampled["heap_committed"],
            "driver_jvm_peak_live_heap_bytes": sampled["heap_live"],
            "driver_jvm_peak_nonheap_bytes": sampled["nonheap_used"],
            "driver_jvm_max_heap_bytes": self.heap_max,
            "samples": self.samples,
            "sampler_error": self.error,
            **{f"driver_{k}": v for k, v in budget.items()},
            "within_budget": within(peak_upper, budget["budget_bytes"]),
        }


class StageMetrics:
    """Stage metrics from the live UI's REST API (/api/v1/applications/<id>/stages)."""

    def __init__(self, spark):
        sc = spark.sparkContext
        self.base = (sc.uiWebUrl or "").rstrip("/")
        self.app = sc.applicationId

    def stages(self) -> list[dict]:
        if not self.base:
            return []
        url = f"{self.base}/api/v1/applications/{self.app}/stages?status=complete"
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                return json.loads(resp.read())
        except Exception as exc:  # noqa: BLE001
            log.warning("cannot read stage metrics from %s: %s", url, exc)
            return []

    def cores(self) -> int | None:
        """Total task slots (local[N]: N; a cluster: the executors' cores)."""
        if not self.base:
            return None
        try:
            with urllib.request.urlopen(f"{self.base}/api/v1/applications/{self.app}/executors", timeout=30) as r:
                return sum(int(e.get("totalCores") or 0) for e in json.loads(r.read())) or None
        except Exception:  # noqa: BLE001
            return None

    def max_stage_id(self) -> int:
        return max((s["stageId"] for s in self.stages()), default=-1)

    def totals(self, after: int, until: int | None = None) -> dict:
        sel = [s for s in self.stages() if s["stageId"] > after and (until is None or s["stageId"] <= until)]
        tot = {k: sum(int(s.get(k) or 0) for s in sel) for k in
               ("shuffleWriteBytes", "shuffleReadBytes", "inputBytes", "outputBytes",
                "executorRunTime", "executorCpuTime", "jvmGcTime", "memoryBytesSpilled", "diskBytesSpilled")}
        # CPU seconds are less sensitive than wall time to other processes on the machine
        tot["rows_cpu_note"] = "executorCpuTime is in ns, executorRunTime and jvmGcTime in ms"
        tot["stages"] = len(sel)
        tot["tasks"] = sum(int(s.get("numCompleteTasks") or 0) for s in sel)
        top = sorted(sel, key=lambda s: int(s.get("executorRunTime") or 0), reverse=True)[:8]
        tot["slowest_stages"] = [
            {"stage": s["stageId"], "run_s": round(int(s.get("executorRunTime") or 0) / 1000, 1),
             "tasks": s.get("numTasks"), "shuffle_write": int(s.get("shuffleWriteBytes") or 0),
             "name": (s.get("name") or "")[:70]}
            for s in top]
        return tot


# ---------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------

def bench_config(meta: dict, driver_memory: str | None) -> dict:
    from jobs.config import load_config

    cfg = load_config()
    sconf = cfg.setdefault("spark", {}).setdefault("conf", {})
    # the bench reads the stage metrics from the UI's REST API
    sconf["spark.ui.enabled"] = "true"
    sconf["spark.ui.port"] = "0"              # any free port: others may run Spark here too
    sconf["spark.ui.retainedStages"] = "100000"
    sconf["spark.ui.retainedJobs"] = "100000"
    sconf["spark.ui.retainedTasks"] = "1000"
    sconf["spark.sql.ui.retainedExecutions"] = "100"
    if driver_memory:
        cfg["spark"]["driver_memory"] = driver_memory
    # ages against the sample's own reference date, so a cached sample keeps its answer
    cfg.setdefault("run", {})["reference_date"] = meta.get("reference_date")
    return cfg


def floor_run(spark, folder: Path) -> tuple[float, int]:
    """The Spark floor: read register and records, join on the linked number, count."""
    t0 = time.perf_counter()
    res = spark.read.parquet(str(folder / "residents")).select("individual_number")
    paths = sorted(str(p) for p in (folder / "categories").iterdir() if p.is_dir())
    recs = None
    for p in paths:
        df = spark.read.parquet(p).select("individual_number")
        recs = df if recs is None else recs.unionByName(df)
    n = res.join(recs, "individual_number").count()
    return time.perf_counter() - t0, int(n)


def carry_run(spark, folder: Path, cfg: dict) -> tuple[float, int]:
    """A second reference: every record, read with all its columns as the run reads them
    (jobs.io.read_inputs), left-joined with the register's rows on the linked number and
    written nowhere (Spark's noop sink).  No cleaning, normalisation or comparison: what
    any reconciliation that looks at each record's fields and its resident pays at least.
    Returns (seconds, records)."""
    from pyspark.sql import functions as F

    from jobs.io import read_inputs

    t0 = time.perf_counter()
    residents, records, _ = read_inputs(spark, str(folder), cfg)
    register = residents.select(*[F.col(c).alias(f"r_{c}") for c in residents.columns])
    joined = records.join(register, F.col("individual_number") == F.col("r_individual_number"), "left")
    joined.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - t0, int(records.count())


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def json_stdout():
    """A text stream on the process's real stdout, after pointing file descriptor 1 at stderr.

    The JVM that pyspark starts inherits descriptor 1, and HotSpot prints some warnings
    there (at 2M residents: "Retried waiting for GCLocker too often"), which would break
    ``--json``'s promise of one JSON object on stdout.  Everything else written to
    descriptor 1 from now on -- by this process or any child -- goes to stderr.
    """
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--residents", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", default=str(ROOT / ".bench"), help="sample cache (default: .bench/)")
    ap.add_argument("--driver-memory", default=None, help="override spark.driver_memory of conf/local.yaml")
    ap.add_argument("--keep-output", action="store_true", help="keep the run's Delta output")
    ap.add_argument("--no-floor", action="store_true", help="skip the floor join and the carrying join")
    ap.add_argument("--generate-only", action="store_true", help="only generate (cache) the sample")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("-q", "--quiet", action="store_true", help="no stage progress on stderr")
    args = ap.parse_args(argv)
    out_json = json_stdout() if args.json or args.generate_only else None

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s [%(name)s] %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("py4j").setLevel(logging.ERROR)
    # synthetic data: any key will do, but never print it
    os.environ.setdefault("TENKEN_TOKEN_KEY", secrets.token_hex(16))

    cache = Path(args.cache).resolve()
    folder, meta, gen_s = ensure_sample(cache, args.residents, args.seed)
    if args.generate_only:
        print(json.dumps({"sample": str(folder), "generate_s": gen_s, "records": meta["counts"]["records"]}),
              file=out_json, flush=True)
        return 0

    from jobs.pipeline import run
    from jobs.session import get_spark

    cfg = bench_config(meta, args.driver_memory)
    spark = get_spark(cfg)
    master = spark.sparkContext.master
    metrics = StageMetrics(spark)
    cores = metrics.cores() or os.cpu_count() or 1
    out = cache / f"out-r{args.residents}_s{args.seed}-{os.getpid()}"

    sampler = MemorySampler(spark)
    try:
        s0 = metrics.max_stage_id()
        t0 = time.perf_counter()
        with sampler:
            summary = run(cfg, str(folder), str(out), "bench", None)
        full_s = time.perf_counter() - t0
        s1 = metrics.max_stage_id()
        full_m = metrics.totals(s0, s1)
        floor_s = floor_n = floor_m = carry_s = None
        if not args.no_floor:
            floor_s, floor_n = floor_run(spark, folder)
            floor_m = metrics.totals(s1)
            carry_s, _ = carry_run(spark, folder, cfg)
        mem = sampler.figures()
        load = os.getloadavg()
    finally:
        if not args.keep_output:
            shutil.rmtree(out, ignore_errors=True)

    rows = summary["residents"] + summary["records"]
    driver_mem = (cfg.get("spark") or {}).get("driver_memory")
    fig = {
        "residents": summary["residents"], "records": summary["records"], "input_rows": rows,
        "categories": len(summary["categories"]), "seed": args.seed, "sample": str(folder),
        "generate_s": round(gen_s, 1) if gen_s is not None else None,
        "master": master, "cores": cores, "driver_memory": driver_mem,
        "full_s": round(full_s, 2), "stage_seconds": summary["stage_seconds"],
        "rows_per_s": round(rows / full_s), "rows_per_core_s": round(rows / full_s / cores),
        "rows_per_cpu_s": round(rows / (full_m["executorCpuTime"] / 1e9)) if full_m.get("executorCpuTime") else None,
        "suspects": summary["suspects"], "figures": summary.get("figures"),
        "full_spark": {k: v for k, v in full_m.items()},
        "floor_s": round(floor_s, 2) if floor_s is not None else None, "floor_join_rows": floor_n,
        "floor_spark": floor_m,
        "ratio_full_to_floor": round(full_s / floor_s, 2) if floor_s else None,
        "carry_join_s": round(carry_s, 2) if carry_s is not None else None,
        "ratio_carry_join_to_floor": round(carry_s / floor_s, 2) if floor_s and carry_s else None,
        "memory": mem, "load_average": [round(x, 2) for x in load], "machine_cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(fig, indent=2, default=str), file=out_json, flush=True)
        return 0

    p = print
    p(f"Tenken bench: {fig['residents']:,} residents, {fig['records']:,} records in {fig['categories']} categories"
      f" ({master}, {cores} cores, driver memory {driver_mem})")
    if gen_s is not None:
        p(f"  sample generated in {gen_s:.1f} s -> {folder}")
    p(f"  full run            {full_s:9.1f} s   {fig['rows_per_s']:,} input rows/s ({fig['rows_per_core_s']:,} per core)")
    for name, sec in summary["stage_seconds"].items():
        p(f"    {name:<16}{sec:9.1f} s")
    p(f"  suspects            {summary['suspects']:,}")
    fg = summary.get("figures") or {}
    if fg:
        p(f"  doubtful records    {fg.get('doubtful_records', 0):,}; candidate pairs {fg.get('candidate_pairs', 0):,}")
    p(f"  shuffle write       {fmt_bytes(full_m['shuffleWriteBytes'])} (read {fmt_bytes(full_m['shuffleReadBytes'])}),"
      f" spill {fmt_bytes(full_m['diskBytesSpilled'])}; {full_m['stages']} stages, {full_m['tasks']} tasks,"
      f" executor time {full_m['executorRunTime'] / 1000:.0f} s (CPU {full_m['executorCpuTime'] / 1e9:.0f} s,"
      f" GC {full_m['jvmGcTime'] / 1000:.0f} s)")
    if full_m["executorCpuTime"]:
        p(f"  input rows per executor CPU second {rows / (full_m['executorCpuTime'] / 1e9):,.0f}"
          " (less sensitive to a busy machine than wall time)")
    if floor_s is not None:
        p(f"  floor (join+count)  {floor_s:9.1f} s   {floor_n:,} joined rows, shuffle write"
          f" {fmt_bytes(floor_m['shuffleWriteBytes'])}")
        p(f"  ratio full / floor  {fig['ratio_full_to_floor']:9.2f}")
        p(f"  join carrying every column (read as the run reads, no normalisation, noop sink)"
          f" {carry_s:.1f} s = {fig['ratio_carry_join_to_floor']:.2f} x the floor")
    busy = " (above the CPU count: other processes competed, timings inflated)" if load[1] > (os.cpu_count() or 1) else ""
    p(f"  load average        {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs{busy}")
    verdict = {True: "within", False: "OVER", None: "not measured against"}[mem["within_budget"]]
    p(f"  peak memory         driver JVM RSS {fmt_bytes(mem['driver_jvm_peak_rss_bytes'])} + python"
      f" {fmt_bytes(mem['python_peak_rss_bytes'])} = {fmt_bytes(mem['driver_peak_rss_bytes'])}: {verdict} the driver"
      f" budget {fmt_bytes(mem['driver_budget_bytes'])} (spark.driver.memory {fmt_bytes(mem['driver_heap_bytes'])}"
      f" + memoryOverhead {fmt_bytes(mem['driver_overhead_bytes'])})")
    p(f"    heap              in use {fmt_bytes(mem['driver_jvm_peak_heap_bytes'])}, committed"
      f" {fmt_bytes(mem['driver_jvm_peak_heap_committed_bytes'])}, live after GC"
      f" {fmt_bytes(mem['driver_jvm_peak_live_heap_bytes'])} (peaks of {mem['samples']} samples) of max"
      f" {fmt_bytes(mem['driver_jvm_max_heap_bytes'])}; non-heap {fmt_bytes(mem['driver_jvm_peak_nonheap_bytes'])}"
      + (f"; sampler stopped: {mem['sampler_error']}" if mem["sampler_error"] else ""))
    if full_m["slowest_stages"]:
        p("  slowest Spark stages of the full run (executor seconds):")
        for s in full_m["slowest_stages"]:
            p(f"    #{s['stage']:<5}{s['run_s']:8.1f} s {s['tasks']:>5} tasks  shuffle {fmt_bytes(s['shuffle_write']):>10}  {s['name']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
