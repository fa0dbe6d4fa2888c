#!/usr/bin/env python
"""Micro-benchmark of the string similarities of jobs.similarity on this machine.

    .venv/bin/python scripts/bench_similarity.py [--pairs 1000000] [--seed 7] [--repeats 3] [--json]

1. Generates PAIRS pairs of name-like strings in Spark with ``rand`` (fixed seed): ``a`` of
   4-14 letters, consonant and vowel alternating (TAKAHASHI-like); ``b`` equal to ``a`` for
   10% of the pairs, ``a`` with one edit (substitution, adjacent swap, deletion or insertion,
   a quarter each) for 45%, an independent string for 45%. The pairs are cached in memory and
   counted before any timing.
2. Times, in one session (jobs.session.get_spark(jobs.config.load_config()): local[2]), the
   sum over all pairs of
   - ``scan``: length(a) + length(b), the floor (reading the cached pairs);
   - ``levenshtein``: Spark's native F.levenshtein, the baseline Spark has;
   - ``within_one``: jobs.similarity.within_one_edit_or_swap;
   - ``jaro_winkler``: the jobs.similarity expression;
   - ``damerau``: jobs.similarity.damerau_levenshtein (OSA);
   - ``udf_jellyfish``: an Arrow pandas_udf calling jellyfish.jaro_winkler_similarity (Rust),
     when jellyfish is importable;
   - ``udf_python``: an Arrow pandas_udf with a plain-Python Jaro-Winkler.
   Each repeat runs every variant once, in an order rotated by one from the repeat before
   (interleaved, so a burst of load from another job hits several variants, not all the
   repeats of one). A warm-up round over 100k other pairs comes first (JIT, Python workers).
3. Prints per variant the wall seconds of each repeat, the CPU seconds the Spark JVM and its
   Python workers used, and the median against levenshtein; the load average before and
   after. The Jaro-Winkler sums of the expression and the UDFs are checked to agree.

The machine has 2 cores and other jobs may run at the same time: read the spread of the
repeats (and the CPU seconds, less sensitive to another process than the wall time) before
drawing conclusions.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import pandas as pd  # module level: pandas_udf resolves the type hints in the module's globals

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONSONANTS = "KSTNHMYRWGZDBP"
VOWELS = "AIUEO"
MAX_LEN = 14


def _letter(seed: int, letters: str):
    from pyspark.sql import functions as F

    return F.lit(letters).substr((F.floor(F.rand(seed) * len(letters)) + 1).cast("int"), F.lit(1))


def pairs_frame(spark, count: int, seed: int, partitions: int = 4):
    """``count`` rows (k, a, b) of name-like strings (see the module docstring)."""
    from pyspark.sql import functions as F

    def word(base: int):
        full = F.concat(*[_letter(base + k, CONSONANTS if k % 2 == 0 else VOWELS) for k in range(MAX_LEN)])
        length = (F.floor(F.rand(base + 50) * (MAX_LEN - 3)) + 4).cast("int")
        return F.left(full, length)

    s = seed * 1000
    df = spark.range(0, count, 1, partitions).select(
        F.col("id").alias("k"), word(s).alias("a"), word(s + 100).alias("other"),
        F.rand(s + 200).alias("u"), F.rand(s + 201).alias("v"), _letter(s + 202, CONSONANTS + VOWELS).alias("c"))
    a, n = F.col("a"), F.length("a")
    p = (F.floor(F.col("v") * (n - 1)) + 1).cast("int")  # 1 .. n-1: a swap has a right neighbour
    one = F.lit(1)
    sub = F.concat(F.left(a, p - 1), F.col("c"), a.substr(p + 1, n))
    swap = F.concat(F.left(a, p - 1), a.substr(p + 1, one), a.substr(p, one), a.substr(p + 2, n))
    dele = F.concat(F.left(a, p - 1), a.substr(p + 1, n))
    ins = F.concat(F.left(a, p - 1), F.col("c"), a.substr(p, n))
    u = F.col("u")
    b = (F.when(u < 0.10, a).when(u < 0.2125, sub).when(u < 0.325, swap).when(u < 0.4375, dele)
         .when(u < 0.55, ins).otherwise(F.col("other")))
    return df.select("k", "a", b.alias("b"))


# ---------------------------------------------------------------------------------------
# CPU of the Spark JVM and its Python workers (Linux /proc)
# ---------------------------------------------------------------------------------------

def _tree_cpu(root_pid: int) -> float:
    """User + system CPU seconds of ``root_pid`` and its live descendants (and of the children
    they reaped)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        parent[pid] = int(fields[1])
        cpu[pid] = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    total = 0.0
    for pid in cpu:
        q = pid
        while q and q != root_pid:
            q = parent.get(q, 0)
        if q == root_pid:
            total += cpu[pid]
    return total


# ---------------------------------------------------------------------------------------
# variants
# ---------------------------------------------------------------------------------------

def _py_jaro_winkler(s1, s2):
    """Plain-Python Jaro-Winkler, jellyfish's definition (threshold 0.7, prefix 4, scale 0.1)."""
    if s1 == s2:
        return 1.0
    n, m = len(s1), len(s2)
    if not n or not m:
        return 0.0
    r = max(max(n, m) // 2 - 1, 0)
    used = [False] * m
    in_a = []
    for i, ch in enumerate(s1):
        for j in range(max(0, i - r), min(i + r, m - 1) + 1):
            if not used[j] and s2[j] == ch:
                used[j] = True
                in_a.append(ch)
                break
    c = len(in_a)
    if not c:
        return 0.0
    in_b = [s2[j] for j in range(m) if used[j]]
    t = sum(x != y for x, y in zip(in_a, in_b)) // 2
    w = (c / n + c / m + (c - t) / c) / 3
    if w > 0.7:
        k, top = 0, min(n, m, 4)
        while k < top and s1[k] == s2[k]:
            k += 1
        w += k * 0.1 * (1 - w)
    return w


def variants(have_jellyfish: bool) -> dict:
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    from jobs import similarity as S

    a, b = F.col("a"), F.col("b")

    @pandas_udf("double")
    def udf_python(x: pd.Series, y: pd.Series) -> pd.Series:
        return pd.Series([_py_jaro_winkler(s, t) if isinstance(s, str) and isinstance(t, str) else None
                          for s, t in zip(x, y)], dtype="float64")

    out = {
        "scan": F.sum(F.length(a) + F.length(b)),
        "levenshtein": F.sum(F.levenshtein(a, b)),
        "within_one": F.sum(S.within_one_edit_or_swap(a, b).cast("int")),
        "jaro_winkler": F.sum(S.jaro_winkler(a, b)),
        "damerau": F.sum(S.damerau_levenshtein(a, b)),
    }
    if have_jellyfish:
        @pandas_udf("double")
        def udf_jellyfish(x: pd.Series, y: pd.Series) -> pd.Series:
            import jellyfish

            jw = jellyfish.jaro_winkler_similarity
            return pd.Series([(1.0 if s == t else jw(s, t)) if isinstance(s, str) and isinstance(t, str) else None
                              for s, t in zip(x, y)], dtype="float64")
        out["udf_jellyfish"] = F.sum(udf_jellyfish(a, b))
    out["udf_python"] = F.sum(udf_python(a, b))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON too")
    args = ap.parse_args(argv)

    os.environ.setdefault("TENKEN_TOKEN_KEY", secrets.token_hex(32))   # a throw-away key (>= 32 bytes)
    # the UDFs' Python workers must run this interpreter (the venv's pandas, pyarrow, jellyfish)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from jobs.config import load_config
    from jobs.session import get_spark

    try:
        import jellyfish  # noqa: F401
        have_jellyfish = True
    except ImportError:
        have_jellyfish = False

    spark = get_spark(load_config())
    jvm_pid = int(spark._jvm.java.lang.ProcessHandle.current().pid())
    chosen = variants(have_jellyfish)
    if args.only:
        keep = args.only.split(",")
        chosen = {k: v for k, v in chosen.items() if k in keep}

    t0 = time.time()
    warm = pairs_frame(spark, 100_000, args.seed + 1).cache()
    warm.count()
    pairs = pairs_frame(spark, args.pairs, args.seed).cache()
    rows = pairs.count()
    print(f"pairs: {rows:,} generated and cached in {time.time() - t0:.1f} s "
          f"(master {spark.sparkContext.master}, {os.cpu_count()} CPUs)", flush=True)
    stats = pairs.selectExpr("avg(length(a))", "avg(length(b))", "avg(cast(a = b as int))",
                             "avg(cast(levenshtein(a, b) <= 1 as int))").first()
    print(f"mean length a {stats[0]:.2f}, b {stats[1]:.2f}; equal {stats[2]:.3f}; "
          f"levenshtein <= 1 {stats[3]:.3f}", flush=True)

    for name, agg in chosen.items():  # warm-up
        warm.select(agg).collect()

    names = list(chosen)
    wall = {k: [] for k in names}
    cpu = {k: [] for k in names}
    sums = {}
    loads = [os.getloadavg()[0]]
    for rep in range(args.repeats):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            c0, w0 = _tree_cpu(jvm_pid), time.perf_counter()
            value = pairs.select(chosen[name]).first()[0]
            w1, c1 = time.perf_counter(), _tree_cpu(jvm_pid)
            wall[name].append(w1 - w0)
            cpu[name].append(c1 - c0)
            sums[name] = value
            print(f"  repeat {rep + 1} {name:14s} {w1 - w0:7.2f} s wall {c1 - c0:7.2f} s CPU  sum={value}",
                  flush=True)
        loads.append(os.getloadavg()[0])

    base = statistics.median(wall["levenshtein"]) if "levenshtein" in wall else None
    print(f"\n{'variant':14s} {'wall s (each repeat)':28s} {'median':>7s} {'spread':>7s} {'x lev':>6s}"
          f" {'CPU s med':>9s} {'us/pair CPU':>11s}")
    result = {"pairs": rows, "seed": args.seed, "load_avg_1m": loads, "variants": {}}
    for name in names:
        med = statistics.median(wall[name])
        spread = (max(wall[name]) - min(wall[name])) / med if med else 0.0
        cmed = statistics.median(cpu[name])
        ratio = med / base if base else float("nan")
        each = " ".join(f"{x:6.2f}" for x in wall[name])
        print(f"{name:14s} {each:28s} {med:7.2f} {spread:6.0%} {ratio:6.1f} {cmed:9.2f} {cmed / rows * 1e6:11.2f}")
        result["variants"][name] = {"wall_s": wall[name], "cpu_s": cpu[name], "median_wall_s": med,
                                    "x_levenshtein": ratio, "sum": sums[name]}
    print("load average (1 min) before and after each repeat: " + ", ".join(f"{x:.2f}" for x in loads))
    jw = {k: sums[k] for k in ("jaro_winkler", "udf_jellyfish", "udf_python") if k in sums}
    if len(jw) > 1:
        ref = next(iter(jw.values()))
        agree = all(abs(v - ref) <= 1e-9 * max(1.0, abs(ref)) for v in jw.values())
        print("Jaro-Winkler sums " + ("agree" if agree else "DIFFER") + ": " + ", ".join(f"{k}={v!r}" for k, v in jw.items()))
        result["jaro_winkler_sums_agree"] = agree
    if args.json:
        print(json.dumps(result, indent=2))
    pairs.unpersist()
    warm.unpersist()
    return 0


if __name__ == "__main__":
    sys.exit(main())
