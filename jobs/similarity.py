"""String and token similarities for comparison levels, as Spark Column expressions.

Every public function takes two :class:`pyspark.sql.Column` (or column names) and returns a
Column, so they compose in ``df.select(...)``, ``withColumn`` and ``F.when`` levels like those of
:mod:`jobs.compare`. They are built from Spark-native expressions only (``split``, ``length``,
``levenshtein``, array functions and the higher-order ``aggregate``/``transform``/``filter``/
``zip_with``): no Python or pandas UDF.

- `jaro(a, b)`, `jaro_winkler(a, b)`: double in [0, 1], equal to jellyfish's
  ``jaro_similarity``/``jaro_winkler_similarity`` (checked by tests/test_similarity.py) except
  for two empty strings, which are equal strings here and score 1.0 (jellyfish gives 0.0).
- `damerau_levenshtein(a, b)`: int, the optimal string alignment (OSA) distance: insert,
  delete, substitute, swap two adjacent characters, no substring edited twice. jellyfish's
  ``damerau_levenshtein_distance`` is the unrestricted distance, which can be smaller
  (CA/ABC: 3 here, 2 there).
- `within_one_edit_or_swap(a, b)`: boolean, Spark's ``levenshtein <= 1`` or one adjacent swap,
  without the dynamic programme of `damerau_levenshtein`.
- `token_containment(a, b)`, `token_jaccard(a, b)`: double in [0, 1] over two array<string>
  token columns.

Null and empty input:

- null on either side gives null (use ``F.coalesce`` for a level that treats it as "missing");
- the strings compare as Unicode code points (Spark's ``length``, ``split(s, "")`` and
  ``levenshtein`` all count code points), so katakana, kanji and supplementary-plane kanji
  such as 𠮷 (U+20BB7) are one character each; no case or width folding is done here (pass
  the keys of :mod:`jobs.normalise`);
- two equal strings, the empty string included, have Jaro(-Winkler) 1.0 and distance 0; an
  empty string against a non-empty one has Jaro 0.0 and distance the other's length;
- a token array with no token (empty, or only nulls and empty strings, which are ignored)
  gives null for the token similarities.

Jaro follows the standard definition and the reference code (Winkler's strcmp95, jellyfish):
two characters match when equal and at most ``max(floor(max(len_a, len_b) / 2) - 1, 0)``
positions apart, each character of ``a`` (left to right) taking the first unmatched equal
character of ``b`` in its window; with ``c`` matches and ``h`` positions at which the matched
characters of the two strings, each in its own order, differ, ``t = floor(h / 2)`` (integer
division, as strcmp95 and jellyfish do: ``h`` may be odd) and
``jaro = (c/len_a + c/len_b + (c - t)/c) / 3`` (0 when ``c = 0``). Jaro-Winkler adds
``l * prefix_scale * (1 - jaro)`` for the ``l <= max_prefix`` leading characters the strings
share, only when ``jaro > boost_threshold`` (0.7 by default, as jellyfish and strcmp95 do;
``boost_threshold=0`` boosts always). jellyfish's optional ``long_tolerance`` adjustment is
not implemented.

Cost: the matching and the distance are higher-order functions, which Spark evaluates in
interpreted mode (outside whole-stage code generation), where what allocates (an array, a
struct, a string) costs far more than arithmetic on a long. So Jaro takes one ``aggregate``
step per character of ``a``: ``locate`` finds the first unmatched equal character of ``b``
(matched ones are overwritten with U+FFFF, a Unicode noncharacter), and the matched positions
of ``a`` are bits of a long. The OSA distance is Hyyrö's bit-parallel algorithm, one step of
some twenty operations on longs per character of the longer string. Beyond these paths'
limits (``a`` longer than 63 characters, or either string holding U+FFFF, for Jaro; the
shorter string longer than 62 characters for OSA) general paths take over: the same values,
several times slower. Equal strings, nulls and empty sides are answered natively first.
Spark does not eliminate common subexpressions inside a lambda, so a value used more than
once inside one is bound once with `_let` (an ``aggregate`` over a one-element array).
Pass columns or cheap expressions: ``a`` and ``b`` appear several times in each expression.

Measured by scripts/bench_similarity.py (1M name-like pairs of 4-14 letters, cached, local[2]
on 2 shared cores, 2026-12-04, medians of 3 interleaved repeats in a quieter hour): the sum of
``levenshtein`` 1.2 s, `within_one_edit_or_swap` 1.5 s, `jaro_winkler` 7.3 s,
`damerau_levenshtein` 16.3 s; Jaro-Winkler as an Arrow pandas UDF 2.9 s with jellyfish
(Rust), 8.2 s in plain Python. An hour with other Spark jobs running doubled every figure
and kept the ratios.
"""

from __future__ import annotations

from typing import Callable, Union

from pyspark.sql import Column
from pyspark.sql import functions as F

ColumnOrName = Union[Column, str]

__all__ = [
    "jaro",
    "jaro_winkler",
    "damerau_levenshtein",
    "within_one_edit_or_swap",
    "token_containment",
    "token_jaccard",
]


def _col(c: ColumnOrName) -> Column:
    return F.col(c) if isinstance(c, str) else c


def _let(value: Column, body: Callable[[Column], Column]) -> Column:
    """``body(v)`` with ``v`` bound to ``value``, evaluated once a row.

    An expression referenced inside a lambda is evaluated again at every call of the lambda
    (Spark's common-subexpression elimination does not look into higher-order functions), so
    what a lambda needs is bound first, as the initial value of an aggregate over one element.
    """
    return F.aggregate(F.array(F.lit(0)), value, lambda acc, _: acc, body)


def _chars(s: Column) -> Column:
    """The code points of ``s`` as an array<string>; ``[""]`` (one element) for the empty string,
    so callers index it only below ``length(s)``."""
    return F.split(s, "")


# ---------------------------------------------------------------------------------------------
# Jaro, Jaro-Winkler
# ---------------------------------------------------------------------------------------------

# Marks a character of ``b`` once matched (a Unicode noncharacter: never in interchanged text).
# A string that contains it anyway is compared by the slower `_jaro_by_arrays`.
_MARK = "\uffff"


def _one() -> Column:
    return F.lit(1).cast("long")


def _zero() -> Column:
    return F.lit(0).cast("long")


def _shl(x: Column, k: Column) -> Column:
    return F.call_function("shiftleft", x, k)


def _bit(mask: Column, i: Column) -> Column:
    return F.call_function("shiftright", mask, i).bitwiseAND(_one()) == 1


def _jaro_weight(c: Column, half: Column, n: Column, m: Column) -> Column:
    """(c/n + c/m + (c - t)/c) / 3 with t = floor(half / 2), 0 without matches."""
    def weight(k: Column) -> Column:
        c, t = k["c"], k["t"]
        return F.when(c == 0, F.lit(0.0)).otherwise((c / n + c / m + (c - t) / c) / 3)
    return _let(F.struct(c.alias("c"), F.floor(half / 2).alias("t")), weight)


def _radius(n: Column, m: Column) -> Column:
    return F.greatest(F.floor(F.greatest(n, m) / 2) - 1, F.lit(0)).cast("int")


def _jaro_by_marks(a: Column, b: Column) -> Column:
    """Jaro of two non-empty strings, ``a`` at most 63 characters and neither holding `_MARK`.

    One ``aggregate`` step per character of ``a``: ``locate`` finds the first unmatched equal
    character of ``b`` from the window's start (matched ones are overwritten with `_MARK`),
    taken if it lies in the window; the matched positions of ``a`` are bits of a long.
    """
    n, m = F.length(a), F.length(b)
    bound = F.struct(_chars(a).alias("ca"), b.alias("b"), n.alias("n"), m.alias("m"), _radius(n, m).alias("r"))

    def on(s: Column) -> Column:
        ca, r = s["ca"], s["r"]

        def step(acc: Column, i: Column) -> Column:
            def take(p: Column) -> Column:
                return F.when((p > 0) & (p <= i + r + 1), F.struct(
                    F.overlay(acc["bb"], F.lit(_MARK), p, F.lit(1)).alias("bb"),
                    acc["ma"].bitwiseOR(_shl(_one(), i)).alias("ma"))).otherwise(acc)
            return _let(F.call_function("locate", ca[i], acc["bb"], F.greatest(i - r, F.lit(0)) + 1), take)

        def score(st: Column) -> Column:
            in_a = F.filter(ca, lambda x, i: _bit(st["ma"], i))
            in_b = F.array_compact(F.zip_with(_chars(s["b"]), _chars(st["bb"]),
                                              lambda y, z: F.when(z == _MARK, y)))
            half = F.size(F.array_remove(F.zip_with(in_a, in_b, lambda x, y: x != y), False))
            return _jaro_weight(F.bit_count(st["ma"]), half, s["n"], s["m"])

        start = F.struct(s["b"].alias("bb"), _zero().alias("ma"))
        return F.aggregate(F.sequence(F.lit(0), s["n"] - 1), start, step, score)

    return _let(bound, on)


def _jaro_by_arrays(a: Column, b: Column) -> Column:
    """Jaro of two non-empty strings of any length and content (slower than `_jaro_by_marks`):
    the aggregate keeps, for each character of ``a``, the position of ``b`` it matched or -1."""
    n, m = F.length(a), F.length(b)
    bound = F.struct(_chars(a).alias("a"), _chars(b).alias("b"), n.alias("n"), m.alias("m"), _radius(n, m).alias("r"))

    def on(s: Column) -> Column:
        ca, cb, r = s["a"], s["b"], s["r"]

        def match(acc: Column, i: Column) -> Column:
            ai = ca[i]
            first = F.array_min(F.transform(cb, lambda y, j: F.when(
                (y == ai) & (F.abs(i - j) <= r) & ~F.array_contains(acc, j), j)))
            return F.concat(acc, F.array(F.coalesce(first, F.lit(-1))))

        def score(mt: Column) -> Column:
            pos = F.filter(mt, lambda j: j >= 0)
            in_a = F.filter(ca, lambda x, i: mt[i] >= 0)
            in_b = F.transform(F.array_sort(pos), lambda j: cb[j])
            half = F.size(F.array_remove(F.zip_with(in_a, in_b, lambda x, y: x != y), False))
            return _jaro_weight(F.size(pos), half, s["n"], s["m"])

        matches = F.aggregate(F.sequence(F.lit(0), s["n"] - 1), F.array().cast("array<int>"), match)
        return _let(matches, score)

    return _let(bound, on)


def _jaro_levels(a: Column, b: Column, finish: Callable[[Column], Column]) -> Column:
    """Null, equal and empty answered natively; ``finish(jaro)`` of the rest."""
    n, m = F.length(a), F.length(b)
    marks_ok = (n <= 63) & (F.instr(a, _MARK) == 0) & (F.instr(b, _MARK) == 0)
    return (
        F.when(a.isNull() | b.isNull(), F.lit(None).cast("double"))
        .when(a == b, F.lit(1.0))
        .when((n == 0) | (m == 0), F.lit(0.0))
        .when(marks_ok, finish(_jaro_by_marks(a, b)))
        .otherwise(finish(_jaro_by_arrays(a, b)))
    )


def jaro(a: ColumnOrName, b: ColumnOrName) -> Column:
    """Jaro similarity of two strings: double in [0, 1] (see the module docstring).

    Null if either is null; 1.0 for equal strings (two empty strings too); 0.0 when exactly
    one is empty or no character matches."""
    a, b = _col(a), _col(b)
    return _jaro_levels(a, b, lambda w: w)


def _common_prefix(a: Column, b: Column, max_prefix: int) -> Column:
    """Number of leading code points ``a`` and ``b`` share, at most ``max_prefix`` (native:
    ``left(a, k) = left(b, k)`` holds exactly for k up to the common prefix)."""
    if max_prefix <= 0:
        return F.lit(0)
    terms = [(F.left(a, F.lit(k)) == F.left(b, F.lit(k))).cast("int") for k in range(1, max_prefix + 1)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def jaro_winkler(
    a: ColumnOrName,
    b: ColumnOrName,
    prefix_scale: float = 0.1,
    max_prefix: int = 4,
    boost_threshold: float = 0.7,
) -> Column:
    """Jaro-Winkler similarity: double in [0, 1], jellyfish's ``jaro_winkler_similarity``.

    ``jaro + l * prefix_scale * (1 - jaro)``, ``l`` the number of leading characters the two
    strings share (at most ``max_prefix``), applied only when ``jaro > boost_threshold``
    (0.7, jellyfish's and strcmp95's rule; 0 applies it always). Null if either is null; 1.0
    for equal strings (two empty strings too, where jellyfish gives 0.0); 0.0 when exactly
    one is empty or no character matches. MARTHA/MARHTA 0.961, DWAYNE/DUANE 0.84,
    DIXON/DICKSONX 0.813.
    """
    if prefix_scale < 0 or max_prefix < 0 or prefix_scale * max_prefix > 1:
        raise ValueError("prefix_scale * max_prefix must lie in [0, 1] for a similarity in [0, 1]")
    a, b = _col(a), _col(b)
    prefix = _common_prefix(a, b, max_prefix)

    def boost(w: Column) -> Column:
        return F.when(w > F.lit(float(boost_threshold)),
                      w + prefix * F.lit(float(prefix_scale)) * (1 - w)).otherwise(w)

    return _jaro_levels(a, b, lambda w: _let(w, boost))


# ---------------------------------------------------------------------------------------------
# Edit distances
# ---------------------------------------------------------------------------------------------

# The bit-parallel OSA works on a long: the shorter string's length at most 62 keeps the
# additions below 2^63 (Spark's ANSI arithmetic raises on overflow).
_BITS_MAX = 62


def _osa_by_bits(a: Column, b: Column) -> Column:
    """OSA distance of two non-empty strings, the shorter at most `_BITS_MAX` characters:
    Hyyrö's bit-vector algorithm (2003), one ``aggregate`` step per character of the longer
    string on the vertical deltas of the table's column (VP, VN), as rapidfuzz computes it.

    The distance is read off the last column: ``len(longer) + popcount(VP) - popcount(VN)``.
    """
    n0, m0 = F.length(a), F.length(b)
    swap = n0 > m0
    pattern, text = F.when(swap, b).otherwise(a), F.when(swap, a).otherwise(b)
    n = F.least(n0, m0)
    bound = F.struct(_chars(pattern).alias("p"), _chars(text).alias("t"), n.alias("n"),
                     F.greatest(n0, m0).alias("m"), F.sequence(F.lit(0), n - 1).alias("seq"))

    def on(s: Column) -> Column:
        pc, tc, seq = s["p"], s["t"], s["seq"]
        full = _shl(_one(), s["n"]) - 1
        # the pattern's positions of each text character, as a bit mask
        by_scan = F.transform(tc, lambda y: F.aggregate(
            seq, _zero(), lambda acc, i: acc.bitwiseOR(F.when(pc[i] == y, _shl(_one(), i)).otherwise(_zero()))))
        # enough when no character of the pattern repeats: 1 << (position - 1), 0 if absent
        first = F.transform(tc, lambda y: F.call_function(
            "shiftright", _shl(_one(), F.array_position(pc, y).cast("int")), F.lit(1)))
        masks = F.when(F.size(F.array_distinct(pc)) == s["n"], first).otherwise(by_scan)

        def step(st: Column, pm: Column) -> Column:
            vp, vn, d0, pm_1 = st["vp"], st["vn"], st["d0"], st["pm"]
            swaps = _shl(F.bitwise_not(d0).bitwiseAND(pm), F.lit(1)).bitwiseAND(pm_1)
            d0_new = (pm.bitwiseAND(vp) + vp).bitwiseXOR(vp).bitwiseOR(pm).bitwiseOR(vn).bitwiseOR(swaps)

            def deltas(d: Column) -> Column:
                hp = vn.bitwiseOR(F.bitwise_not(d.bitwiseOR(vp)))
                hn = d.bitwiseAND(vp)
                hp1 = _shl(hp, F.lit(1)).bitwiseOR(_one())
                return F.struct(
                    _shl(hn, F.lit(1)).bitwiseOR(F.bitwise_not(d.bitwiseOR(hp1))).bitwiseAND(full).alias("vp"),
                    hp1.bitwiseAND(d).alias("vn"), d.alias("d0"), pm.alias("pm"))
            return _let(d0_new, deltas)

        start = F.struct(full.alias("vp"), _zero().alias("vn"), _zero().alias("d0"), _zero().alias("pm"))
        return F.aggregate(masks, start, step, lambda st: s["m"] + F.bit_count(st["vp"])
                           - F.bit_count(st["vn"].bitwiseAND(full)))

    return _let(bound, on)


def _osa_by_table(a: Column, b: Column) -> Column:
    """OSA distance of two non-empty strings of any length: the table row by row (an
    ``aggregate`` over ``a`` keeping the last two rows, each row an ``aggregate`` over ``b``)."""
    n, m = F.length(a), F.length(b)
    bound = F.struct(_chars(a).alias("a"), _chars(b).alias("b"), n.alias("n"), m.alias("m"))

    def on(s: Column) -> Column:
        ca, cb, mm = s["a"], s["b"], s["m"]
        row0 = F.sequence(F.lit(0), mm)

        def row(st: Column, i: Column) -> Column:
            prev, prev2 = st["prev"], st["prev2"]

            def fill(c: Column) -> Column:
                ai, ai_1 = c["ai"], c["ai_1"]

                def cell(cur: Column, j: Column) -> Column:
                    bj = cb[j - 1]
                    best = F.least(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + F.when(ai == bj, 0).otherwise(1))
                    swap = F.when((j > 1) & (ai == F.get(cb, j - 2)) & (ai_1 == bj), prev2[j - 2] + 1)
                    return F.concat(cur, F.array(F.least(best, swap)))  # least skips the null swap
                return F.aggregate(F.sequence(F.lit(1), mm), F.array(i), cell)

            chars = F.struct(ca[i - 1].alias("ai"), F.get(ca, i - 2).alias("ai_1"))  # ai_1 null in row 1
            return F.struct(prev.alias("prev2"), _let(chars, fill).alias("prev"))

        start = F.struct(row0.alias("prev2"), row0.alias("prev"))
        return F.aggregate(F.sequence(F.lit(1), s["n"]), start, row, lambda st: st["prev"][mm])

    return _let(bound, on)


def damerau_levenshtein(a: ColumnOrName, b: ColumnOrName) -> Column:
    """Optimal string alignment distance: int, the fewest insertions, deletions, substitutions
    and swaps of two adjacent characters turning ``a`` into ``b``, no substring edited twice
    (CA/ABC is 3). Null if either is null; 0 for equal strings; the other's length when one
    is empty.

    Computed bit-parallel (`_osa_by_bits`, O(len_a * len_b) cheap steps) when the shorter
    string has at most 62 characters, else by the table (`_osa_by_table`, several times slower).
    """
    a, b = _col(a), _col(b)
    n, m = F.length(a), F.length(b)
    return (
        F.when(a.isNull() | b.isNull(), F.lit(None).cast("int"))
        .when(a == b, F.lit(0))
        .when(n == 0, m)
        .when(m == 0, n)
        .when(F.least(n, m) <= _BITS_MAX, _osa_by_bits(a, b))
        .otherwise(_osa_by_table(a, b))
    )


def _one_adjacent_swap(a: Column, b: Column) -> Column:
    """``b`` is ``a`` with the two characters at its first difference swapped (equal lengths)."""
    first_diff = F.array_position(F.zip_with(_chars(a), _chars(b), lambda x, y: x != y), True).cast("int")

    def at(p: Column) -> Column:
        rest = F.length(a)
        return (p > 0) & (a.substr(p, F.lit(2)) == F.reverse(b.substr(p, F.lit(2)))) & (
            a.substr(p + 2, rest) == b.substr(p + 2, rest))
    return _let(first_diff, at)


def within_one_edit_or_swap(a: ColumnOrName, b: ColumnOrName) -> Column:
    """True when ``a`` and ``b`` are at most one insertion, deletion or substitution apart
    (``levenshtein(a, b) <= 1``: equal strings too) or of equal length with exactly two
    adjacent characters swapped (MARTHA/MARHTA); null if either is null.

    Spark's native ``levenshtein`` with threshold 2 answers almost every pair; the swap is
    looked for (one ``zip_with``) only when that distance is exactly 2 and the lengths equal.
    This is ``damerau_levenshtein(a, b) <= 1`` without the table.
    """
    a, b = _col(a), _col(b)
    lev = F.levenshtein(a, b, 2)  # -1 beyond 2
    return (
        F.when(a.isNull() | b.isNull(), F.lit(None).cast("boolean"))
        .when((lev >= 0) & (lev <= 1), F.lit(True))
        .when((lev == 2) & (F.length(a) == F.length(b)), _one_adjacent_swap(a, b))
        .otherwise(F.lit(False))
    )


# ---------------------------------------------------------------------------------------------
# Token sets
# ---------------------------------------------------------------------------------------------


def _token_set(tokens: Column) -> Column:
    """Distinct tokens, nulls and empty strings dropped."""
    return F.array_distinct(F.array_remove(F.array_compact(tokens), ""))


def _token_ratio(a: ColumnOrName, b: ColumnOrName, denominator: Callable[[Column, Column], Column]) -> Column:
    a, b = _col(a), _col(b)
    sa, sb = _token_set(a), _token_set(b)
    common = F.size(F.array_intersect(sa, sb))
    den = denominator(sa, sb)
    return (
        F.when(a.isNull() | b.isNull() | (F.size(sa) == 0) | (F.size(sb) == 0), F.lit(None).cast("double"))
        .otherwise(common / den)
    )


def token_containment(a: ColumnOrName, b: ColumnOrName) -> Column:
    """Share of the smaller token set's tokens found in the other: |A ∩ B| / min(|A|, |B|),
    over two array<string> columns as sets (duplicates count once, nulls and empty strings
    are ignored, tokens compare exactly).

    1.0 when one side's tokens are all in the other (a middle name left out, a token added:
    [JOHN, SMITH] against [JOHN, PAUL, SMITH]); 0.0 when no token is shared. Null when
    either array is null or has no token.
    """
    return _token_ratio(a, b, lambda sa, sb: F.least(F.size(sa), F.size(sb)))


def token_jaccard(a: ColumnOrName, b: ColumnOrName) -> Column:
    """Jaccard index of two token sets: |A ∩ B| / |A ∪ B| (sets as in `token_containment`;
    [JOHN, SMITH] against [JOHN, PAUL, SMITH] is 2/3). Null when either array is null or
    has no token."""
    return _token_ratio(a, b, lambda sa, sb: F.size(F.array_union(sa, sb)))


# ---------------------------------------------------------------------------------------------
# Character q-grams
# ---------------------------------------------------------------------------------------------


def qgrams(s: ColumnOrName, q: int = 2) -> Column:
    """The distinct substrings of ``q`` characters of a string, as ``array<string>``: a
    string shorter than ``q`` gives its own single element, null gives null."""
    s = _col(s)
    n = F.length(s) - F.lit(q - 1)
    grams = F.transform(F.sequence(F.lit(1), F.greatest(n, F.lit(1))), lambda i: F.substr(s, i, F.lit(q)))
    return F.when(s.isNotNull(), F.array_distinct(grams))


def qgram_dice(a: ColumnOrName, b: ColumnOrName, q: int = 2) -> Column:
    """Dice coefficient of two strings' q-gram sets, 2 |A ∩ B| / (|A| + |B|), between 0 and 1
    (1 for equal strings; null when either is null or empty).

    Unlike an edit distance it does not grow with where the strings differ: a word added or
    left out of an address (``vanpraagplacewallan`` in ``vanpraagplacethehomesteadwallan``)
    keeps most q-grams, while two streets of one town share few.  Works alike for Latin and
    for kanji and kana, where words are not separated by spaces."""
    a, b = _col(a), _col(b)
    ga, gb = qgrams(a, q), qgrams(b, q)
    common = F.size(F.array_intersect(ga, gb))
    return F.when((F.length(a) > 0) & (F.length(b) > 0),
                  F.lit(2.0) * common / (F.size(ga) + F.size(gb)))
