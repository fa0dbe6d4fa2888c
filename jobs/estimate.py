"""Estimate u (the chance of each comparison level between two different people) from the
register itself, by comparing random pairs of residents.

u is what the data decides: how often two random people share a birth date, a family
name or a town depends on the population, so it should be measured rather than guessed.
`random_pairs` draws about ``n_pairs`` pairs of distinct residents with a random bucket
join (no cartesian product); `u_by_level` compares them with the same levels as the run
(`jobs.compare.levels`) and returns the share of each level.  m (the chance of a level
for the same person) needs labelled links and stays configured.

`tenken estimate-u --input DIR` prints the estimates next to the configured values as
YAML to paste into conf/thresholds.yaml.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import compare as C

COLS = ("num", "nk", "nfam", "ngiv", "kk", "kfam", "kgiv", "ks", "rfam", "rgiv", "rfull", "alpha", "atok", "ak", "aa", "bd", "sx")


def random_pairs(residents: DataFrame, n_pairs: int, seed: int = 1) -> DataFrame:
    """About ``n_pairs`` pairs of distinct residents (columns ``l*`` and ``r*``).

    Each side gets an independent random bucket; pairs are the rows that share a bucket,
    so with N residents and B buckets the expected count is N^2 / B.  The right side's seed is
    far from the left's: Spark seeds ``rand(s)`` with s + the partition's index, so seeds s
    and s + 1 gave the same numbers one partition apart (200k residents: 250k pairs for 100k
    asked, the same rows paired again and again)."""
    side = residents.select(*[F.col(c) for c in COLS if c in residents.columns])
    n = side.count()
    buckets = max(1, int(n * n / max(1, n_pairs)))
    left = side.select(*[F.col(c).alias(f"l{c}") for c in side.columns],
                       (F.rand(seed) * buckets).cast("long").alias("__b"))
    right = side.select(*[F.col(c).alias(f"r{c}") for c in side.columns],
                        (F.rand(seed + 1_000_003) * buckets).cast("long").alias("__b"))
    return left.join(right, "__b").where(F.col("lnum") != F.col("rnum")).drop("__b")


def u_by_level(pairs: DataFrame, floor: float = 1e-6) -> dict[str, dict[str, float]]:
    """Share of each level per field among the pairs (levels never seen get ``floor``)."""
    lv = C.levels("l", "r")
    counted = pairs.select(*[v.alias(k) for k, v in lv.items()]).cache()
    try:
        total = counted.count()
        out: dict[str, dict[str, float]] = {}
        for field in lv:
            rows = counted.groupBy(field).agg(F.count(F.lit(1)).alias("n")).collect()
            known = {r[field]: r["n"] for r in rows if r[field] != "missing"}
            seen = sum(known.values())
            out[field] = {k: max(floor, v / seen) for k, v in known.items()} if seen else {}
        out["_pairs"] = {"compared": float(total)}
        return out
    finally:
        counted.unpersist()


def as_yaml(estimated: dict, comparisons: dict) -> str:
    """The estimates as a comparisons: block, with the configured m and u for reference."""
    lines = [f"# u estimated from {int(estimated['_pairs']['compared'])} random pairs of residents",
             "comparisons:"]
    for field, levels in comparisons.items():
        lines.append(f"  {field}:")
        for level, mu in levels.items():
            u = estimated.get(field, {}).get(level)
            shown = f"{u:.6g}" if u is not None else mu["u"]
            lines.append(f"    {level + ':':<12} {{m: {mu['m']}, u: {shown}}}   # configured u {mu['u']}")
    return "\n".join(lines)
