"""Field comparisons with ordered levels, and Fellegi-Sunter weights from configuration.

`levels(l, r)` compares a record (columns prefixed ``l``) with a resident (prefix ``r``)
and returns one level column per field, the first level whose condition holds
(best first), as Splink's comparison levels do.  `weights` turns the levels into
log2(m/u) weights from conf/thresholds.yaml; `score` adds them to the prior and
returns a probability.
"""

from __future__ import annotations

import math

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs import normalise as N

FIELDS = ("name_kanji", "name_kana", "birth_date", "sex", "address")


def _c(prefix: str, name: str) -> Column:
    return F.col(f"{prefix}{name}")


def _close(a: Column, b: Column, max_edits: int, min_len: int) -> Column:
    return (F.levenshtein(a, b) <= max_edits) & (F.least(F.length(a), F.length(b)) >= min_len)


def _aligned(l: str, r: str, key: str, fam: str, giv: str) -> tuple[Column, Column, Column, Column]:
    """Family/given of both sides, splitting a name written without a space by the other
    side's family name (prefix) or given name (suffix)."""
    k_l, f_l, g_l = _c(l, key), _c(l, fam), _c(l, giv)
    k_r, f_r, g_r = _c(r, key), _c(r, fam), _c(r, giv)

    def split(k, f, g, of, og):
        by_fam = g.isNull() & og.isNotNull() & k.startswith(of) & (F.length(k) > F.length(of))
        by_giv = g.isNull() & og.isNotNull() & k.endswith(og) & (F.length(k) > F.length(og))
        fam2 = F.when(by_fam, of).when(by_giv, F.left(k, F.length(k) - F.length(og))).otherwise(f)
        giv2 = F.when(by_fam, F.right(k, F.length(k) - F.length(of))).when(by_giv, og).otherwise(g)
        return fam2, giv2

    fl, gl = split(k_l, f_l, g_l, f_r, g_r)
    fr, gr = split(k_r, f_r, g_r, f_l, g_l)
    return fl, gl, fr, gr


def _alpha_close(l: str, r: str) -> Column:
    """Alphabet names that agree token by token up to one edit per token, in any order,
    one side possibly lacking a middle name."""
    a, b = _c(l, "atok"), _c(r, "atok")

    def typo(t, u):
        # one edit, or two letters swapped (HTAPA/THAPA), in a token of four letters or more
        swapped = (F.levenshtein(t, u) == 2) & (F.array_sort(F.split(t, "")) == F.array_sort(F.split(u, "")))
        return F.when(F.length(t) >= 4, (F.levenshtein(t, u) <= 1) | swapped).otherwise(t == u)

    def covered(x, y):
        return F.forall(x, lambda t: F.exists(y, lambda u: typo(t, u)))
    return (F.size(a) >= 2) & (F.size(b) >= 2) & (covered(a, b) | covered(b, a))


def _reads_as(l: str, r: str, part: str) -> Column:
    """One name part of the two sides may be read alike: equal, or a dictionary reading of
    one side's kanji (``rfam``/``rgiv``) is the other side's reading or one of its readings."""
    n, k, rd = {"fam": ("nfam", "kfam", "rfam"), "giv": ("ngiv", "kgiv", "rgiv")}[part]
    empty = F.array().cast("array<string>")
    rl, rr = F.coalesce(_c(l, rd), empty), F.coalesce(_c(r, rd), empty)
    return F.coalesce(
        (_c(l, n) == _c(r, n)) | F.arrays_overlap(rl, rr)
        | F.array_contains(rl, _c(r, k)) | F.array_contains(rr, _c(l, k)),
        F.lit(False))


def _katakana_of_alpha(k: str, a: str) -> Column:
    """Side ``k`` writes in katakana the name that side ``a`` registers in the alphabet, and
    it reads as ``a``'s own reading, in either order or with a middle name left out
    (メンドーサ・ラモン for MENDOZA RAMON read メンドーサ ラモン)."""
    nk, kk = _c(k, "nk"), _c(a, "kk")
    agree = (nk == kk) | foreign_kana_agree(_c(k, "nfam"), _c(k, "ngiv"), _c(a, "kfam"), _c(a, "kgiv"))
    return F.coalesce(_c(a, "alpha") & kk.isNotNull() & nk.rlike(_KATAKANA_NAME) & agree, F.lit(False))


_KATAKANA_NAME = "^[\u30a1-\u30fa]+$"
# What a system writes for a character it cannot encode (外字): the geta mark, a question
# mark (？ is ? after width folding), a square.
_PLACEHOLDERS = "〓?■□"


def _placeholder_match(a: Column, b: Column) -> Column:
    """``a`` has characters its system could not encode (平川 〓子, 平川 ？子) and reads as ``b``
    with any one character in their place; at least two characters known."""
    has = a.rlike(f"[{_PLACEHOLDERS}]")
    known = F.length(F.regexp_replace(a, f"[{_PLACEHOLDERS}]", "")) >= 2
    escaped = F.regexp_replace(a, r"([%_\\])", r"\\$1")
    pattern = F.translate(escaped, _PLACEHOLDERS, "_" * len(_PLACEHOLDERS))
    return F.coalesce(has & known & ~b.rlike(f"[{_PLACEHOLDERS}]") & F.like(b, pattern), F.lit(False))


def name_kanji_level(l: str, r: str) -> Column:
    nk_l, nk_r = _c(l, "nk"), _c(r, "nk")
    both_alpha = _c(l, "alpha") & _c(r, "alpha")
    at_l = F.array_join(_c(l, "atok"), " ")
    at_r = F.array_join(_c(r, "atok"), " ")
    alpha_close = both_alpha & (_close(at_l, at_r, 2, 8) | _alpha_close(l, r))
    fl, gl, fr, gr = _aligned(l, r, "nk", "nfam", "ngiv")
    # an alphabet name in the other order, a name split otherwise (JIWOO KIM / KIM JI-WOO)
    fl_a, gl_a = _c(l, "nfam"), _c(l, "ngiv")
    return (
        F.when(nk_l.isNull() | nk_r.isNull(), "missing")
        .when((nk_l == nk_r) | (both_alpha & ((at_l == at_r) | (F.concat(gl_a, fl_a) == nk_r))), "exact")
        .when(alpha_close, "alpha_close")
        .when(_katakana_of_alpha(l, r) | _katakana_of_alpha(r, l), "katakana")
        .when(_placeholder_match(nk_l, nk_r) | _placeholder_match(nk_r, nk_l), "placeholder")
        .when(~both_alpha & _reads_as(l, r, "fam") & _reads_as(l, r, "giv"), "reading")
        .when((gl == gr) & (fl != fr), "maiden")
        .when((fl == fr) & (gl != gr), "given_diff")
        .when(both_alpha & _alpha_maiden(l, r), "maiden")
        .when(both_alpha & _alpha_given_diff(l, r), "given_diff")
        .otherwise("different")
    )


def _alpha_maiden(l: str, r: str) -> Column:
    """Alphabet names in any order: the record has every given token of the resident (the
    register's alphabet names are written family name first), not the resident's family
    name, and a token of its own (MARIA TANAKA for SANTOS MARIA: another family name)."""
    t_l, fam_r = _c(l, "atok"), _c(r, "nfam")
    given_r = F.array_remove(_c(r, "atok"), fam_r)
    return F.coalesce(
        ~F.array_contains(t_l, fam_r) & (F.size(given_r) > 0) & (F.size(F.array_except(given_r, t_l)) == 0)
        & (F.size(F.array_except(t_l, given_r)) > 0), F.lit(False))


def _alpha_given_diff(l: str, r: str) -> Column:
    """Alphabet names in any order: the record has the resident's family name and given
    tokens of its own (SOFIA GARCIA for GARCIA JOSE: a household member's name)."""
    t_l, t_r, fam_r = _c(l, "atok"), _c(r, "atok"), _c(r, "nfam")
    given_l, given_r = F.array_remove(t_l, fam_r), F.array_remove(t_r, fam_r)
    return F.coalesce(
        F.array_contains(t_r, fam_r) & F.array_contains(t_l, fam_r)
        & (F.size(given_l) > 0) & (F.size(given_r) > 0) & (given_l != given_r), F.lit(False))


def _kana_reads_kanji(kana: Column, full_readings: Column) -> Column:
    """The reading (whole, with or without a space) is one of the dictionary's full readings
    of the other side's kanji (``rfull``, computed once per distinct name)."""
    return F.coalesce(F.array_contains(full_readings, kana), F.lit(False))


def foreign_kana_swapped(fam1: Column, giv1: Column, fam2: Column, giv2: Column) -> Column:
    """Family and given name of a two-part reading in the other order (ソンホ イ / イ ソンホ)."""
    return (fam1 == giv2) & (giv1 == fam2)


def foreign_kana_agree(fam1: Column, giv1: Column, fam2: Column, giv2: Column) -> Column:
    """Two katakana renderings of a foreign resident's name that agree up to the order of
    family and given name (ソンホ イ / イ ソンホ) or a middle name left out on one side
    (フェレイラ フェルナンダ / フェレイラ フェルナンダ パウラ, レ タイン / レ ヴァン タイン: the family
    names agree and one given part begins or ends the other, of at least two kana).  Only
    for alphabet names: a Japanese given name that begins another (ユウ, ユウイチ) is another."""
    swapped = foreign_kana_swapped(fam1, giv1, fam2, giv2)
    shorter = F.length(giv1) <= F.length(giv2)
    short, long_ = F.when(shorter, giv1).otherwise(giv2), F.when(shorter, giv2).otherwise(giv1)
    left_out = ((fam1 == fam2) & (F.length(short) >= 2) & (F.length(long_) > F.length(short))
                & (long_.startswith(short) | long_.endswith(short)))
    return swapped | left_out


def name_kana_level(l: str, r: str, key: str = "kk", fam: str = "kfam", giv: str = "kgiv",
                    rkey: str = "kk", rfam: str = "kfam", rgiv: str = "kgiv") -> Column:
    a, b = _c(l, key), _c(r, rkey)
    fl, gl, fr, gr = _aligned(l, r, key, fam, giv)
    # one side has no reading: its kanji's dictionary readings stand in (コバヤシサクラ ~ 小林 さくら)
    reads = F.when(a.isNotNull() & b.isNull(), _kana_reads_kanji(a, _c(r, "rfull"))).when(
        a.isNull() & b.isNotNull(), _kana_reads_kanji(b, _c(l, "rfull")))
    alpha = _c(l, "alpha") | _c(r, "alpha")
    foreign = alpha & foreign_kana_agree(fl, gl, fr, gr)
    # a foreign resident's reading in another order is the same reading
    reordered = alpha & (foreign_kana_swapped(fl, gl, fr, gr) | (_c(l, "ks") == _c(r, "ks")))
    return (
        F.when(F.coalesce(reads, F.lit(False)), "reading")
        .when(a.isNull() | b.isNull(), "missing")
        .when((a == b) | F.coalesce(reordered, F.lit(False)), "exact")
        # the same reading with a long vowel spelt differently (サトウ ヨウコ / ｻﾄｰ ﾖｰｺ)
        .when(N.kana_short(a) == N.kana_short(b), "long_vowel")
        # another family name; the given name equal, also when its long vowel is spelt otherwise
        .when(((gl == gr) | (N.kana_short(gl) == N.kana_short(gr)))
              & (N.kana_short(fl) != N.kana_short(fr)), "maiden")
        .when(_close(a, b, 1, 3) | F.coalesce(foreign, F.lit(False)), "close")
        .when((fl == fr) & (gl != gr), "given_diff")
        .otherwise("different")
    )


def birth_date_level(l: str, r: str) -> Column:
    a, b = _c(l, "bd"), _c(r, "bd")
    ya, ma, da = F.year(a), F.month(a), F.dayofmonth(a)
    yb, mb, db = F.year(b), F.month(b), F.dayofmonth(b)
    one_digit = lambda x, y: F.levenshtein(F.lpad(x.cast("string"), 2, "0"), F.lpad(y.cast("string"), 2, "0")) <= 1  # noqa: E731
    return (
        F.when(a.isNull() | b.isNull(), "missing")
        .when(a == b, "exact")
        .when((ya == yb) & (ma == db) & (da == mb), "swap")
        .when((ma == mb) & (da == db), "year_off")
        .when((ya == yb) & (((ma == mb) & one_digit(da, db)) | ((da == db) & one_digit(ma, mb))), "close")
        .otherwise("different")
    )


def sex_level(l: str, r: str) -> Column:
    a, b = _c(l, "sx"), _c(r, "sx")
    return F.when(a.isNull() | b.isNull(), "missing").when(a == b, "exact").otherwise("different")


def address_level(l: str, r: str) -> Column:
    a, b = _c(l, "ak"), _c(r, "ak")
    return (
        F.when(a.isNull() | b.isNull(), "missing")
        .when(a == b, "exact")
        .when(_c(l, "aa") == _c(r, "aa"), "area")
        .otherwise("different")
    )


def levels(l: str, r: str) -> dict[str, Column]:
    """Level column per field for record prefix ``l`` against resident prefix ``r``."""
    return {
        "name_kanji": name_kanji_level(l, r),
        "name_kana": name_kana_level(l, r),
        "birth_date": birth_date_level(l, r),
        "sex": sex_level(l, r),
        "address": address_level(l, r),
    }


def level_weight(field: str, level: Column, comparisons: dict) -> Column:
    """log2(m/u) of the level from configuration; 0 for missing or unconfigured levels."""
    expr = F.lit(0.0)
    for name, mu in comparisons.get(field, {}).items():
        w = math.log2(float(mu["m"]) / float(mu["u"]))
        expr = F.when(level == name, F.lit(round(w, 4))).otherwise(expr)
    return expr


def name_judgement(kanji: Column, kana: Column) -> Column:
    """Combine the kanji and kana levels into agree / soft / hard / unknown.

    Readings break ties that written forms cannot: 陽子 and 洋子 read ヨウコ alike (soft),
    while twins 優太/優斗 differ in both forms (hard).
    """
    k_ok = kanji.isin("exact")
    # a foreign name written in katakana that reads as the registered reading
    kata_ok = (kanji == "katakana") & kana.isin("exact", "missing", "reading", "long_vowel", "close")
    # a long vowel spelt otherwise is the same reading, except between two given names
    # written differently (ユキ/ユウキ are two names)
    r_ok = kana.isin("exact") | ((kana == "long_vowel") & (kanji != "given_diff"))
    return (
        F.when((kanji == "missing") & (kana == "missing"), "unknown")
        .when(k_ok & kana.isin("exact", "missing", "reading", "long_vowel"), "agree")
        .when(kata_ok, "agree")
        .when(kanji == "katakana", "soft")
        # an unencodable character in place of one of the other side's: agreed by the reading
        .when((kanji == "placeholder") & kana.isin("exact", "long_vowel"), "agree")
        .when((kanji == "placeholder") & ~kana.isin("different", "given_diff", "maiden"), "soft")
        .when((kanji == "missing") & kana.isin("exact", "reading"), "agree")
        .when(k_ok, "soft")                                   # kanji equal, reading differs
        .when(kanji.isin("reading") & ~kana.isin("different", "given_diff"), "soft")  # 洋子/陽子, both read ヨウコ
        .when(kanji.isin("alpha_close"), "soft")      # readings of foreign names vary too much to overrule
        .when(r_ok, "soft")                                   # same reading, other kanji
        .when(kanji.isin("maiden") & kana.isin("maiden", "missing", "reading"), "soft")
        .when((kanji == "missing") & kana.isin("close", "maiden"), "soft")
        # given names written differently and no reading to compare on one side: 陽子 and
        # 洋子 may be the same person; only a better candidate can show the link is wrong
        .when((kanji == "given_diff") & kana.isin("missing", "reading"), "unconfirmed")
        .otherwise("hard")
    )


def total_weight(lv: dict[str, Column], comparisons: dict) -> Column:
    """Sum of the field weights."""
    total = F.lit(0.0)
    for field, level in lv.items():
        total = total + level_weight(field, level, comparisons)
    return total


def probability(weight: Column, prior_log2: float) -> Column:
    """Match probability from a total weight and the prior odds (log2)."""
    return F.lit(1.0) / (F.lit(1.0) + F.pow(F.lit(2.0), -(weight + F.lit(prior_log2))))
