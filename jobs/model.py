"""The identity model's parameters, learned from the run's own data.

Each comparison level (`jobs.compare.COMPARISONS`) has an m (its chance between a record and
its own person) and a u (its chance between two different people); a level's weight is
log2(m/u), and a pair's posterior probability of being the same person adds the weights to
the prior odds.  The parameters are what the data decides, not constants:

- **u** from random pairs of residents (`u_from_register`): how often two people share a
  birth date, a family name or a town depends on the population.
- **m** by expectation-maximisation over each category's own linked pairs, which are mostly
  right (`em`): the share of each level among the pairs the model takes for matches.  Holders
  differ in data quality, so every category gets its own m; a category with fewer than
  ``em_min_pairs`` compared pairs takes the pooled m (all categories together), and every
  category's estimate is pulled toward the pooled one by ``em_prior_pairs`` pseudo-pairs, so
  a small category is never decided by a handful of records.
- **the prior** per category, the EM's share of matches among its links.

The estimation reads a bounded sample (``em_pairs_per_category`` linked records per category,
``u_pairs`` random pairs), aggregates it in Spark to one row per category and combination of
levels, and runs the EM on the driver over those counts (a few thousand rows), so it is
deterministic for a given seed and costs the same whatever the register's size.  The
configured m, u and prior (conf/thresholds.yaml) are the starting point and the pseudo-counts'
target; ``model.learn: false`` uses them as they are (an audit, the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs import compare as C

FIXED = "fixed"
LEARNED = "learned"
POOLED = "pooled"

DEFAULTS = {
    "learn": True,
    "seed": 1,
    "u_pairs": 50_000,
    "u_prior_pairs": 1_000,
    "em_pairs_per_category": 3_000,
    "em_min_pairs": 500,
    "em_prior_pairs": 200,
    "em_iterations": 100,
    "em_tolerance": 1e-7,
}
"""``model:`` in conf/thresholds.yaml: every key, with its default."""


def model_settings(thresholds: dict) -> dict:
    """The ``model`` section with defaults; an unknown key or a wrong type is a ValueError."""
    given = thresholds.get("model") or {}
    if not isinstance(given, dict):
        raise ValueError("thresholds.yaml model: expected a mapping")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"thresholds.yaml model: unknown key {', '.join(unknown)} (keys: {', '.join(DEFAULTS)})")
    out = dict(DEFAULTS)
    for k, v in given.items():
        want = type(DEFAULTS[k])
        ok = isinstance(v, bool) if want is bool else (isinstance(v, (int, float)) and not isinstance(v, bool))
        if not ok or (want is int and not float(v).is_integer()) or (want is not bool and v < 0):
            raise ValueError(f"thresholds.yaml model.{k}: {v!r} is not a {'boolean' if want is bool else 'non-negative number'}")
        out[k] = want(v)
    return out


@dataclass
class Params:
    """m per field and level, and the prior (log2 odds), of one category (or the pool)."""

    m: dict[str, dict[str, float]]
    prior_log2: float
    pairs: int = 0
    source: str = FIXED
    iterations: int = 0


@dataclass
class Model:
    """The run's parameters: u (one register), the pooled m and each category's m."""

    u: dict[str, dict[str, float]]
    pooled: Params
    categories: dict[str, Params] = field(default_factory=dict)
    u_pairs: int = 0

    def params(self, category: str) -> Params:
        return self.categories.get(category, self.pooled)

    def weight(self, category: str, fld: str, level: str) -> float:
        p = self.params(category)
        return math.log2(p.m[fld][level] / self.u[fld][level])

    def rows(self, run_id: str) -> list[dict]:
        """One row per category, field and level (the ``models`` table)."""
        out = []
        for cat, p in [("*", self.pooled), *sorted(self.categories.items())]:
            for fld, comp in C.COMPARISONS.items():
                for level in comp.parameterised:
                    m, u = p.m[fld][level], self.u[fld][level]
                    out.append({"run_id": run_id, "category": cat, "field": fld, "level": level,
                                "m": float(m), "u": float(u), "weight": round(math.log2(m / u), 4),
                                "prior_log2": round(p.prior_log2, 4), "pairs": int(p.pairs), "source": p.source})
        return out

    def describe(self, top: int | None = None) -> str:
        """A short text: u pairs, and per category its source, pairs, prior and the m of the
        levels that differ most from the pooled ones."""
        lines = [f"model: u from {self.u_pairs:,} random pairs of residents; pooled m from "
                 f"{self.pooled.pairs:,} linked pairs ({self.pooled.source}, prior {self.pooled.prior_log2:+.2f} bits)"]
        for cat, p in sorted(self.categories.items()):
            lines.append(f"  {cat:<30} {p.source:<7} pairs {p.pairs:>7,}  prior {p.prior_log2:+6.2f}  "
                         + "  ".join(f"{f}.exact m={p.m[f]['exact']:.4f}" for f in ("name_kanji", "birth_date", "address")))
        return "\n".join(lines[: (top + 1) if top else None])


def _normalised(levels: dict[str, float], names: tuple[str, ...]) -> dict[str, float]:
    total = sum(float(levels[n]) for n in names)
    return {n: float(levels[n]) / total for n in names}


def fixed_model(thresholds: dict) -> Model:
    """The configured m, u and prior as they are."""
    comps = thresholds["comparisons"]
    m = {f: {lv: float(comps[f][lv]["m"]) for lv in c.parameterised} for f, c in C.COMPARISONS.items()}
    u = {f: {lv: float(comps[f][lv]["u"]) for lv in c.parameterised} for f, c in C.COMPARISONS.items()}
    return Model(u=u, pooled=Params(m=m, prior_log2=float(thresholds["prior_match_log2"])))


# --- estimation ------------------------------------------------------------------------


def level_counts(compared: DataFrame, by: list[str] | None = None) -> list[tuple]:
    """Rows ``(*by, level of each field in COMPARISONS order, n)`` of pairs that carry
    ``lv_<field>`` columns: the sufficient statistics of the EM."""
    by = by or []
    cols = [f"lv_{f}" for f in C.FIELDS]
    rows = compared.groupBy(*by, *cols).agg(F.count(F.lit(1)).alias("n")).collect()
    return [tuple(r[c] for c in [*by, *cols]) + (int(r["n"]),) for r in rows]


def u_from_counts(counts: list[tuple], configured: dict, prior_pairs: float) -> tuple[dict, int]:
    """u per field and level from level counts of random pairs (``level_counts`` rows
    without ``by``), each level pulled toward the configured u by ``prior_pairs``
    pseudo-pairs (a level no random pair reached keeps a small, configured u)."""
    n_total = sum(r[-1] for r in counts)
    u = {}
    for i, (fld, comp) in enumerate(C.COMPARISONS.items()):
        names = comp.parameterised
        u0 = _normalised({n: configured[fld][n] for n in names}, names)
        seen = {n: 0 for n in names}
        for r in counts:
            if r[i] in seen:
                seen[r[i]] += r[-1]
        n = sum(seen.values())
        u[fld] = {lv: (seen[lv] + prior_pairs * u0[lv]) / (n + prior_pairs) for lv in names}
    return u, n_total


def em(counts: list[tuple], u: dict, m0: dict, prior_log2: float, prior_pairs: float,
       iterations: int, tolerance: float) -> Params:
    """Fellegi-Sunter EM with u fixed: m per level and the prior from level-pattern counts.

    ``counts`` rows are (level per field, n).  Each level's m is pulled toward ``m0`` by
    ``prior_pairs`` pseudo-pairs (no level gets m = 0 from a sample that missed it)."""
    fields = list(C.COMPARISONS)
    params = {f: C.COMPARISONS[f].parameterised for f in fields}
    m = {f: dict(m0[f]) for f in fields}
    lam = 1.0 / (1.0 + 2.0 ** -prior_log2)
    total = sum(r[-1] for r in counts)
    it = 0
    for it in range(1, iterations + 1):
        acc = {f: {lv: 0.0 for lv in params[f]} for f in fields}
        acc_n = {f: 0.0 for f in fields}
        matched = 0.0
        for r in counts:
            lm, lu = math.log(lam), math.log(1.0 - lam)
            for i, f in enumerate(fields):
                lv = r[i]
                if lv in m[f]:
                    lm += math.log(m[f][lv])
                    lu += math.log(u[f][lv])
            d = lu - lm
            post = 0.0 if d > 700 else 1.0 / (1.0 + math.exp(d))
            w = post * r[-1]
            matched += w
            for i, f in enumerate(fields):
                lv = r[i]
                if lv in acc[f]:
                    acc[f][lv] += w
                    acc_n[f] += w
        new_m = {f: {lv: (acc[f][lv] + prior_pairs * m0[f][lv]) / (acc_n[f] + prior_pairs) for lv in params[f]}
                 for f in fields}
        new_lam = min(max(matched / total, 1e-4), 1 - 1e-6) if total else lam
        change = max([abs(new_lam - lam)] + [abs(new_m[f][lv] - m[f][lv]) for f in fields for lv in params[f]])
        m, lam = new_m, new_lam
        if change < tolerance:
            break
    return Params(m=m, prior_log2=math.log2(lam / (1.0 - lam)), pairs=int(total), source=LEARNED, iterations=it)


def learn(linked_counts: list[tuple], random_counts: list[tuple], thresholds: dict) -> Model:
    """The run's model from ``level_counts`` of sampled linked pairs (by category) and of
    random pairs of residents (`level_counts` rows), per `model_settings`."""
    s = model_settings(thresholds)
    base = fixed_model(thresholds)
    u, n_u = u_from_counts(random_counts, base.u, s["u_prior_pairs"])
    m0 = {f: _normalised(base.pooled.m[f], c.parameterised) for f, c in C.COMPARISONS.items()}
    pooled_counts: dict[tuple, int] = {}
    by_cat: dict[str, list[tuple]] = {}
    for r in linked_counts:
        pooled_counts[r[1:-1]] = pooled_counts.get(r[1:-1], 0) + r[-1]
        by_cat.setdefault(r[0], []).append(r[1:])
    pooled_rows = [k + (n,) for k, n in sorted(pooled_counts.items(), key=lambda kv: [str(x) for x in kv[0]])]
    pooled = em(pooled_rows, u, m0, base.pooled.prior_log2, s["em_prior_pairs"], s["em_iterations"], s["em_tolerance"])
    pooled.source = POOLED
    cats = {}
    for cat in sorted(by_cat):
        rows = sorted(by_cat[cat], key=lambda r: [str(x) for x in r])
        n = sum(r[-1] for r in rows)
        if n < s["em_min_pairs"]:
            cats[cat] = Params(m=pooled.m, prior_log2=pooled.prior_log2, pairs=n, source=POOLED)
        else:
            cats[cat] = em(rows, u, pooled.m, pooled.prior_log2, s["em_prior_pairs"], s["em_iterations"],
                           s["em_tolerance"])
    return Model(u=u, pooled=pooled, categories=cats, u_pairs=n_u)


def sample_links(records: DataFrame, per_category: int, counts: dict[str, int], seed: int) -> DataFrame:
    """About ``per_category`` records of each category (all of a smaller one), seeded."""
    fractions = {c: min(1.0, per_category / n) for c, n in counts.items() if n > 0}
    return records.sampleBy("category", fractions, seed)


# --- weights as columns ------------------------------------------------------------------


def category_index(model: Model, category: Column | None = None) -> Column:
    """The position (1-based) of each row's category among the model's learned categories,
    0 for a category the model has none for: computed once per row (as a column) and given
    to `weight_column`, `m_column` and `prior_column`, which then look up an element of a
    literal array instead of searching the category again for every field and level."""
    category = F.col("category") if category is None else category
    cats = sorted(model.categories)
    if not cats:
        return F.lit(0)
    return F.array_position(F.array(*[F.lit(c) for c in cats]), category).cast("int")


def _by_category(model: Model, values: dict[str, float], index: Column) -> Column:
    """``values[category]`` as a column over the category's ``index`` (`category_index`): a
    constant when all are equal, else an element of a literal array (null for index 0)."""
    distinct = set(values.values())
    if len(distinct) <= 1:
        return F.lit(next(iter(distinct)) if distinct else 0.0)
    cats = sorted(values)
    arr = F.array(*[F.lit(float(values[c])) for c in cats])
    return F.when(index > 0, F.element_at(arr, index))


def weight_column(model: Model, fld: str, level: Column, category: Column) -> Column:
    """log2(m/u) of the pair's level for its category's m; 0 for the null levels.
    ``category`` is the row's `category_index`."""
    expr = F.lit(0.0)
    comp = C.COMPARISONS[fld]
    cats = sorted(model.categories)
    for name in comp.parameterised:
        pooled = round(math.log2(model.pooled.m[fld][name] / model.u[fld][name]), 4)
        per = {c: round(model.weight(c, fld, name), 4) for c in cats}
        w = F.coalesce(_by_category(model, per, category), F.lit(pooled)) if per else F.lit(pooled)
        expr = F.when(level == name, w).otherwise(expr)
    return expr


def m_column(model: Model, fld: str, level: str, category: Column) -> Column:
    """The category's m of one level (for a term-frequency adjusted weight)."""
    per = {c: model.params(c).m[fld][level] for c in model.categories}
    pooled = F.lit(model.pooled.m[fld][level])
    return F.coalesce(_by_category(model, per, category), pooled) if per else pooled


def prior_column(model: Model, category: Column) -> Column:
    per = {c: round(p.prior_log2, 4) for c, p in model.categories.items()}
    pooled = F.lit(round(model.pooled.prior_log2, 4))
    return F.coalesce(_by_category(model, per, category), pooled) if per else pooled


def posterior(weight: Column, prior_log2: Column) -> Column:
    """P(same person) from a total weight and the prior odds (log2)."""
    return F.lit(1.0) / (F.lit(1.0) + F.pow(F.lit(2.0), -(weight + prior_log2)))


def learn_from(linked_sample: DataFrame, random_pairs: DataFrame, thresholds: dict) -> Model:
    """`learn` from a sample of linked pairs carrying ``lv_<field>`` and ``category`` (those
    whose number names a resident) and from random pairs of residents (columns ``l<key>`` and
    ``r<key>``, `jobs.estimate.random_pairs`)."""
    linked = level_counts(linked_sample.where(F.col("r_num").isNotNull()), ["category"])
    rand = level_counts(random_pairs.select(*[v.alias(f"lv_{k}") for k, v in C.levels("l", "r").items()]))
    return learn(linked, rand, thresholds)


MODELS_SCHEMA = ("run_id string, category string, field string, level string, m double, u double, "
                 "weight double, prior_log2 double, pairs long, source string")
"""The ``models`` table: a run's parameters, one row per category (``*`` the pooled ones),
field and level."""


CORRELATED = (("name_kanji", "name_kana"),)
"""Fields that measure the same thing: a name written (kanji or alphabet) and its reading.
Their levels are not independent, so their weights must not simply add up: summed, one
agreement counts twice (a same-name stranger outscores the person whose maiden name the
record holds, 2 × ~14 bits against a birth date's 15), and a reading a kana away from a
twin's (ミサキ/ミツキ) would outweigh the written given names that differ (美咲/美月).
`adjust_correlated` combines them."""


def adjust_correlated(weights: dict[str, Column]) -> dict[str, Column]:
    """For each pair of `CORRELATED` fields (the written name first, its reading second), the
    reading's weight becomes what it adds to the written name's:

    - both agree or both disagree: the stronger of the two counts, once;
    - the written name disagrees and the reading agrees: nothing (a reading cannot overrule
      the name it reads; two names of one family often read alike);
    - the written name agrees and the reading disagrees: the reading's doubt adds up;
    - the written name says nothing (missing, weight 0): the reading counts in full.

    Their sum is the name's weight.  Fields absent keep theirs."""
    out = dict(weights)
    for first, second in CORRELATED:
        if first in out and second in out:
            a, b = out[first], out[second]
            extra = F.when(F.abs(b) > F.abs(a), b - a).otherwise(F.lit(0.0))
            out[second] = (F.when((a * b) > 0, extra)
                           .when((a < 0) & (b > 0), F.lit(0.0))
                           .otherwise(b))
    return out
