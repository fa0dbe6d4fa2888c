"""Field comparisons with ordered levels, and Fellegi-Sunter weights.

The comparison model is declared once, in `COMPARISONS`: per field a `Comparison`, an
ordered list of `Level` objects (name, condition, kind, whether term frequencies apply), as
Splink's ``Comparison``/``ComparisonLevel`` are.  Adding a level is one entry here and one
``{m, u}`` entry in conf/thresholds.yaml; `validate_comparisons` refuses a level without
parameters and parameters for a level that does not exist (exit 2 at load).

`levels(l, r)` compares a record (columns prefixed ``l``) with a resident (prefix ``r``)
and returns one level column per field, the first level whose condition holds (best
first); `differs` says whether a level is a difference beyond notation.  The weights and
the posterior are `jobs.model`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs import normalise as N
from jobs import similarity as S

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


# ---------------------------------------------------------------------------------------
# The comparison model: per field an ordered list of levels (Splink's Comparison and
# ComparisonLevel).  A level is a name, a condition over the pair and its kind; its m and u
# come from conf/thresholds.yaml (or are learned per run, `jobs.model`).  The first level
# whose condition holds is the pair's level; the last level has no condition.
# ---------------------------------------------------------------------------------------

NULL = "null"
"""A level that says nothing (a side has no value): weight 0, no parameters."""
AGREE = "agree"
"""The same value, possibly in another notation (width, variant kanji, readings ...)."""
DIFFER = "differ"
"""A difference beyond notation: a typo, a part left out, another value."""


@dataclass(frozen=True)
class Level:
    """One comparison level.

    :param name: the level's name (the value of the ``lv_<field>`` column, a key in YAML)
    :param condition: ``Pair -> Column`` (boolean), or None for the last level of a field
    :param kind: `NULL`, `AGREE` or `DIFFER`
    :param tf: term frequencies adjust this level's u (the value's share of the register)
    :param doc: what the level means, for reviewers and for ``tenken model``
    :param correctable: a difference of this level on a record that is its person's is a
        correction for the holder (`jobs.classify.corrections`); False for normal variation
        that is no error (an older address)
    """

    name: str
    condition: Callable[["Pair"], Column] | None
    kind: str = DIFFER
    tf: bool = False
    doc: str = ""
    correctable: bool = True


@dataclass(frozen=True)
class Comparison:
    """The ordered levels of one field.  ``expression(l, r)`` is the level column."""

    field: str
    levels: tuple[Level, ...]

    def __post_init__(self):
        names = [lv.name for lv in self.levels]
        if len(set(names)) != len(names):
            raise ValueError(f"comparison {self.field}: level names repeat: {names}")
        if any(lv.condition is None for lv in self.levels[:-1]) or self.levels[-1].condition is not None:
            raise ValueError(f"comparison {self.field}: only the last level has no condition")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(lv.name for lv in self.levels)

    @property
    def parameterised(self) -> tuple[str, ...]:
        """The levels that need m and u (all but the null levels)."""
        return tuple(lv.name for lv in self.levels if lv.kind != NULL)

    def of_kind(self, kind: str) -> tuple[str, ...]:
        return tuple(lv.name for lv in self.levels if lv.kind == kind)

    @property
    def corrections(self) -> tuple[str, ...]:
        """The levels that are a correction for the holder on a record that is its person's."""
        return tuple(lv.name for lv in self.levels if lv.kind == DIFFER and lv.correctable)

    def expression(self, l: str, r: str) -> Column:
        """The level column for record prefix ``l`` against resident prefix ``r``."""
        pair = Pair(l, r)
        expr = None
        for lv in self.levels[:-1]:
            cond = lv.condition(pair)
            expr = F.when(cond, lv.name) if expr is None else expr.when(cond, lv.name)
        return expr.otherwise(self.levels[-1].name)


class Pair:
    """The two sides of a compared pair: ``pair.l("nk")`` is the record's column, ``pair.r("nk")``
    the resident's; shared sub-expressions are built once per pair (`_aligned` ...)."""

    def __init__(self, l: str, r: str):
        self.lp, self.rp = l, r
        self._memo: dict = {}

    def l(self, name: str) -> Column:  # noqa: E743
        return _c(self.lp, name)

    def r(self, name: str) -> Column:
        return _c(self.rp, name)

    def memo(self, key, build):
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    # name_kanji
    def both_alpha(self) -> Column:
        return self.l("alpha") & self.r("alpha")

    def alpha_text(self) -> tuple[Column, Column]:
        return F.array_join(self.l("atok"), " "), F.array_join(self.r("atok"), " ")

    def kanji_parts(self):
        return self.memo("kanji", lambda: _aligned(self.lp, self.rp, "nk", "nfam", "ngiv"))

    def kana_parts(self):
        return self.memo("kana", lambda: _aligned(self.lp, self.rp, "kk", "kfam", "kgiv"))


def _nk_exact(p: Pair) -> Column:
    at_l, at_r = p.alpha_text()
    # an alphabet name in the other order, a name split otherwise (JIWOO KIM / KIM JI-WOO)
    return (p.l("nk") == p.r("nk")) | (p.both_alpha() & ((at_l == at_r) | (F.concat(p.l("ngiv"), p.l("nfam")) == p.r("nk"))))


def _nk_alpha_close(p: Pair) -> Column:
    at_l, at_r = p.alpha_text()
    return p.both_alpha() & (_close(at_l, at_r, 2, 8) | _alpha_close(p.lp, p.rp))


def _nk_maiden(p: Pair) -> Column:
    fl, gl, fr, gr = p.kanji_parts()
    return (gl == gr) & (fl != fr)


def _nk_given_diff(p: Pair) -> Column:
    fl, gl, fr, gr = p.kanji_parts()
    return (fl == fr) & (gl != gr)


def _reordered(p: Pair, fam: str, giv: str) -> Column:
    """Family and given name in the other order (秀斗 髙田 for 高田 秀斗, ﾋｶﾙ ｲｶﾞﾗｼ for イガラシ ヒカル):
    a form that puts the given name first, or a clerk who typed them so."""
    return F.coalesce((p.l(fam) == p.r(giv)) & (p.l(giv) == p.r(fam)) & (p.l(fam) != p.l(giv)), F.lit(False))


def _part_missing(p: Pair, key: str, fam: str, giv: str) -> Column:
    """One side holds only one part of the other's name (高橋 for 高橋 玲里, ヨネミツ for
    ナカムラ ヨネミツ): a field cut short or a form with room for one name."""
    def one_of(side_a, side_b) -> Column:
        return (side_a(giv).isNull() & side_b(giv).isNotNull()
                & ((side_a(key) == side_b(fam)) | (side_a(key) == side_b(giv))))
    return F.coalesce(one_of(p.l, p.r) | one_of(p.r, p.l), F.lit(False))


def _alpha_subset(p: Pair) -> Column:
    """Alphabet names where every token of one side is a token of the other and the other has
    more (a given or family name left out, an extra middle name)."""
    a, b = p.l("atok"), p.r("atok")
    small = F.when(F.size(a) <= F.size(b), a).otherwise(b)
    big = F.when(F.size(a) <= F.size(b), b).otherwise(a)
    return F.coalesce(p.both_alpha() & (F.size(small) >= 1) & (F.size(big) > F.size(small))
                      & (F.size(F.array_except(small, big)) == 0), F.lit(False))


def one_slip(a: Column, b: Column) -> Column:
    """Two strings of one length that differ in one character, or by two neighbouring characters
    swapped (19210305 / 19120305): the commonest slips of a typist, on any digits."""
    la = F.length(a)
    diffs = F.filter(F.sequence(F.lit(1), F.greatest(la, F.lit(1))),
                     lambda i: F.substring(a, i, 1) != F.substring(b, i, 1))
    p0, p1 = F.get(diffs, 0), F.get(diffs, 1)   # null, not an error, past the end
    swapped = ((F.size(diffs) == 2) & (p1 == p0 + 1)
               & (F.substring(a, p0, 1) == F.substring(b, p1, 1)) & (F.substring(a, p1, 1) == F.substring(b, p0, 1)))
    return F.coalesce((la == F.length(b)) & (la > 0) & ((F.size(diffs) == 1) | swapped), F.lit(False))


def _jw_name(p: Pair, key: str, fam: str, giv: str, threshold: float) -> Column:
    """Jaro-Winkler of the whole name (either order of the parts) at least ``threshold``, at
    most half its characters edited, both sides of at least four characters: typos in both parts (WHIET for WHITE, タカハス for
    タカハシ), a token split or merged (BIS HOP for BISHOP).  Reached only by pairs that no
    notation level and no part-by-part level explained."""
    a, b = p.l(key), p.r(key)
    swapped = F.concat(p.l(giv), p.l(fam))

    def near(x: Column) -> Column:
        # at most half the characters edited (Spark's native levenshtein) before the
        # Jaro-Winkler (a higher-order function, interpreted): most pairs stop here
        return (F.levenshtein(x, b) * 2 <= F.greatest(F.length(x), F.length(b))) & (S.jaro_winkler(x, b) >= F.lit(threshold))
    return F.coalesce((F.least(F.length(a), F.length(b)) >= 4) & (near(a) | F.coalesce(near(swapped), F.lit(False))),
                      F.lit(False))


def _address_similar(p: Pair) -> Column:
    """The normalised addresses at most a fifth apart in edits (of the longer), at least ten
    characters: several typos or a word spelt otherwise in an address that is still the same
    (studley steet rose avle for studley street rose vale)."""
    a, b = p.l("ak"), p.r("ak")
    longer = F.greatest(F.length(a), F.length(b))
    return F.coalesce((F.least(F.length(a), F.length(b)) >= 10) & (F.levenshtein(a, b) * 5 <= longer), F.lit(False))


def _address_dice(threshold: float) -> Callable[[Pair], Column]:
    """The normalised addresses, at least ten characters each, share character bigrams with a
    Dice coefficient of at least ``threshold`` (`jobs.similarity.qgram_dice`): a part added or
    left out (a building, a locality: ``van praag place wallan`` for ``van praag place the
    homestead wallan``), parts in another order, which an edit distance counts as many edits.
    Bigrams, not words: a Japanese address has no spaces.  Two bands, as record linkage
    bands a similarity: how much each is worth is learned (u from random pairs, m by EM)."""
    def level(p: Pair) -> Column:
        a, b = p.l("ak"), p.r("ak")
        return F.coalesce((F.least(F.length(a), F.length(b)) >= 10) & (S.qgram_dice(a, b) >= F.lit(threshold)),
                          F.lit(False))
    return level


NAME_KANJI = Comparison("name_kanji", (
    Level("missing", lambda p: p.l("nk").isNull() | p.r("nk").isNull(), NULL),
    Level("exact", _nk_exact, AGREE, tf=True, doc="the same name once normalised (width, spaces, variant kanji, "
                                                  "alphabet order, case and punctuation)"),
    Level("alpha_close", _nk_alpha_close, DIFFER, doc="alphabet name: the same tokens but one edit, or a middle name dropped"),
    Level("katakana", lambda p: _katakana_of_alpha(p.lp, p.rp) | _katakana_of_alpha(p.rp, p.lp), AGREE,
          doc="a foreign name written in katakana on one side, read as the other side's registered reading"),
    Level("placeholder", lambda p: _placeholder_match(p.l("nk"), p.r("nk")) | _placeholder_match(p.r("nk"), p.l("nk")),
          AGREE, doc="平川 〓子 / 平川 ？子: a character the holder could not encode, the rest equal"),
    Level("reading", lambda p: ~p.both_alpha() & _reads_as(p.lp, p.rp, "fam") & _reads_as(p.lp, p.rp, "giv"), AGREE,
          doc="other kanji read alike (洋子/陽子), or kanji whose dictionary reading is the other side's kana"),
    Level("reordered", lambda p: ~p.both_alpha() & _reordered(p, "nfam", "ngiv"), AGREE,
          doc="family and given name in the other order (秀斗 髙田 for 高田 秀斗)"),
    Level("part_missing", lambda p: _part_missing(p, "nk", "nfam", "ngiv") | _alpha_subset(p), DIFFER,
          doc="one side holds only one part of the other's name (高橋 for 高橋 玲里), or alphabet tokens left out"),
    Level("maiden", lambda p: _nk_maiden(p) | (~_nk_given_diff(p) & p.both_alpha() & _alpha_maiden(p.lp, p.rp)), AGREE,
          doc="family name differs, given name equal: a former (maiden) name, which holders keep (not searched: "
              "in Japan a woman's former full name is often a stranger's too, and the search overturned "
              "correct links for them: 200k sample seed 13, 23 false alarms)"),
    Level("given_diff", lambda p: _nk_given_diff(p) | (p.both_alpha() & _alpha_given_diff(p.lp, p.rp)), DIFFER,
          doc="family name equal, given name differs (a household member looks like this)"),
    Level("jw_high", lambda p: _jw_name(p, "nk", "nfam", "ngiv", 0.94), DIFFER,
          doc="Jaro-Winkler of the whole name at least 0.94: typos in both parts, a token split or merged"),
    Level("jw_mid", lambda p: _jw_name(p, "nk", "nfam", "ngiv", 0.88), DIFFER,
          doc="Jaro-Winkler of the whole name at least 0.88"),
    Level("different", None, DIFFER),
))


def _kana_reads(p: Pair) -> Column:
    a, b = p.l("kk"), p.r("kk")
    # one side has no reading: its kanji's dictionary readings stand in (コバヤシサクラ ~ 小林 さくら)
    reads = F.when(a.isNotNull() & b.isNull(), _kana_reads_kanji(a, p.r("rfull"))).when(
        a.isNull() & b.isNotNull(), _kana_reads_kanji(b, p.l("rfull")))
    return F.coalesce(reads, F.lit(False))


def _kana_given_unread(p: Pair) -> Column:
    """One side has only a reading, the other only kanji: the family reading is a dictionary
    reading of the family kanji, the given reading none of the given name's readings."""
    def one_way(k, n):
        fam_ok = F.array_contains(n("rfam"), k("kfam"))
        giv_unread = (F.size(n("rgiv")) > 0) & ~F.array_contains(n("rgiv"), k("kgiv"))
        return k("kk").isNotNull() & n("kk").isNull() & k("kgiv").isNotNull() & fam_ok & giv_unread
    return F.coalesce(one_way(p.l, p.r) | one_way(p.r, p.l), F.lit(False))


def _kana_alpha(p: Pair) -> Column:
    return p.l("alpha") | p.r("alpha")


def _kana_exact(p: Pair) -> Column:
    fl, gl, fr, gr = p.kana_parts()
    # a foreign resident's reading in another order is the same reading
    reordered = _kana_alpha(p) & (foreign_kana_swapped(fl, gl, fr, gr) | (p.l("ks") == p.r("ks")))
    return (p.l("kk") == p.r("kk")) | F.coalesce(reordered, F.lit(False))


def _kana_maiden(p: Pair) -> Column:
    fl, gl, fr, gr = p.kana_parts()
    return ((gl == gr) | (N.kana_short(gl) == N.kana_short(gr))) & (N.kana_short(fl) != N.kana_short(fr))


def _kana_close(p: Pair) -> Column:
    fl, gl, fr, gr = p.kana_parts()
    foreign = _kana_alpha(p) & foreign_kana_agree(fl, gl, fr, gr)
    return _close(p.l("kk"), p.r("kk"), 1, 3) | F.coalesce(foreign, F.lit(False))


def _kana_given_diff(p: Pair) -> Column:
    fl, gl, fr, gr = p.kana_parts()
    return (fl == fr) & (gl != gr)


NAME_KANA = Comparison("name_kana", (
    Level("reading", _kana_reads, AGREE, doc="one side has no reading; the other's reading is a dictionary reading of its kanji"),
    Level("given_unread", _kana_given_unread, DIFFER, correctable=False,
          doc="one side has only a reading, the other only kanji: the family reads alike, the given name's "
              "reading is none of its kanji's (a twin or a sibling, or a reading the dictionary lacks: searched)"),
    Level("missing", lambda p: p.l("kk").isNull() | p.r("kk").isNull(), NULL),
    Level("exact", _kana_exact, AGREE, tf=True, doc="the same reading once normalised (width, small kana, "
                                                    "a foreign name's parts in another order)"),
    Level("long_vowel", lambda p: N.kana_short(p.l("kk")) == N.kana_short(p.r("kk")), AGREE,
          doc="equal once long vowels are written short (サトウ/ｻﾄｰ, ユウコ/ﾕｰｺ, オオタ/オウタ)"),
    Level("reordered", lambda p: _reordered(p, "kfam", "kgiv"), AGREE,
          doc="family and given reading in the other order (ﾋｶﾙ ｲｶﾞﾗｼ for イガラシ ヒカル)"),
    Level("part_missing", lambda p: _part_missing(p, "kk", "kfam", "kgiv"), DIFFER,
          doc="one side holds only one part of the other's reading (ヨネミツ for ナカムラ ヨネミツ)"),
    Level("maiden", _kana_maiden, AGREE, doc="another family name, the given name equal: a former (maiden) name"),
    Level("close", _kana_close, DIFFER, doc="one kana substituted, inserted or dropped; or a foreign name's middle name left out"),
    Level("given_diff", _kana_given_diff, DIFFER, doc="family reading equal, given reading differs"),
    Level("jw_high", lambda p: _jw_name(p, "kk", "kfam", "kgiv", 0.94), DIFFER,
          doc="Jaro-Winkler of the whole reading at least 0.94: typos in both parts"),
    Level("jw_mid", lambda p: _jw_name(p, "kk", "kfam", "kgiv", 0.88), DIFFER,
          doc="Jaro-Winkler of the whole reading at least 0.88"),
    Level("different", None, DIFFER),
))


def _ymd(p: Pair):
    return p.memo("ymd", lambda: tuple(f(c) for c in (p.l("bd"), p.r("bd")) for f in (F.year, F.month, F.dayofmonth)))


def _bd_close(p: Pair) -> Column:
    ya, ma, da, yb, mb, db = _ymd(p)
    one_digit = lambda x, y: F.levenshtein(F.lpad(x.cast("string"), 2, "0"), F.lpad(y.cast("string"), 2, "0")) <= 1  # noqa: E731
    return (ya == yb) & (((ma == mb) & one_digit(da, db)) | ((da == db) & one_digit(ma, mb)))


BIRTH_DATE = Comparison("birth_date", (
    Level("missing", lambda p: p.l("bd").isNull() | p.r("bd").isNull(), NULL),
    Level("exact", lambda p: p.l("bd") == p.r("bd"), AGREE, tf=True),
    Level("swap", lambda p: (lambda ya, ma, da, yb, mb, db: (ya == yb) & (ma == db) & (da == mb))(*_ymd(p)), DIFFER,
          doc="day and month swapped"),
    Level("year_off", lambda p: (lambda ya, ma, da, yb, mb, db: (ma == mb) & (da == db))(*_ymd(p)), DIFFER,
          doc="month and day equal, year differs (era conversion)"),
    Level("close", _bd_close, DIFFER, doc="year equal and one of month/day differs by one digit"),
    Level("slip", lambda p: one_slip(F.date_format(p.l("bd"), "yyyyMMdd"), F.date_format(p.r("bd"), "yyyyMMdd")),
          DIFFER, doc="one digit of the date mistyped anywhere, or two neighbouring digits swapped (1921 for 1912)"),
    Level("different", None, DIFFER),
))

SEX = Comparison("sex", (
    Level("missing", lambda p: p.l("sx").isNull() | p.r("sx").isNull(), NULL),
    Level("exact", lambda p: p.l("sx") == p.r("sx"), AGREE),
    Level("different", None, DIFFER),
))

ADDRESS = Comparison("address", (
    Level("missing", lambda p: p.l("ak").isNull() | p.r("ak").isNull(), NULL),
    Level("exact", lambda p: p.l("ak") == p.r("ak"), AGREE, doc="the same address once normalised (丁目/番地/号, hyphens, numerals)"),
    Level("slip", lambda p: one_slip(p.l("ak"), p.r("ak")) & (F.length(p.l("ak")) >= 6), DIFFER,
          doc="the normalised address with one character mistyped or two neighbours swapped (3159 for 3150)"),
    Level("area", lambda p: p.l("aa") == p.r("aa"), DIFFER, doc="same town, different block number (a move)",
          correctable=False),
    Level("similar", _address_similar, DIFFER,
          doc="at most one edit in five apart: several typos or a word spelt otherwise"),
    Level("overlap", _address_dice(0.7), DIFFER, correctable=False,
          doc="most character pairs shared (Dice of bigrams >= 0.7): a word added or left out, "
              "parts in another order"),
    Level("partial", _address_dice(0.5), DIFFER, correctable=False,
          doc="half the character pairs shared (Dice of bigrams >= 0.5): a part replaced as well as typos, "
              "the same ward or street with another town or number"),
    Level("different", None, DIFFER, doc="an older address held by a holder is normal", correctable=False),
))

COMPARISONS: dict[str, Comparison] = {c.field: c for c in (NAME_KANJI, NAME_KANA, BIRTH_DATE, SEX, ADDRESS)}
"""The comparison model, field -> `Comparison`, in `FIELDS` order."""
assert tuple(COMPARISONS) == FIELDS


def validate_comparisons(comparisons: dict, where: str = "thresholds.yaml comparisons") -> None:
    """Check configured m/u against the model: every parameterised level has m and u in (0, 1],
    and no field or level is configured that the model lacks.  Raises ValueError naming the
    first problem (the config loader turns it into a usage error, exit 2)."""
    if not isinstance(comparisons, dict):
        raise ValueError(f"{where}: expected a mapping of field -> level -> {{m, u}}")
    unknown = sorted(set(comparisons) - set(COMPARISONS))
    if unknown:
        raise ValueError(f"{where}: no comparison named {', '.join(unknown)} (fields: {', '.join(FIELDS)})")
    for field, comp in COMPARISONS.items():
        given = comparisons.get(field) or {}
        if not isinstance(given, dict):
            raise ValueError(f"{where}.{field}: expected a mapping of level -> {{m, u}}")
        extra = [k for k in given if k not in comp.parameterised]
        if extra:
            hint = " (a null level has no parameters)" if any(k in comp.of_kind(NULL) for k in extra) else ""
            raise ValueError(f"{where}.{field}: no level named {', '.join(map(str, extra))}{hint}; "
                             f"levels: {', '.join(comp.parameterised)}")
        for name in comp.parameterised:
            mu = given.get(name)
            if mu is None:
                raise ValueError(f"{where}.{field}.{name}: level has no parameters (m and u)")
            if not isinstance(mu, dict) or set(mu) - {"m", "u"} or not {"m", "u"} <= set(mu):
                raise ValueError(f"{where}.{field}.{name}: expected {{m: …, u: …}}, got {mu!r}")
            for k in ("m", "u"):
                v = mu[k]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < float(v) <= 1):
                    raise ValueError(f"{where}.{field}.{name}.{k}: {v!r} is not a probability in (0, 1]")


def levels(l: str, r: str) -> dict[str, Column]:
    """Level column per field for record prefix ``l`` against resident prefix ``r``."""
    return {f: c.expression(l, r) for f, c in COMPARISONS.items()}


def differs(fields: list[str], prefix: str = "lv_") -> Column:
    """True when the level column ``<prefix><field>`` of one of ``fields`` is a difference
    beyond notation (a level of kind `DIFFER`: a typo, a part left out, another value)."""
    cond = F.lit(False)
    for f in fields:
        cond = cond | F.coalesce(F.col(f"{prefix}{f}").isin(*COMPARISONS[f].of_kind(DIFFER)), F.lit(False))
    return cond


def name_judgement(kanji: Column, kana: Column) -> Column:
    """Combine the kanji and kana levels into agree / soft / hard / unknown.

    Readings break ties that written forms cannot: 陽子 and 洋子 read ヨウコ alike (soft),
    while twins 優太/優斗 differ in both forms (hard).
    """
    k_ok = kanji.isin("exact", "reordered")
    # a foreign name written in katakana that reads as the registered reading
    kata_ok = (kanji == "katakana") & kana.isin("exact", "missing", "reading", "long_vowel", "close")
    # a long vowel spelt otherwise is the same reading, except between two given names
    # written differently (ユキ/ユウキ are two names)
    r_ok = kana.isin("exact", "reordered") | ((kana == "long_vowel") & (kanji != "given_diff"))
    return (
        F.when((kanji == "missing") & kana.isin("missing", "given_unread"), "unknown")
        .when((kanji == "missing") & (kana == "reordered"), "agree")
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
        .when((kanji == "given_diff") & kana.isin("missing", "reading", "given_unread"), "unconfirmed")
        .otherwise("hard")
    )
