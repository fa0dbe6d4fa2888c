"""Preprocessing for the Splink reference run (DuckDB + pyarrow, string work done once per
distinct value, not per row)."""
from __future__ import annotations

import re
import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

# hiragana -> katakana, small kana -> large (a holder may write small kana large)
_HIRA2KATA = {c: c + 0x60 for c in range(ord("ぁ"), ord("ゖ") + 1)}
_SMALL2LARGE = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
# common old / variant kanji (異体字) -> standard form; a generic table, not tuned to the data
_VARIANTS = str.maketrans(
    "髙﨑嵜邊邉齋齊櫻眞實瀨澤濱濵廣國與德惠榮藏嶋嶌冨桒渕壽巖曾條龍傳聰緖薗舘莊彌禮萬壹埜兒來學亞戶步桧栁凜靜爲鐵顯槇瑤恆絲晉黑淸賴隆琢廳徑縣驛櫻歲寳寶圓團當將從擧彥",
    "高崎崎辺辺斎斉桜真実瀬沢浜浜広国与徳恵栄蔵島島富桑淵寿巌曽条竜伝聡緒園館荘弥礼万壱野児来学亜戸歩檜柳凛静為鉄顕槙瑶恒糸晋黒清頼隆琢庁径県駅桜歳宝宝円団当将従挙彦",
)
_WS = re.compile(r"\s+")


def _uniq_map(arr: pa.ChunkedArray | pa.Array, fn) -> pa.Array:
    """Apply a python str->str|None function once per distinct value."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    d = pc.dictionary_encode(arr)
    out = pa.array([fn(v) for v in d.dictionary.to_pylist()], pa.string())
    return pc.take(out, d.indices)


def norm_name(s: str) -> str | None:
    """Kanji/alphabet name: NFKC, variant kanji, upper case, single spaces."""
    s = unicodedata.normalize("NFKC", s).translate(_VARIANTS).upper()
    s = _WS.sub(" ", s).strip()
    return s or None


def norm_kana(s: str) -> str | None:
    """Reading: NFKC (half-width kana -> full), hiragana -> katakana, small -> large."""
    s = unicodedata.normalize("NFKC", s).translate(_HIRA2KATA).translate(_SMALL2LARGE)
    s = _WS.sub(" ", s).strip()
    return s or None


_KNUM = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# kanji numerals only where they are block / lot numbers (not in 千葉, 八王子, 一条 ...)
_KNUM_RE = re.compile(r"[〇一二三四五六七八九十百千]+(?=丁目|番|号|[-－‐−])"
                      r"|(?:(?<=丁目)|(?<=番地)|(?<=[番号\-‐−]))[〇一二三四五六七八九十百千]+")


def _kanji_int(m: re.Match) -> str:
    total, cur = 0, 0
    for ch in m.group(0):
        if ch in _KNUM:
            cur = cur * 10 + _KNUM[ch]
        else:
            total += (cur or 1) * {"十": 10, "百": 100, "千": 1000}[ch]
            cur = 0
    return str(total + cur)


_DASHES = re.compile(r"(?<=[0-9])[‐‑‒–—―−ー-]+(?=[0-9])")
_ADDR_UNITS = re.compile(r"(?<=[0-9])(丁目|番地|番|号)")


def norm_address(s: str) -> str | None:
    """NFKC, no spaces, kanji numerals -> digits, 丁目/番地/番/号 -> '-'."""
    s = unicodedata.normalize("NFKC", s)
    s = _WS.sub("", s)
    s = _KNUM_RE.sub(_kanji_int, s)
    s = _DASHES.sub("-", s)
    s = _ADDR_UNITS.sub("-", s)
    s = re.sub(r"-+", "-", s)
    s = re.sub(r"-(?![0-9])", "", s)
    return s or None


def normalise(table: pa.Table) -> pa.Table:
    """Add normalised name / reading / address columns to an Arrow table."""
    cols = {
        "nk": (table["name_kanji"], norm_name),
        "nr": (table["name_kana"], norm_kana),
        "ad": (table["address"], norm_address),
    }
    for name, (arr, fn) in cols.items():
        table = table.append_column(name, _uniq_map(arr, fn))
    return table
