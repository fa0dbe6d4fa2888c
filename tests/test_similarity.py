"""jobs.similarity against plain-Python reference implementations (and jellyfish, when it is
importable) on hand-written pairs and 2,000 random pairs of short strings (fixed seed)."""

import math
import random

import pytest
from pyspark.sql import functions as F

from jobs import similarity as S

try:  # optional: a second, independent reference (not a dependency of the project)
    import jellyfish
except ImportError:  # pragma: no cover
    jellyfish = None


# ---------------------------------------------------------------------------------------------
# Reference implementations (plain Python, code points = Python str characters)
# ---------------------------------------------------------------------------------------------


def ref_jaro(s1, s2):
    if s1 is None or s2 is None:
        return None
    if s1 == s2:
        return 1.0
    n, m = len(s1), len(s2)
    if n == 0 or m == 0:
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
    if c == 0:
        return 0.0
    in_b = [s2[j] for j in range(m) if used[j]]
    t = sum(x != y for x, y in zip(in_a, in_b)) // 2
    return (c / n + c / m + (c - t) / c) / 3


def ref_jaro_winkler(s1, s2, prefix_scale=0.1, max_prefix=4, boost_threshold=0.7):
    w = ref_jaro(s1, s2)
    if w is None or w <= boost_threshold:
        return w
    k = 0
    while k < min(len(s1), len(s2), max_prefix) and s1[k] == s2[k]:
        k += 1
    return w + k * prefix_scale * (1 - w)


def ref_osa(s1, s2):
    if s1 is None or s2 is None:
        return None
    n, m = len(s1), len(s2)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = 0 if s1[i - 1] == s2[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and s1[i - 1] == s2[j - 2] and s1[i - 2] == s2[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[n][m]


def ref_levenshtein(s1, s2):
    prev = list(range(len(s2) + 1))
    for i, x in enumerate(s1, 1):
        cur = [i]
        for j, y in enumerate(s2, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def ref_within_one(s1, s2):
    if s1 is None or s2 is None:
        return None
    if ref_levenshtein(s1, s2) <= 1:
        return True
    if len(s1) != len(s2):
        return False
    diff = [k for k in range(len(s1)) if s1[k] != s2[k]]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and s1[diff[0]] == s2[diff[1]] and s1[diff[1]] == s2[diff[0]]


def _tokens(t):
    return None if t is None else {x for x in t if x}


def ref_containment(a, b):
    sa, sb = _tokens(a), _tokens(b)
    if not sa or not sb:
        return None
    return len(sa & sb) / min(len(sa), len(sb))


def ref_jaccard(a, b):
    sa, sb = _tokens(a), _tokens(b)
    if not sa or not sb:
        return None
    return len(sa & sb) / len(sa | sb)


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

# (a, b, jaro-winkler to 3 places where the literature gives it)
HAND = [
    ("MARTHA", "MARHTA", 0.961),
    ("DWAYNE", "DUANE", 0.840),
    ("DIXON", "DICKSONX", 0.813),
    ("WHITE", "WHIET", None),
    ("JONES", "JOHNSON", None),
    ("タカハシ", "タカハス", None),
    ("高橋", "髙橋", None),
    ("𠮷田", "吉田", None),  # a supplementary-plane kanji is one character
    ("𠮷野𠮷", "𠮷𠮷野", None),
    ("", "", None),
    ("", "A", None),
    ("タ", "", None),
    ("A", "A", None),
    ("A", "B", None),
    ("ア", "ア", None),
    ("CA", "ABC", None),
    ("ABCD", "ABDC", None),
    ("abc", "bca", None),
    ("CADAB", "DCDADACD", None),  # an odd number of out-of-order matches: t = floor(3 / 2)
    ("ABCXYZ", "ABQRST", None),  # jaro below 0.7: no boost by default
    (None, "A", None),
    ("A", None, None),
    (None, None, None),
]

ALPHABET = "ABCDEアイカタ高髙𠮷"


def _long_pairs(seed=62):
    """Pairs around the fast paths' limits (Jaro's bit mask: 63 characters of ``a``; the
    bit-parallel OSA: 62 characters of the shorter string) and strings holding U+FFFF (the
    mark of the fast Jaro): the slower general paths answer these."""
    rnd = random.Random(seed)
    out = []
    for n, m in ((62, 62), (62, 70), (63, 63), (63, 62), (64, 64), (70, 66), (80, 40), (64, 5)):
        a = "".join(rnd.choice("ABC高") for _ in range(n))
        b = list(a[:m]) + [rnd.choice("ABC") for _ in range(m - len(a[:m]))]
        for _ in range(3):
            k = rnd.randrange(len(b) - 1)
            b[k], b[k + 1] = b[k + 1], b[k]
            b[rnd.randrange(len(b))] = rnd.choice("ABCD")
        out.append((a, "".join(b)))
    out += [("A\uffffB", "AB\uffff"), ("\uffffX", "X\uffff"), ("MAR\uffffTHA", "MARHTA"), ("\uffff", "\uffff\uffff")]
    return out


LONG = _long_pairs()


def _random_pairs(count=2000, seed=20261204):
    rnd = random.Random(seed)

    def word(lo=0, hi=8):
        return "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(lo, hi)))

    def mutate(s):
        chars = list(s)
        for _ in range(rnd.randint(1, 2)):
            op = rnd.randrange(4)
            k = rnd.randrange(len(chars) + 1)
            if op == 0:
                chars.insert(k, rnd.choice(ALPHABET))
            elif chars and op == 1:
                del chars[min(k, len(chars) - 1)]
            elif chars and op == 2:
                chars[min(k, len(chars) - 1)] = rnd.choice(ALPHABET)
            elif len(chars) >= 2:
                k = min(k, len(chars) - 2)
                chars[k], chars[k + 1] = chars[k + 1], chars[k]
        return "".join(chars)

    pairs = []
    for _ in range(count):
        a = word()
        pairs.append((a, mutate(a) if rnd.random() < 0.5 else word()))
    return pairs


@pytest.fixture(scope="module")
def results(spark):
    pairs = [(a, b) for a, b, _ in HAND] + LONG + _random_pairs()
    df = spark.createDataFrame([(k, a, b) for k, (a, b) in enumerate(pairs)], "k int, a string, b string")
    a, b = F.col("a"), F.col("b")
    non_empty = (F.length(a) > 0) & (F.length(b) > 0)
    out = df.select(
        "k", "a", "b",
        S.jaro(a, b).alias("jaro"),
        S.jaro_winkler("a", "b").alias("jw"),
        S.jaro_winkler("a", "b", boost_threshold=0.0).alias("jw_always"),
        S.jaro_winkler(a, b, prefix_scale=0.2, max_prefix=2).alias("jw_p2"),
        S.damerau_levenshtein("a", "b").alias("osa"),
        S.within_one_edit_or_swap("a", "b").alias("one"),
        # the general paths, which the public functions take only beyond the fast paths' limits
        F.when(non_empty, S._jaro_by_arrays(a, b)).alias("jaro_arrays"),
        F.when(non_empty, S._osa_by_table(a, b)).alias("osa_table"),
    )
    plan = out._jdf.queryExecution().executedPlan().toString()
    return plan, sorted(out.collect(), key=lambda r: r.k)


def _close(x, y):
    return (x is None and y is None) or (x is not None and y is not None and math.isclose(x, y, abs_tol=1e-12))


def test_no_python_udf_in_the_plan(results):
    plan, _ = results
    assert "Python" not in plan and "Arrow" not in plan


def test_hand_cases(results):
    _, rows = results
    for (a, b, expected), r in zip(HAND, rows):
        assert (r.a, r.b) == (a, b)
        assert _close(r.jaro, ref_jaro(a, b)), (a, b, r.jaro)
        assert _close(r.jw, ref_jaro_winkler(a, b)), (a, b, r.jw)
        assert r.osa == ref_osa(a, b), (a, b, r.osa)
        assert r.one == ref_within_one(a, b), (a, b, r.one)
        if expected is not None:
            assert round(r.jw, 3) == expected, (a, b, r.jw)
    by = {(r.a, r.b): r for r in rows[:len(HAND)]}
    assert by[("", "")].jaro == by[("", "")].jw == 1.0 and by[("", "")].osa == 0
    assert by[("", "A")].jw == 0.0 and by[("", "A")].osa == 1 and by[("タ", "")].osa == 1
    assert by[(None, "A")].jw is None and by[(None, "A")].osa is None and by[(None, "A")].one is None
    assert by[("CA", "ABC")].osa == 3  # OSA, not the unrestricted Damerau distance (2)
    assert by[("MARTHA", "MARHTA")].osa == 1 and by[("MARTHA", "MARHTA")].one
    assert by[("ABCD", "ABDC")].one and not by[("abc", "bca")].one
    assert by[("高橋", "髙橋")].osa == 1 and by[("𠮷田", "吉田")].osa == 1 and by[("𠮷田", "吉田")].one
    assert math.isclose(by[("𠮷田", "吉田")].jaro, 2 / 3)
    w = ref_jaro("ABCXYZ", "ABQRST")
    assert w < 0.7 and by[("ABCXYZ", "ABQRST")].jw == pytest.approx(w)
    assert by[("ABCXYZ", "ABQRST")].jw_always == pytest.approx(w + 2 * 0.1 * (1 - w))


def test_long_strings_and_the_mark_character(results):
    _, rows = results
    for (a, b), r in zip(LONG, rows[len(HAND):]):
        assert (r.a, r.b) == (a, b)
        assert _close(r.jaro, ref_jaro(a, b)) and _close(r.jw, ref_jaro_winkler(a, b)), (len(a), len(b), r.jaro)
        assert r.osa == ref_osa(a, b), (len(a), len(b), r.osa, ref_osa(a, b))
        assert r.one == ref_within_one(a, b)
    assert min(r.osa for r in rows[len(HAND):len(HAND) + 8]) >= 3


def test_general_paths_match_the_reference(results):
    _, rows = results
    for r in rows:
        if r.a and r.b:
            assert _close(r.jaro_arrays, ref_jaro(r.a, r.b)) and r.osa_table == ref_osa(r.a, r.b), (r.a, r.b)


def test_random_pairs_match_the_reference(results):
    _, rows = results
    assert len(rows) == len(HAND) + len(LONG) + 2000
    bad = []
    for r in rows[len(HAND) + len(LONG):]:
        a, b = r.a, r.b
        if not (_close(r.jaro, ref_jaro(a, b)) and _close(r.jw, ref_jaro_winkler(a, b))
                and _close(r.jw_always, ref_jaro_winkler(a, b, boost_threshold=0.0))
                and _close(r.jw_p2, ref_jaro_winkler(a, b, prefix_scale=0.2, max_prefix=2))
                and r.osa == ref_osa(a, b) and r.one == ref_within_one(a, b)):
            bad.append(r)
    assert not bad, bad[:5]
    assert all(r.one == (r.osa <= 1) for r in rows if r.osa is not None)
    # the sample exercises what it should: transpositions, swaps, boosts and empty sides
    sample = rows[len(HAND) + len(LONG):]
    assert sum(bool(r.one) and r.osa == 1 and ref_levenshtein(r.a, r.b) == 2 for r in sample) > 20
    assert sum(r.jw > r.jaro for r in sample) > 200
    assert sum(r.a == "" or r.b == "" for r in sample) > 10
    assert sum(r.a != r.b and r.osa <= 2 for r in sample) > 500


@pytest.mark.skipif(jellyfish is None, reason="jellyfish is not installed")
def test_agrees_with_jellyfish(results):
    _, rows = results
    for r in rows:
        if r.a is None or r.b is None:
            continue
        if r.a == r.b == "":
            assert jellyfish.jaro_winkler_similarity("", "") == 0.0 and r.jw == 1.0  # documented difference
            continue
        assert _close(r.jaro, jellyfish.jaro_similarity(r.a, r.b)), (r.a, r.b)
        assert _close(r.jw, jellyfish.jaro_winkler_similarity(r.a, r.b)), (r.a, r.b)
        # jellyfish's Damerau-Levenshtein is the unrestricted distance: at most OSA, which is at most Levenshtein
        dl = jellyfish.damerau_levenshtein_distance(r.a, r.b)
        assert dl <= r.osa <= jellyfish.levenshtein_distance(r.a, r.b)


def test_parameters_are_checked():
    with pytest.raises(ValueError):
        S.jaro_winkler("a", "b", prefix_scale=0.3, max_prefix=4)
    with pytest.raises(ValueError):
        S.jaro_winkler("a", "b", prefix_scale=-0.1)


TOKENS = [
    (["JOHN", "SMITH"], ["JOHN", "PAUL", "SMITH"], 1.0, 2 / 3),
    (["SMITH", "JOHN"], ["JOHN", "SMITH"], 1.0, 1.0),
    (["JOHN", "SMITH"], ["JON", "SMITH"], 0.5, 1 / 3),
    (["JOHN", "JOHN", "SMITH"], ["JOHN"], 1.0, 0.5),  # sets: duplicates count once
    (["GARCIA", "MARIA", "JOSE"], ["MARIA", "SANTOS"], 0.5, 0.25),
    (["山田", "太郎"], ["山田", "花子"], 0.5, 1 / 3),
    (["A", None, ""], ["A"], 1.0, 1.0),  # nulls and empty strings are no tokens
    (["A"], ["B"], 0.0, 0.0),
    ([], ["A"], None, None),
    ([None, ""], ["A"], None, None),
    ([], [], None, None),
    (None, ["A"], None, None),
    (["A"], None, None, None),
]


def test_token_similarities(spark):
    df = spark.createDataFrame([(k, a, b) for k, (a, b, _, _) in enumerate(TOKENS)],
                               "k int, a array<string>, b array<string>")
    rows = sorted(df.select("k", S.token_containment("a", "b").alias("c"),
                            S.token_jaccard(F.col("a"), F.col("b")).alias("j")).collect(), key=lambda r: r.k)
    for (a, b, c, j), r in zip(TOKENS, rows):
        assert _close(r.c, c) and _close(r.c, ref_containment(a, b)), (a, b, r.c)
        assert _close(r.j, j) and _close(r.j, ref_jaccard(a, b)), (a, b, r.j)


def ref_dice(a, b, q=2):
    if not a or not b:
        return None
    grams = lambda s: {s[i:i + q] for i in range(max(1, len(s) - q + 1))}  # noqa: E731
    ga, gb = grams(a), grams(b)
    return 2 * len(ga & gb) / (len(ga) + len(gb))


QGRAMS = [
    ("VANPRAAGPLACEWALLANVIC2360", "VANPRAAGPLACETHEHOMESTEADWALLANVIC2360"),
    ("千代田区丸の内1-2-3", "千代田区大手町2-1"),
    ("ABAB", "BABA"),
    ("A", "A"),
    ("A", "AB"),
    ("SAME", "SAME"),
    ("", "X"),
    (None, "X"),
]


def test_qgram_dice(spark):
    df = spark.createDataFrame([(k, a, b) for k, (a, b) in enumerate(QGRAMS)], "k int, a string, b string")
    rows = sorted(df.select("k", S.qgram_dice("a", "b").alias("d")).collect(), key=lambda r: r.k)
    for (a, b), r in zip(QGRAMS, rows):
        assert _close(r.d, ref_dice(a, b)), (a, b, r.d, ref_dice(a, b))
    by = {QGRAMS[r.k]: r.d for r in rows}
    # a part added to an address keeps most of it; another street of the same town does not
    assert by[QGRAMS[0]] > 0.7 > by[QGRAMS[1]]
    assert by[("SAME", "SAME")] == 1.0
