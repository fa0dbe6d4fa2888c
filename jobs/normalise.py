"""Comparison keys for names, readings, addresses and numbers, as Spark Column expressions.

Every public function takes a :class:`pyspark.sql.Column` (or a column name) and returns a
Column, so the keys compose in ``df.select(...)`` and ``withColumn``. Null in gives null out,
and a value that normalises to the empty string gives null.

The keys make the variation that the contract calls "not an error" compare equal: half/full
width, spaces, small kana written large (bank style), hiragana vs katakana, long-vowel marks,
old and variant kanji, address notation. Everything is built from Spark-native expressions
(``translate``, ``regexp_replace``, ``split``, higher-order ``transform``): no Python or pandas
UDF. The translation tables are derived at import time from :mod:`unicodedata` (NFKC over the
width/compatibility blocks, Unicode names for small kana) plus two data files:

- ``jobs/data/kanji_variants.tsv``: variant<TAB>standard kanji (one code point each side);
- ``jobs/data/prefectures.tsv``: code<TAB>name of the 47 prefectures.

Spark's ``translate`` works on code points, so supplementary-plane characters such as 𠮷
(U+20BB7) are translated like any other (checked by the tests).

Rule choices (see also the individual docstrings):

- ヴ reads as ブ: ヴ→ブ, and ヴァ/ヴィ/ヴェ/ヴォ→バ/ビ/ベ/ボ (also when the small kana was written
  large, as banks do: ｳﾞｱ→バ). ヷヸヹヺ→バビベボ. ヂ→ジ, ヅ→ズ, ヰ→イ, ヱ→エ, ヲ→オ (same reading).
- 龍→竜 is folded (竜 is the new form of 龍; the other fields tell two people apart).
- 齊→斉 and 齋→斎 (their genuine old forms); 斉 and 斎 are different characters and stay apart.
- 篭→籠 (籠 is the 常用 form), 槇→槙 (the usual form in names).
- Long-vowel marks are dropped, not spelled out (bank style): ユーコ = ﾕｺ = ﾕ-ｺ, but ユウコ differs.
- Addresses: 霞ヶ関/霞ケ関/霞が関 compare equal, and so do 丸ノ内/丸の内; 々 is expanded in names.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Union

from pyspark.sql import Column
from pyspark.sql import functions as F

ColumnOrName = Union[Column, str]

_DATA = Path(__file__).with_name("data")

__all__ = [
    "fold_width",
    "kana_key",
    "kana_parts",
    "name_key",
    "name_parts",
    "alpha_tokens",
    "address_key",
    "address_area_key",
    "number_is_clean",
    "number_folded",
]


# ---------------------------------------------------------------------------------------------
# Tables, built once at import time
# ---------------------------------------------------------------------------------------------


def _cls(chars: str) -> str:
    """Body of a Java regex character class matching exactly ``chars``."""
    return "".join("\\" + c if c in "\\[]^-&" else c for c in chars)


def _nfkc_table(ranges: list[tuple[int, int]]) -> tuple[str, str]:
    """(source, target) for translate: each code point whose NFKC form is one other code point."""
    src, dst = [], []
    for lo, hi in ranges:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            if unicodedata.category(ch) == "Cn":
                continue
            folded = unicodedata.normalize("NFKC", ch)
            if folded != ch and len(folded) == 1:
                src.append(ch)
                dst.append(folded)
    return "".join(src), "".join(dst)


_WIDTH_RANGES = [
    (0x00A0, 0x00A0),  # no-break space
    (0x2000, 0x200A),  # typographic spaces
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),  # ideographic space
    (0x2E80, 0x2EFF),  # CJK radicals supplement
    (0x2F00, 0x2FDF),  # Kangxi radicals (look-alikes of ideographs)
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # halfwidth and fullwidth forms (ASCII, katakana, ﾞﾟ -> U+3099/U+309A)
    (0x2F800, 0x2FA1F),  # CJK compatibility ideographs supplement
]
# Characters deleted by fold_width: zero-width space/joiners, combining diacritics, word joiner, BOM and
# variation selectors (including the ideographic variation sequences, IVS).
_INVISIBLE = (
    "".join(chr(c) for c in range(0x200B, 0x200E))
    # combining diacritical marks (a decomposed é is e + U+0301): Japanese text has no use
    # for them, and an alphabet name compares on its base letters (see _latin_fold)
    + "".join(chr(c) for c in range(0x0300, 0x0370))
    + "\u2060\ufeff"
    # soft hyphen, bidirectional marks and embeddings, invisible operators, Mongolian vowel separator
    + "\u00ad\u200e\u200f\u180e" + "".join(chr(c) for c in range(0x202A, 0x202F))
    + "".join(chr(c) for c in range(0x2061, 0x2065)) + "".join(chr(c) for c in range(0x2066, 0x206A))
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)
_W_SRC, _W_DST = _nfkc_table(_WIDTH_RANGES)
_WIDTH_SRC = _W_SRC + _INVISIBLE
_WIDTH_DST = _W_DST

# Voiced / semi-voiced combinations: base kana + (spacing or combining) mark -> one code point.
_DAKU = "\u309b\u3099"  # ゛ and combining
_HANDAKU = "\u309c\u309a"  # ゜ and combining
_MARKS = _DAKU + _HANDAKU


def _voiced_pairs() -> dict[str, str]:
    pairs = {}
    for cp in range(0x3041, 0x3100):
        base = chr(cp)
        for marks, combining in ((_DAKU, "\u3099"), (_HANDAKU, "\u309a")):
            composed = unicodedata.normalize("NFC", base + combining)
            if len(composed) == 1:
                for mark in marks:
                    pairs[base + mark] = composed
    return pairs


_VOICED = _voiced_pairs()

# Hiragana -> katakana (same offset in the two blocks), iteration marks too.
_HIRA = "".join(chr(c) for c in range(0x3041, 0x3097)) + "ゝゞ"
_KATA = "".join(chr(c + 0x60) for c in range(0x3041, 0x3097)) + "ヽヾ"


def _small_to_large() -> tuple[str, str]:
    src, dst = [], []
    for lo, hi in ((0x30A1, 0x30FA), (0x31F0, 0x31FF)):
        for cp in range(lo, hi + 1):
            name = unicodedata.name(chr(cp), "")
            if name.startswith("KATAKANA LETTER SMALL "):
                src.append(chr(cp))
                dst.append(unicodedata.lookup(name.replace(" SMALL ", " ")))
    return "".join(src), "".join(dst)


_SMALL, _LARGE = _small_to_large()

# Same reading, one spelling. ヴ is folded after ヴ+vowel (see _kana_fold).
_READING = {"ヂ": "ジ", "ヅ": "ズ", "ヰ": "イ", "ヱ": "エ", "ヲ": "オ"}
_VU = {"ヴ": "ブ", "ヷ": "バ", "ヸ": "ビ", "ヹ": "ベ", "ヺ": "ボ"}
_VU_VOWEL = {"ア": "バ", "イ": "ビ", "エ": "ベ", "オ": "ボ"}


def _kana_table() -> tuple[str, str]:
    """One translate: hiragana -> katakana, small -> large, same-reading letters."""
    small = dict(zip(_SMALL, _LARGE))
    table = {}
    for hira, kata in zip(_HIRA + _SMALL, _KATA + _SMALL):
        target = small.get(kata, kata)
        table[hira] = _READING.get(target, target)
    for kata, target in _READING.items():
        table[kata] = target
    table = {k: v for k, v in table.items() if k != v}
    return "".join(table), "".join(table.values())


_KANA_SRC, _KANA_DST = _kana_table()

# Dash-like characters (after fold_width: － is "-", ～ is "~", ｰ is ー).
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2500\u2501\u2043\ufe63"
_LONG_VOWEL = "ー"
_WAVES = "~\u301c\u3030"
# Separators removed from names and readings: spaces, middle dots, the double hyphen of
# foreign names written in katakana (ジョン＝スミス).
_NAME_SEPS = "\\s" + _cls("・·‧゠=")
_KATA_LETTERS = "\u30a1-\u30fa"
# Family and given name are split at the first separator: a space, or the middle dot or double
# hyphen of a foreign name written in katakana (メンドーサ・ラモン, ジョン＝スミス).
_PART_SPLIT = f"[{_NAME_SEPS}]+"
_PART_TRIM = f"^[{_NAME_SEPS}]+|[{_NAME_SEPS}]+$"
# A note in brackets inside a name field (遠藤 麻衣（旧姓：中島）, SMITH JOHN (JACK)) is not part
# of the name; an unclosed bracket runs to the end.  Full-width ( [ are "(" "[" after folding.
_OPEN_NOTE, _CLOSE_NOTE = "(\\[【〈《「『", ")\\]】〉》」』"
_NAME_NOTE = f"[{_OPEN_NOTE}][^{_CLOSE_NOTE}]*[{_CLOSE_NOTE}]?"


def _name_text(col: ColumnOrName) -> Column:
    """A name or reading width-folded, with notes in brackets dropped and no space before an
    iteration mark (佐 々木 is 佐々木: 々 never begins a word): what every name key starts from."""
    return F.regexp_replace(F.regexp_replace(_fold(_col(col)), _NAME_NOTE, " "), "\\s+(?=[々〻])", "")


def _name_part_texts(col: ColumnOrName, limit: int) -> Column:
    """`_name_text` split at the separators of `_PART_SPLIT` (at most ``limit`` parts, -1 for all)."""
    return F.split(F.regexp_replace(_name_text(col), _PART_TRIM, ""), _PART_SPLIT, limit)


# Latin letters with a stroke or bar have no decomposition; they are read as their base letter
# (Vietnamese Đặng -> DANG, Polish Łukasz -> LUKASZ, Nordic Søren -> SOREN, Turkish dotless ı).
_LATIN_STROKES = {"Đ": "D", "đ": "d", "Ɖ": "D", "Ø": "O", "ø": "o", "Ł": "L", "ł": "l", "Ħ": "H", "ħ": "h",
                  "Ŧ": "T", "ŧ": "t", "ı": "i", "ƀ": "b", "Ɨ": "I", "ɨ": "i", "Ƶ": "Z", "ƶ": "z"}


def _latin_fold() -> tuple[str, str]:
    """Latin letters with diacritics -> base ASCII letter (José -> Jose, Nguyễn -> Nguyen):
    Latin-1 Supplement, Extended-A/B and Extended Additional (Vietnamese), plus the letters
    with a stroke (`_LATIN_STROKES`)."""
    src, dst = [], []
    for lo, hi in ((0x00C0, 0x0250), (0x1E00, 0x1F00)):
        for cp in range(lo, hi):
            ch = chr(cp)
            base = unicodedata.normalize("NFD", ch)[0]
            if base != ch and base.isascii() and base.isalpha():
                src.append(ch)
                dst.append(base)
    for ch, base in _LATIN_STROKES.items():
        if ch not in src:
            src.append(ch)
            dst.append(base)
    return "".join(src), "".join(dst)


_LATIN_SRC, _LATIN_DST = _latin_fold()


def _read_tsv(name: str) -> list[list[str]]:
    rows = []
    with open(_DATA / name, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                rows.append(line.split("\t"))
    return rows


def _kanji_table() -> tuple[str, str]:
    src, dst = [], []
    for variant, standard, *_ in _read_tsv("kanji_variants.tsv"):
        if len(variant) != 1 or len(standard) != 1 or variant == standard or variant in src:
            raise ValueError(f"kanji_variants.tsv: bad row {variant!r} -> {standard!r}")
        src.append(variant)
        dst.append(standard)
    return "".join(src), "".join(dst)


_KANJI_SRC, _KANJI_DST = _kanji_table()
KANJI_VARIANTS: dict[str, str] = dict(zip(_KANJI_SRC, _KANJI_DST))
"""The variant -> standard kanji table, as loaded from ``jobs/data/kanji_variants.tsv``."""

PREFECTURES: list[str] = [row[1] for row in _read_tsv("prefectures.tsv")]
"""The 47 prefecture names, in JIS X 0401 code order."""

# Address numbering.
_KNUM = "〇一二三四五六七八九十百千"
_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use sentinels around a kanji numeral run
_WRAP_BEFORE = f"([{_KNUM}]+)(?=丁目|番(?!町)|号|条|線|の[0-9{_KNUM}]|-)"
_WRAP_AFTER = (
    f"(?<=丁目|番地|番|-|丁目の|番地の|番の|-の|{_CLOSE}の|[0-9]の)([{_KNUM}]+)(?!\\p{{IsHan}})"
)
# Inside a run (digits already Arabic): default multiplier 1, then fill missing positions.
_MULTIPLIER_RULES = [
    ("(?<![0-9])([十百千])", "1$1"),
    ("千(?=[0-9]百)", ""),
    ("千(?=[0-9]十)", "0"),
    ("千(?=[0-9]$)", "00"),
    ("千$", "000"),
    ("百(?=[0-9]十)", ""),
    ("百(?=[0-9]$)", "0"),
    ("百$", "00"),
    ("十(?=[0-9]$)", ""),
    ("十$", "0"),
]
_PREFECTURE_RE = "^(?:" + "|".join(PREFECTURES) + ")"
# Group 1: what precedes the first number block: numbers joined by "-", a number at the end,
# or a number followed by what is not a place name (豊田市猿投町2443サンハイツ501室: a single
# 番地 and a building); a number before kanji is part of the place (北1条西).
_AREA = "^(.*?)(?:(?<![0-9])(?:[0-9]+(?:-[0-9]+)+.*|[0-9]+(?:[^0-9\\p{IsHan}].*)?))?$"


# ---------------------------------------------------------------------------------------------
# Private expression builders
# ---------------------------------------------------------------------------------------------


def _col(col: ColumnOrName) -> Column:
    return F.col(col) if isinstance(col, str) else col


def _null_if_empty(c: Column) -> Column:
    return F.nullif(c, F.lit(""))


def _map_lit(pairs: dict[str, str]) -> Column:
    return F.create_map(*[F.lit(x) for kv in pairs.items() for x in kv])


def _combine_marks(c: Column) -> Column:
    """Base kana followed by ゛/゜ (spacing or combining) -> the one voiced code point."""
    tokens = F.regexp_extract_all(c, F.lit(f"(?s).[{_MARKS}]?"), 0)
    table = _map_lit(_VOICED)
    return F.array_join(
        F.transform(tokens, lambda t: F.coalesce(F.try_element_at(table, t), t)), ""
    )


def _fold(c: Column) -> Column:
    """fold_width without the empty -> null step.

    Marks are combined only when the raw value has one (ﾞ ﾟ ゛ ゜ or combining): the test is on
    the (small) input expression, so the translated value is not repeated in the plan.
    """
    translated = F.translate(c, _WIDTH_SRC, _WIDTH_DST)
    has_mark = c.rlike(f"[{_MARKS}\uff9e\uff9f]")
    return F.when(has_mark, _combine_marks(translated)).otherwise(translated)


def _kana_fold(s: Column) -> Column:
    """Reading rules on width-folded text: katakana, large kana, ヴ/ヂ/ヅ, no long vowels."""
    s = F.translate(s, _KANA_SRC, _KANA_DST)
    for vowel, repl in _VU_VOWEL.items():
        s = F.regexp_replace(s, "ヴ" + vowel, repl)
    s = F.translate(s, "".join(_VU) + _LONG_VOWEL, "".join(_VU.values()))
    return F.regexp_replace(s, f"(?<=[{_KATA_LETTERS}])[{_cls(_DASHES + _WAVES)}]+", "")


def _name_core(folded: Column, kanji: bool) -> Column:
    """Name/reading key of width-folded text (no empty -> null step)."""
    s = F.regexp_replace(folded, f"[{_NAME_SEPS}]+", "")
    s = F.upper(F.translate(s, _LATIN_SRC, _LATIN_DST))
    if kanji:
        s = F.translate(s, _KANJI_SRC, _KANJI_DST)
        s = F.regexp_replace(s, "(.)[々〻]", "$1$1")
    return _kana_fold(s)


def _parts(col: ColumnOrName, kanji: bool) -> Column:
    pieces = _name_part_texts(col, 2)
    family = _null_if_empty(_name_core(F.get(pieces, 0), kanji))
    given = _null_if_empty(_name_core(F.get(pieces, 1), kanji))
    return F.when(
        family.isNotNull() | given.isNotNull(),
        F.struct(family.alias("family"), given.alias("given")),
    )


def _kanji_numerals(s: Column, raw: Column) -> Column:
    """Kanji numeral runs in numbering position (before 丁目/番/号/-/の+number, or after
    丁目/番地/番/-/number+の) -> Arabic digits; other kanji (千代田, 十日町, 八丁堀) untouched."""
    wrapped = F.regexp_replace(s, _WRAP_BEFORE, f"{_OPEN}$1{_CLOSE}")
    wrapped = F.regexp_replace(wrapped, _WRAP_AFTER, f"{_OPEN}$1{_CLOSE}")

    def convert(run: Column) -> Column:
        out = F.translate(run, "〇一二三四五六七八九", "0123456789")
        for pattern, repl in _MULTIPLIER_RULES:
            out = F.regexp_replace(out, pattern, repl)
        return out

    # Split on the sentinels: odd positions are numeral runs.
    pieces = F.split(wrapped, f"[{_OPEN}{_CLOSE}]", -1)
    joined = F.array_join(
        F.transform(pieces, lambda p, i: F.when(i % 2 == 1, convert(p)).otherwise(p)), ""
    )
    return F.when(raw.rlike(f"[{_KNUM}]"), joined).otherwise(s)


def _address_core(col: ColumnOrName) -> Column:
    raw = _col(col)
    s = F.regexp_replace(_fold(raw), "\\s+", "")
    s = F.upper(F.translate(s, _KANJI_SRC, _KANJI_DST))
    # Dashes: any hyphen/dash/minus -> "-"; a long-vowel mark only after a (kanji) digit.
    s = F.regexp_replace(s, f"[{_cls(_DASHES)}]", "-")
    s = F.regexp_replace(s, f"(?<=[0-9{_KNUM}])[ー{_cls(_WAVES)}]", "-")
    # Leading postal code (〒100-0005), then prefecture, then 大字/字.
    s = F.regexp_replace(s, "^(?:〒[0-9]{3}-?[0-9]{4}|[0-9]{3}-[0-9]{4}(?![0-9])|[0-9]{7}(?![0-9-]))", "")
    s = F.regexp_replace(s, _PREFECTURE_RE, "")
    s = F.regexp_replace(s, "大字|(?<![十文赤黒数名])字", "")
    # Place-name particles between kanji: 霞ヶ関/霞ケ関/霞が関, 丸ノ内/丸の内.
    s = F.regexp_replace(s, "(?<=\\p{IsHan})[ヶケヵがガ](?=\\p{IsHan})", "ケ")
    s = F.regexp_replace(s, "(?<=\\p{IsHan})ノ(?=\\p{IsHan})", "の")
    s = _kanji_numerals(s, raw)
    # Numbering separators -> "-".
    s = F.regexp_replace(s, "(?<=[0-9])(?:丁目|番地|番(?!町)|号)", "-")
    s = F.regexp_replace(s, "(?<=[0-9-])の(?=[0-9])", "-")
    # a separator not followed by a number goes (1丁目2番3号グランドメゾン = 1-2-3グランドメゾン)
    return F.regexp_replace(s, "-+(?![0-9])", "")


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def fold_width(col: ColumnOrName) -> Column:
    """
    Fold width the way NFKC does: full-width ASCII -> ASCII, half-width katakana -> full-width
    (ｶﾞ -> ガ, ﾊﾟ -> パ, ｳﾞ -> ヴ; a kana followed by a spacing ゛/゜ or a combining mark is
    combined too), ideographic and other spaces -> ASCII space, compatibility ideographs ->
    unified ideographs. Zero-width characters and variation selectors (IVS) are deleted.

    Dashes are left as they are (－ becomes "-", ｰ becomes ー): the long-vowel mark in a kana
    name is kept; addresses handle dashes in :func:`address_key`.

    Example::

        df.select(fold_width("name_kana"))          # ﾔﾏﾀﾞ　ﾀﾛｳ -> ヤマダ タロウ

    :param col: the text column
    :type col: str or pyspark.sql.Column
    :return: the folded text, null when null or empty
    :rtype: pyspark.sql.Column
    """
    return _null_if_empty(_fold(_col(col)))


def kana_key(col: ColumnOrName) -> Column:
    """
    Comparison key for a reading (振り仮名, or a bank's account holder name): width folded,
    hiragana -> katakana, spaces, middle dots and ＝ removed, small kana written large
    (ァィゥェォッャュョヮヵヶ -> アイウエオツヤユヨワカケ), long-vowel marks removed (ー anywhere;
    dashes and wave dashes after a kana), ヴ read as ブ (ヴァ/ヴィ/ヴェ/ヴォ -> バ/ビ/ベ/ボ, also
    when written ヴア as banks do), ヂ -> ジ, ヅ -> ズ, ヰ/ヱ/ヲ -> イ/エ/オ. Latin letters are
    upper-cased.

    Example::

        df.select(kana_key("account_holder_kana"))  # ｼﾞﾖｳﾀﾞｲ ﾕｳｺ and じょうだい ゆうこ -> ジヨウダイユウコ

    :param col: the reading column
    :type col: str or pyspark.sql.Column
    :return: katakana without spaces, null when null or empty
    :rtype: pyspark.sql.Column
    """
    return _null_if_empty(_name_core(_name_text(col), kanji=False))


def kana_parts(col: ColumnOrName) -> Column:
    """
    Family and given readings: the value split on its first (half- or full-width) space, each
    part keyed with :func:`kana_key`'s rules.

    Example::

        parts = kana_parts("name_kana")
        df.select(parts["family"], parts["given"])

    :param col: the reading column
    :type col: str or pyspark.sql.Column
    :return: ``struct<family: string, given: string>``; given is null when there is no space;
             the struct is null when the value is null or empty
    :rtype: pyspark.sql.Column
    """
    return _parts(col, kanji=False)


def name_key(col: ColumnOrName) -> Column:
    """
    Comparison key for a name in kanji (or kana, or alphabet): width folded, spaces, middle
    dots and ＝ removed, old and variant kanji -> standard form (``jobs/data/kanji_variants.tsv``:
    髙 -> 高, 﨑 -> 崎, 邊 -> 辺, 𠮷 -> 吉 …; compatibility ideographs are folded by NFKC), 々
    expanded (佐々木 -> 佐佐木), Latin letters upper-cased with diacritics removed, and kana folded
    exactly as :func:`kana_key` does, so that a name written in kana compares with a reading.

    Example::

        df.select(name_key("name_kanji"))           # 髙橋　𠮷郎 -> 高橋吉郎

    :param col: the name column
    :type col: str or pyspark.sql.Column
    :return: the key, null when null or empty
    :rtype: pyspark.sql.Column
    """
    return _null_if_empty(_name_core(_name_text(col), kanji=True))


def name_parts(col: ColumnOrName) -> Column:
    """
    Family and given name: the value split on its first half- or full-width space, each part
    keyed with :func:`name_key`'s rules.

    Example::

        parts = name_parts("name_kanji")
        df.select(parts["family"].alias("family_key"), parts["given"].alias("given_key"))

    :param col: the name column
    :type col: str or pyspark.sql.Column
    :return: ``struct<family: string, given: string>``; given is null when there is no space;
             the struct is null when the value is null or empty
    :rtype: pyspark.sql.Column
    """
    return _parts(col, kanji=True)


# Rows of the kana a long vowel can follow, in reading keys (small kana already large,
# ヂ/ヅ/ヲ/ヴ already folded): after an o-row kana ウ or オ lengthens it (サトウ, オオタ), after a
# u-row kana ウ (ユウコ), after an e-row kana イ (ケイコ).
_O_ROW = "オコソトノホモヨロゴゾドボポ"
_U_ROW = "ウクスツヌフムユルグズブプ"
_E_ROW = "エケセテネヘメレゲゼデベペ"


def kana_short(col: ColumnOrName) -> Column:
    """
    A reading key with its long vowels written short: サトウ, サトー, サトオ and ｻﾄ all give サト.

    Reading keys already drop the long-vowel mark (ユーコ = ﾕｺ) but keep a long vowel spelt
    with a kana (ユウコ): the register writes サトウ ヨウコ where a holder's system wrote
    ｻﾄｰ ﾖｰｺ.  This form compares the two.  It also makes ユキ and ユウキ equal, which are two
    names, so it is a comparison level of its own (`jobs.compare.NAME_KANA`), not the key.

    :param col: a reading key (`kana_key`, ``kk``/``kfam``/``kgiv``)
    :type col: str or pyspark.sql.Column
    :return: the key without the kana that lengthen the vowel before them
    :rtype: pyspark.sql.Column
    """
    s = F.regexp_replace(_col(col), f"(?<=[{_O_ROW}])[ウオ]", "")
    s = F.regexp_replace(s, f"(?<=[{_U_ROW}])ウ", "")
    return F.regexp_replace(s, f"(?<=[{_E_ROW}])イ", "")


def alpha_tokens(col: ColumnOrName) -> Column:
    """
    Sorted, upper-cased tokens of an alphabet name (foreign residents), so that the order of
    family and given names, case and punctuation do not matter: width folded, diacritics
    removed, commas, periods, hyphens, slashes and middle dots act as separators, apostrophes
    are deleted (O'BRIEN -> OBRIEN).

    Example::

        df.select(alpha_tokens("name_kanji"))       # "Smith, John", "JOHN SMITH" -> [JOHN, SMITH]

    :param col: the name column
    :type col: str or pyspark.sql.Column
    :return: ``array<string>``, null when null or without any token
    :rtype: pyspark.sql.Column
    """
    s = F.upper(F.translate(_name_text(col), _LATIN_SRC, _LATIN_DST))
    s = F.regexp_replace(s, "['’‘`´]", "")
    s = F.regexp_replace(s, f"[,./{_cls(_DASHES)}・·=]", " ")
    tokens = F.array_sort(F.filter(F.split(s, "\\s+", -1), lambda t: t != ""))
    return F.when(F.size(tokens) > 0, tokens)


def address_key(col: ColumnOrName) -> Column:
    """
    Canonical address, so that notation variants compare equal. In order: width folded, spaces
    removed, variant kanji folded, Latin upper-cased; every hyphen/dash/minus -> "-" and a
    long-vowel mark or wave dash after a digit -> "-"; a leading postal code (〒100-0005) and a
    leading prefecture name (東京都, 北海道, 京都府 …) dropped; 大字 and 字 removed (not in 十字,
    文字 …); ヶ/ケ/ヵ/が between kanji -> ケ, ノ between kanji -> の; kanji numerals in numbering
    position -> Arabic (一 -> 1, 十一 -> 11, 二十三 -> 23, 百二 -> 102, 一〇二 -> 102), other kanji
    such as 千代田, 十日町 or 八丁堀 untouched; 丁目, 番地, 番 (not 番町), 号 after a number and の
    between numbers -> "-"; repeated "-" collapsed, trailing "-" stripped.

    ``東京都千代田区丸の内一丁目２番３号``, ``千代田区丸の内1-2-3``, ``千代田区丸の内１－２－３`` and
    ``東京都千代田区丸の内1丁目2番地3`` all give ``千代田区丸の内1-2-3``.

    Example::

        df.select(address_key("address"))

    :param col: the address column
    :type col: str or pyspark.sql.Column
    :return: the key, null when null or empty
    :rtype: pyspark.sql.Column
    """
    return _null_if_empty(_address_core(col))


def address_area_key(col: ColumnOrName) -> Column:
    """
    The :func:`address_key` without its number block (丁目-番-号) and whatever follows it
    (building, room), for a weaker "same area" comparison. The number block is the first run
    of numbers joined by "-", or a number ending the key; a number that is part of a place name
    (札幌市中央区北1条西2-1-1 -> 札幌市中央区北1条西) is kept.

    Example::

        df.select(address_area_key("address"))      # 千代田区丸の内1-2-3丸の内ビル -> 千代田区丸の内

    :param col: the address column
    :type col: str or pyspark.sql.Column
    :return: the area key, null when null or empty
    :rtype: pyspark.sql.Column
    """
    return _null_if_empty(F.regexp_extract(_address_core(col), _AREA, 1))


def number_is_clean(col: ColumnOrName) -> Column:
    """
    Whether the raw individual number is exactly 12 ASCII digits (no full-width digits, spaces
    or hyphens). Does not check the check digit.

    Example::

        df.where(~number_is_clean("individual_number"))   # rows to quarantine as a field problem

    :param col: the raw number column
    :type col: str or pyspark.sql.Column
    :return: boolean, null when the value is null
    :rtype: pyspark.sql.Column
    """
    return _col(col).rlike("\\A[0-9]{12}\\z")


def number_folded(col: ColumnOrName) -> Column:
    """
    The individual number with full-width digits folded and spaces, hyphens and dashes
    removed, so that a value quarantined for its notation can still be used. Any other
    character is kept, so a bad value stays bad.

    Example::

        df.select(number_folded("individual_number"))     # "１２３４ ５６７８-９０１２" -> "123456789012"

    :param col: the raw number column
    :type col: str or pyspark.sql.Column
    :return: the folded number, null when null or empty
    :rtype: pyspark.sql.Column
    """
    s = F.regexp_replace(_fold(_col(col)), f"[\\s{_cls(_DASHES)}ー]+", "")
    return _null_if_empty(s)


def area_of_address_key(key: ColumnOrName) -> Column:
    """
    The area key from an already computed :func:`address_key` (same result as
    :func:`address_area_key` on the raw address, without normalising it twice).

    :param key: a column holding address keys
    :type key: str or pyspark.sql.Column
    :return: the area key, null when null or empty
    :rtype: pyspark.sql.Column
    """
    return _null_if_empty(F.regexp_extract(_col(key), _AREA, 1))


def _pieces(col: ColumnOrName, kanji: bool) -> Column:
    return F.transform(_name_part_texts(col, 2), lambda p: _name_core(p, kanji))


def name_pieces(col: ColumnOrName) -> Column:
    """
    ``array<string>`` of the family and given keys (:func:`name_parts` without the struct):
    each part is normalised exactly once, so callers that need both parts and the whole
    key can derive them from one column without repeating the expression.

    :param col: the name column
    :type col: str or pyspark.sql.Column
    :return: ``[family_key, given_key]`` (one element when there is no space); parts may be ""
    :rtype: pyspark.sql.Column
    """
    return _pieces(col, kanji=True)


def kana_token_set(col: ColumnOrName) -> Column:
    """
    The reading keys of a name of three or more parts, sorted and joined, so that a foreign
    resident's katakana name compares in any order (フェルナンダ クリスチーナ シルバ =
    シルバ フェルナンダ クリスチーナ); null for one or two parts (`jobs.compare` handles the
    order of two).  The parts are keyed only when there are three or more.

    :param col: the reading column
    :type col: str or pyspark.sql.Column
    :return: the sorted part keys joined without a separator, or null
    :rtype: pyspark.sql.Column
    """
    parts = _name_part_texts(col, -1)
    keys = F.filter(F.transform(parts, lambda p: _name_core(p, kanji=False)), lambda k: k != "")
    return F.when(F.size(parts) >= 3, F.nullif(F.array_join(F.array_sort(keys), ""), F.lit("")))


def kana_pieces(col: ColumnOrName) -> Column:
    """
    ``array<string>`` of the family and given reading keys, as :func:`name_pieces` does for
    :func:`kana_parts`.

    :param col: the reading column
    :type col: str or pyspark.sql.Column
    :return: ``[family_key, given_key]``; parts may be ""
    :rtype: pyspark.sql.Column
    """
    return _pieces(col, kanji=False)


# Sound keys: a name in katakana and the same name in the alphabet reduced to one coarse
# consonant skeleton (SILVA LUCAS and ｼﾙﾊﾞ ﾙｶｽ both give "KS SB"), so that a bank holder's
# katakana can be matched with a foreign resident registered in the alphabet only.  Katakana
# merges L with R, V/F/P with B, Z/J/CH/SH with S, D with T, and writes vowels, H and R
# unreliably (ROBERT ロバート, FERNANDA フェルナンダ), so those are merged or dropped on both sides.  Coarse by design: it is used only
# as positive evidence that two names are the same (`jobs.verify.account_reasons`), never to
# say that they differ.
_SOUND_KANA_CLASSES = {
    "K": "カガキギクグケゲコゴヵヶ",
    "S": "サザシジスズセゼソゾチヂツヅ",
    "T": "タダテデトド",
    "N": "ナニヌネノン",
    "B": "バビブベボパピプペポフヴヷヸヹヺ",
    "M": "マミムメモ",
}
_SOUND_KANA_DROP = "ラリルレロアイウエオァィゥェォヤユヨャュョワヮヲヰヱッーハヒヘホヽヾ"
_SOUND_KANA_SRC = "".join(_SOUND_KANA_CLASSES.values()) + _SOUND_KANA_DROP
_SOUND_KANA_DST = "".join(k * len(v) for k, v in _SOUND_KANA_CLASSES.items())
# Latin letters: digraphs first (PH, SCH/SH/CH, TH, CK, QU, C before E/I/Y, X, a Vietnamese
# initial NG), then one translate into the same classes; H, W, Y and vowels are dropped.
_SOUND_LATIN_RULES = [("PH", "B"), ("S?CH|SH", "S"), ("TH", "T"), ("CK|QU", "K"), ("[CG](?=[EIY])", "S"),
                      ("X", "KS"), ("^NG", "K")]
_SOUND_LATIN_SRC = "CQJZVFPDGLRHWYAEIOU"
_SOUND_LATIN_DST = "KKSSBBBTK"


def _collapse(s: Column) -> Column:
    return F.regexp_replace(s, "(.)\\1+", "$1")


def _sound_set(skeletons: Column) -> Column:
    """Sorted, space-joined skeletons of at least two parts, each part non-empty and four
    consonants in all (fewer say too little to tell a household's members apart); else null."""
    ok = (F.size(skeletons) >= 2) & F.forall(skeletons, lambda k: k != "") & (
        F.length(F.array_join(skeletons, "")) >= 4)
    return F.when(ok, F.array_join(F.array_sort(skeletons), " "))


def alpha_sound_key(tokens: ColumnOrName) -> Column:
    """
    The sound key of an alphabet name given as its :func:`alpha_tokens`: each token's coarse
    consonant skeleton (SILVA -> SB, LUCAS -> KS, JOHNSON -> SNSN, WILLIAMS -> MS), sorted.

    :param tokens: an ``array<string>`` column of upper-case tokens
    :type tokens: str or pyspark.sql.Column
    :return: the skeletons sorted and joined by a space; null for fewer than two tokens, an
             empty skeleton or fewer than four consonants in all
    :rtype: pyspark.sql.Column
    """
    def skeleton(t):
        for pattern, repl in _SOUND_LATIN_RULES:
            t = F.regexp_replace(t, pattern, repl)
        return _collapse(F.translate(t, _SOUND_LATIN_SRC, _SOUND_LATIN_DST))
    return _sound_set(F.transform(_col(tokens), skeleton))


def kana_sound_key(col: ColumnOrName) -> Column:
    """
    The sound key of a name written in katakana or hiragana (a bank holder's ｼﾙﾊﾞ ﾙｶｽ, a
    foreign resident's reading): each part's consonant skeleton, as :func:`alpha_sound_key`
    gives for the alphabet spelling, sorted (ｼﾙﾊﾞ ﾙｶｽ ﾍﾟﾄﾞﾛ and SILVA LUCAS PEDRO both give
    "BT KS SB").
    Values with anything but kana in a part give null.

    :param col: the reading column (raw text)
    :type col: str or pyspark.sql.Column
    :return: the skeletons sorted and joined by a space, or null (see :func:`alpha_sound_key`)
    :rtype: pyspark.sql.Column
    """
    parts = F.transform(_name_part_texts(col, -1), lambda p: F.translate(p, _HIRA, _KATA))
    kana_only = F.forall(parts, lambda p: p.rlike(f"^[{_KATA_LETTERS}ー]*$"))
    skeletons = F.transform(
        F.filter(parts, lambda p: p != ""),
        lambda p: _collapse(F.translate(p, _SOUND_KANA_SRC, _SOUND_KANA_DST)))
    return F.when(kana_only, _sound_set(skeletons))
