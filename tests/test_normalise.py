"""jobs.normalise: every variation the contract calls "not an error", with a real Spark session.

Each test builds one small DataFrame (one row per case) and collects it once.
"""

from __future__ import annotations

import unicodedata

import pytest
from pyspark.sql import functions as F

from jobs import normalise as N

ADDRESS_KEY = "千代田区丸の内1-2-3"


def _run(spark, fn, values):
    """fn applied to each value (order kept), collected once (a local relation: no shuffle)."""
    df = spark.createDataFrame(list(enumerate(values)), "i int, v string")
    rows = sorted(df.select("i", fn(F.col("v")).alias("out")).collect())
    return [row.out for row in rows]


def _check(spark, fn, cases):
    """Assert fn(input) == expected for every (input, expected); report every failure at once."""
    got = _run(spark, fn, [inp for inp, _ in cases])
    bad = [(inp, exp, out) for (inp, exp), out in zip(cases, got) if out != exp]
    assert not bad, "\n".join(f"{inp!r}: expected {exp!r}, got {out!r}" for inp, exp, out in bad)


# ---------------------------------------------------------------------------------------------


def test_spark_translate_handles_supplementary_plane(spark):
    """The tables rely on Spark's translate working on code points, not UTF-16 units."""
    df = spark.createDataFrame([("𠮷田𠮷子",), ("a𠮷b",)], "v string")
    rows = df.select(
        F.translate("v", "𠮷", "吉").alias("t"),
        F.translate("v", "𠮷", "").alias("d"),
        F.translate("v", "ab", "𠮷X").alias("u"),
    ).collect()
    assert [tuple(r) for r in rows] == [("吉田吉子", "田子", "𠮷田𠮷子"), ("a吉b", "ab", "𠮷𠮷X")]


def test_fold_width(spark):
    _check(
        spark,
        N.fold_width,
        [
            ("ＡＢＣａｂｃ１２３", "ABCabc123"),
            ("！＃（）．，", "!#().,"),
            ("山田　太郎", "山田 太郎"),  # ideographic space
            ("山田\u00a0太郎", "山田 太郎"),  # no-break space
            ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ"),
            ("ｶﾞｷﾞｸﾞｹﾞｺﾞ", "ガギグゲゴ"),
            ("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ", "パピプペポ"),
            ("ﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞ", "バビブベボ"),
            ("ｳﾞｨｯｷｰ", "ヴィッキー"),  # ｰ -> ー kept for kana names
            ("ｧｨｩｪｫｯｬｭｮ", "ァィゥェォッャュョ"),
            ("ｼﾞｮｳ･ﾀﾛｳ", "ジョウ・タロウ"),
            ("カ゛キ゛ハ゜", "ガギパ"),  # spacing marks
            ("か\u3099は\u309a", "がぱ"),  # combining marks
            ("ア゛", "ア゛"),  # no such voiced kana: left alone
            ("１－２－３", "1-2-3"),
            ("1‐2―3", "1‐2―3"),  # other dashes left for address handling
            ("𠮷田", "𠮷田"),
            ("﨑\U000e0100田", "﨑田"),  # ideographic variation selector deleted
            ("\ufeff山田\u200b", "山田"),
            ("高橋 榮\u00ad子", "高橋 榮子"),  # soft hyphen
            ("\u202a山田\u202c \u200e太郎\u200f", "山田 太郎"),  # bidirectional marks
            ("Jose\u0301", "Jose"),  # combining acute: the base letter stays
            ("塚", "塚"),  # compatibility ideograph U+FA10 -> U+585A
            ("", None),
            (None, None),
        ],
    )


def test_kana_key_variations(spark):
    cases = [
        # (input, expected key)
        ("ヤマダ タロウ", "ヤマダタロウ"),
        ("ヤマダ　タロウ", "ヤマダタロウ"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"),
        ("やまだ たろう", "ヤマダタロウ"),
        ("  ヤマダ・タロウ ", "ヤマダタロウ"),
        ("ヤマダ･タロウ", "ヤマダタロウ"),
        # small kana written large (bank style) vs normal
        ("ジョウダイ キョウコ", "ジヨウダイキヨウコ"),
        ("ｼﾞﾖｳﾀﾞｲ ｷﾖｳｺ", "ジヨウダイキヨウコ"),
        ("じょうだい きょうこ", "ジヨウダイキヨウコ"),
        ("ハットリ", "ハツトリ"),
        ("ﾊﾂﾄﾘ", "ハツトリ"),
        ("ヶ", "ケ"),
        ("ヵ", "カ"),
        ("ヮ", "ワ"),
        # long vowels removed
        ("ユーコ", "ユコ"),
        ("ﾕｰｺ", "ユコ"),
        ("ﾕ-ｺ", "ユコ"),
        ("ユ－コ", "ユコ"),
        ("ユ〜コ", "ユコ"),
        ("ユコ", "ユコ"),
        # dakuten / handakuten
        ("ﾊﾟｸ ｼﾞﾕﾝ", "パクジユン"),
        ("パク ジュン", "パクジユン"),
        ("ハ゜ク シ゛ュン", "パクジユン"),
        # ヴ read as ブ, ヴァ as バ (also when banks write ヴア)
        ("ヴァレンティナ", "バレンテイナ"),
        ("ｳﾞｱﾚﾝﾃｲﾅ", "バレンテイナ"),
        ("ﾊﾞﾚﾝﾃｨﾅ", "バレンテイナ"),
        ("ヴィクトル", "ビクトル"),
        ("ヴ", "ブ"),
        ("ゔぇ", "ベ"),
        # same reading
        ("ツヅキ", "ツズキ"),
        ("ツズキ", "ツズキ"),
        ("チヂワ", "チジワ"),
        ("ヱミ", "エミ"),
        ("ジョン＝スミス", "ジヨンスミス"),
        ("", None),
        ("　", None),
        ("ー", None),
        (None, None),
    ]
    _check(spark, N.kana_key, cases)


def test_kana_key_distinguishes_different_readings(spark):
    keys = _run(spark, N.kana_key, ["ヤマダタロウ", "ヤマダジロウ", "ハナコ", "ハナゴ", "パク", "バク", "ハク"])
    assert len(set(keys)) == len(keys)


def test_kana_parts(spark):
    _check(
        spark,
        N.kana_parts,
        [
            ("ヤマダ タロウ", ("ヤマダ", "タロウ")),
            ("ﾔﾏﾀﾞ ﾀﾛｳ", ("ヤマダ", "タロウ")),
            ("やまだ　たろう", ("ヤマダ", "タロウ")),
            ("　ｼﾞﾖｳﾀﾞｲ  ｷﾖｳｺ ", ("ジヨウダイ", "キヨウコ")),
            ("スミス ジョン ポール", ("スミス", "ジヨンポル")),  # split on the first space only
            ("ヤマダタロウ", ("ヤマダタロウ", None)),  # no space: all in family
        ],
    )
    got = _run(spark, N.kana_parts, [None, "", "  "])
    assert got == [None, None, None]


def test_name_key_names(spark):
    _check(
        spark,
        N.name_key,
        [
            ("山田 太郎", "山田太郎"),
            ("山田　太郎", "山田太郎"),
            (" 山田太郎 ", "山田太郎"),
            ("髙橋　𠮷郎", "高橋吉郎"),
            ("高橋 吉郎", "高橋吉郎"),
            ("山﨑 邊", "山崎辺"),
            ("山嵜 邉", "山崎辺"),
            ("齋藤 眞", "斎藤真"),
            ("齊藤", "斉藤"),  # 齊 is the old form of 斉, not of 斎
            ("濵田 德", "浜田徳"),
            ("濱田 惠", "浜田恵"),
            ("佐々木 龍", "佐佐木竜"),
            ("佐佐木 竜", "佐佐木竜"),
            ("神戶", "神戸"),
            ("葛\U000e0100西", "葛西"),  # IVS
            # a name written in kana compares with a reading key
            ("やまだ たろう", "ヤマダタロウ"),
            ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"),
            ("山田 ゆうこ", "山田ユウコ"),
            ("山田 ゆーこ", "山田ユコ"),
            # alphabet names
            ("Smith John", "SMITHJOHN"),
            ("ＳＭＩＴＨ　ＪＯＨＮ", "SMITHJOHN"),
            ("José García", "JOSEGARCIA"),
            ("遠藤 麻衣(旧姓:中島)", "遠藤麻衣"),
            ("エンドウ マイ（キュウセイ ナカジマ）", "エンドウマイ"),
            # Vietnamese (Latin Extended Additional, two marks on one letter; Đ has a stroke)
            ("Nguyễn Văn An", "NGUYENVANAN"),
            ("Đặng Thị Hương", "DANGTHIHUONG"),
            ("Trần Đức Thắng", "TRANDUCTHANG"),
            # decomposed: base letter + combining mark (U+0301, U+0302 U+0303)
            ("Jose\u0301 Garci\u0301a", "JOSEGARCIA"),
            ("Nguye\u0302\u0303n", "NGUYEN"),
            # letters with a stroke, ß
            ("Søren Łukasz", "SORENLUKASZ"),
            ("Straße", "STRASSE"),
            ("", None),
            ("　", None),
            (None, None),
        ],
    )


# Pairs the contract and the brief name explicitly (variant, standard).
LISTED_VARIANTS = [
    ("髙", "高"), ("﨑", "崎"), ("嵜", "崎"), ("邊", "辺"), ("邉", "辺"), ("齋", "斎"),
    ("濵", "浜"), ("濱", "浜"), ("德", "徳"), ("𠮷", "吉"), ("澤", "沢"), ("嶋", "島"),
    ("嶌", "島"), ("櫻", "桜"), ("廣", "広"), ("國", "国"), ("藏", "蔵"), ("眞", "真"),
    ("惠", "恵"), ("髮", "髪"), ("壽", "寿"), ("龍", "竜"), ("瀨", "瀬"), ("冨", "富"),
    ("槇", "槙"), ("篭", "籠"),
]  # fmt: skip


def test_kanji_variant_table():
    assert len(N.KANJI_VARIANTS) >= 150
    for variant, standard in LISTED_VARIANTS:
        assert N.KANJI_VARIANTS.get(variant) == standard, variant
    for variant, standard in N.KANJI_VARIANTS.items():
        assert "IDEOGRAPH" in unicodedata.name(variant), variant
        assert "IDEOGRAPH" in unicodedata.name(standard), standard
        assert standard not in N.KANJI_VARIANTS, f"chain {variant}->{standard}"
    assert "斉" not in N.KANJI_VARIANTS and "斎" not in N.KANJI_VARIANTS


def test_name_key_every_variant_kanji(spark):
    """Every row of kanji_variants.tsv (and the listed pairs) folds, inside a name too."""
    pairs = sorted(N.KANJI_VARIANTS.items()) + LISTED_VARIANTS
    cases = [(v, s) for v, s in pairs] + [(f"田{v}　{v}子", f"田{s}{s}子") for v, s in pairs]
    _check(spark, N.name_key, cases)


def test_name_parts(spark):
    _check(
        spark,
        N.name_parts,
        [
            ("山田 太郎", ("山田", "太郎")),
            ("山田　太郎", ("山田", "太郎")),
            ("髙橋　𠮷郎", ("高橋", "吉郎")),
            ("  山﨑 　邊子 ", ("山崎", "辺子")),
            ("ｽﾐｽ ｼﾞｮﾝ", ("スミス", "ジヨン")),
            # a foreign name in katakana: the middle dot or double hyphen parts it too
            ("メンドーサ・ラモン", ("メンドサ", "ラモン")),
            ("ブイ・ゴック・フォン", ("ブイ", "ゴツクフオン")),
            ("ジョン＝スミス", ("ジヨン", "スミス")),
            ("・ジョン・", ("ジヨン", None)),
            # a note in brackets is not part of the name
            ("遠藤　麻衣（旧姓：中島）", ("遠藤", "麻衣")),
            ("遠藤 麻衣 [旧姓 中島", ("遠藤", "麻衣")),
            ("【要確認】遠藤 麻衣", ("遠藤", "麻衣")),
            # a space typed before an iteration mark
            ("佐 々木 結衣", ("佐佐木", "結衣")),
            ("SMITH John Paul", ("SMITH", "JOHNPAUL")),
            ("山田太郎", ("山田太郎", None)),
        ],
    )
    assert _run(spark, N.name_parts, [None, "", "　"]) == [None, None, None]


def test_alpha_tokens(spark):
    _check(
        spark,
        N.alpha_tokens,
        [
            ("SMITH JOHN", ["JOHN", "SMITH"]),
            ("John Smith", ["JOHN", "SMITH"]),
            ("Smith, John", ["JOHN", "SMITH"]),
            ("SMITH,JOHN", ["JOHN", "SMITH"]),
            ("ＳＭＩＴＨ　ｊｏｈｎ", ["JOHN", "SMITH"]),
            ("John A. Smith", ["A", "JOHN", "SMITH"]),
            ("Smith John A", ["A", "JOHN", "SMITH"]),
            ("Jean-Pierre DUPONT", ["DUPONT", "JEAN", "PIERRE"]),
            ("DUPONT JEAN PIERRE", ["DUPONT", "JEAN", "PIERRE"]),
            ("O'Brien Sean", ["OBRIEN", "SEAN"]),
            ("José GARCÍA", ["GARCIA", "JOSE"]),
            ("NGUYEN VAN AN", ["AN", "NGUYEN", "VAN"]),
            ("SMITH JOHN (JACK)", ["JOHN", "SMITH"]),
            ("Nguyễn Văn An", ["AN", "NGUYEN", "VAN"]),
            ("ĐỖ Thị Mai", ["DO", "MAI", "THI"]),
            ("Mu\u0308ller-Lu\u0308denscheidt", ["LUDENSCHEIDT", "MULLER"]),
            (" , . ", None),
            ("", None),
            (None, None),
        ],
    )


ADDRESS_VARIANTS = [
    "東京都千代田区丸の内一丁目２番３号",
    "千代田区丸の内1-2-3",
    "千代田区丸の内１－２－３",
    "東京都千代田区丸の内1丁目2番地3",
    "東京都千代田区丸の内1丁目2番3号",
    "東京都　千代田区　丸の内　１‐２‐３",
    "千代田区丸の内一丁目二番三号",
    "千代田区丸の内一丁目二番地の三",
    "千代田区丸の内１ー２ー３",
    "千代田区丸の内1−2−3",  # U+2212 minus
    "千代田区丸の内1–2—3",  # en/em dash
    "千代田区丸の内1の2の3",
    "千代田区丸の内1丁目2-3",
    "千代田区丸の内一-二-三",
    "千代田区丸ノ内1-2-3",
    "〒100-0005 東京都千代田区丸の内1-2-3",
    " 千代田区丸の内 1 - 2 - 3 ",
    "千代田区丸の内1-2-3-",
    "千代田区丸の內一丁目２番３号",  # 內 variant kanji
]


def test_address_key_variants_of_one_address(spark):
    _check(spark, N.address_key, [(v, ADDRESS_KEY) for v in ADDRESS_VARIANTS])


def test_address_key_rules(spark):
    _check(
        spark,
        N.address_key,
        [
            # different chome / ban / go must differ
            ("千代田区丸の内1-2-4", "千代田区丸の内1-2-4"),
            ("千代田区丸の内1丁目3番3号", "千代田区丸の内1-3-3"),
            ("千代田区丸の内二丁目2番3号", "千代田区丸の内2-2-3"),
            ("千代田区丸の内1-2", "千代田区丸の内1-2"),
            # prefectures
            ("北海道札幌市中央区北1条西2丁目1番1号", "札幌市中央区北1条西2-1-1"),
            ("京都府京都市中京区", "京都市中京区"),
            ("京都市中京区", "京都市中京区"),
            ("大阪府大阪市北区梅田一丁目", "大阪市北区梅田1"),
            ("神奈川県横浜市中区本町1-1", "横浜市中区本町1-1"),
            ("鹿児島県鹿児島市山下町11番1号", "鹿児島市山下町11-1"),
            ("東京都", None),
            # kanji numerals in numbering only
            ("千代田区一番町二十三番地", "千代田区一番町23"),
            ("新宿区西新宿二丁目八番一号", "新宿区西新宿2-8-1"),
            ("港区六本木六丁目十番一号", "港区六本木6-10-1"),
            ("中央区八丁堀二丁目十一番一〇二号", "中央区八丁堀2-11-102"),
            ("十日町市本町十一番地", "十日町市本町11"),
            ("津市千代田町一千二百五番地", "津市千代田町1205"),
            ("某町百二番地", "某町102"),
            ("某町三百番地", "某町300"),
            ("某町十番", "某町10"),
            ("三田市三田町五番地", "三田市三田町5"),
            ("四日市市九番地の十二", "四日市市9-12"),
            # 大字 / 字
            ("埼玉県比企郡嵐山町大字菅谷字上1番地", "比企郡嵐山町菅谷上1"),
            ("比企郡嵐山町菅谷上1", "比企郡嵐山町菅谷上1"),
            # 霞ヶ関 / 霞が関 / 霞ケ関, 丸の内 keeps の
            ("千代田区霞が関一丁目", "千代田区霞ケ関1"),
            ("千代田区霞ヶ関1丁目", "千代田区霞ケ関1"),
            ("千代田区霞ケ関1", "千代田区霞ケ関1"),
            ("千代田区丸の内", "千代田区丸の内"),
            # building and room kept after the number block
            ("千代田区丸の内1-2-3 丸の内ビル１０１号室", "千代田区丸の内1-2-3丸の内ビル101室"),
            ("千代田区丸の内1丁目2番3号丸の内ビル101", "千代田区丸の内1-2-3丸の内ビル101"),
            ("千代田区丸の内1-2-3丸の内ビル101", "千代田区丸の内1-2-3丸の内ビル101"),
            # Hokkaido 条 and 線 numbers in kanji
            ("札幌市中央区北四条西五丁目1番地", "札幌市中央区北4条西5-1"),
            ("旭川市東光十条三丁目", "旭川市東光10条3"),
            ("上川郡東神楽町十五線", "上川郡東神楽町15線"),
            # a postal code written without 〒 or hyphen
            ("1000005東京都千代田区丸の内1-2-3", "千代田区丸の内1-2-3"),
            ("〒1000005 東京都千代田区丸の内1-2-3", "千代田区丸の内1-2-3"),
            ("ｶﾜｻｷ市", "カワサキ市"),
            ("", None),
            ("　", None),
            (None, None),
        ],
    )


def test_address_key_negative_cases_differ(spark):
    values = [
        "千代田区丸の内1-2-3",
        "千代田区丸の内1-2-4",
        "千代田区丸の内1-3-3",
        "千代田区丸の内2-2-3",
        "千代田区丸の内1-2",
        "千代田区丸の内1-23",
        "千代田区丸の内12-3",
        "千代田区大手町1-2-3",
        "中央区丸の内1-2-3",
    ]
    keys = _run(spark, N.address_key, values)
    assert len(set(keys)) == len(values), keys
    assert all("丸の内" in k for k in keys if "大手町" not in k)


def test_address_area_key(spark):
    _check(
        spark,
        N.address_area_key,
        [(v, "千代田区丸の内") for v in ADDRESS_VARIANTS]
        + [
            ("千代田区丸の内1-2-3 丸の内ビル101", "千代田区丸の内"),
            ("千代田区丸の内二丁目", "千代田区丸の内"),
            ("北海道札幌市中央区北1条西2丁目1番1号", "札幌市中央区北1条西"),
            ("千代田区一番町二十三番地", "千代田区一番町"),
            # a single 番地 number and a building
            ("愛知県豊田市大字猿投町2443番地", "豊田市猿投町"),
            ("愛知県豊田市大字猿投町2443番地 サンハイツ501号室", "豊田市猿投町"),
            ("豊田市猿投町2443(サンハイツ501)", "豊田市猿投町"),
            ("千代田区丸の内", "千代田区丸の内"),
            ("1-2-3", None),
            (None, None),
        ],
    )


def test_number_is_clean_and_folded(spark):
    df = spark.createDataFrame(
        list(
            enumerate(
                [
                    "123456789018",
                    "１２３４５６７８９０１８",
                    "1234 5678 9018",
                    "1234-5678-9018",
                    "１２３４－５６７８－９０１８",
                    "12345678901",
                    "1234567890123",
                    "12345678901A",
                    "123456789018\n",
                    "",
                    None,
                ]
            )
        ),
        "i int, v string",
    )
    rows = sorted(df.select("i", N.number_is_clean("v"), N.number_folded("v")).collect())
    assert [tuple(r)[1:] for r in rows] == [
        (True, "123456789018"),
        (False, "123456789018"),
        (False, "123456789018"),
        (False, "123456789018"),
        (False, "123456789018"),
        (False, "12345678901"),
        (False, "1234567890123"),
        (False, "12345678901A"),
        (False, "123456789018"),
        (False, None),
        (None, None),
    ]


def test_nulls_and_empty_strings_everywhere(spark):
    funcs = {
        "fold_width": N.fold_width,
        "kana_key": N.kana_key,
        "kana_parts": N.kana_parts,
        "name_key": N.name_key,
        "name_parts": N.name_parts,
        "alpha_tokens": N.alpha_tokens,
        "address_key": N.address_key,
        "address_area_key": N.address_area_key,
        "number_folded": N.number_folded,
    }
    df = spark.createDataFrame([(None,), ("",), ("　 ",)], "v string")
    rows = df.select(*[fn("v").alias(name) for name, fn in funcs.items()]).collect()
    for row in rows[:2]:
        assert all(value is None for value in row), row
    assert all(value is None for name, value in rows[2].asDict().items() if name != "fold_width")


def test_composes_with_column_names_and_with_column(spark):
    df = spark.createDataFrame([("髙橋　𠮷郎", "ﾀｶﾊｼ ｷﾁﾛｳ")], "name string, kana string")
    row = (
        df.withColumn("nk", N.name_key("name"))
        .withColumn("kk", N.kana_key(F.col("kana")))
        .withColumn("fam", N.name_parts("name")["family"])
        .first()
    )
    assert (row.nk, row.kk, row.fam) == ("高橋吉郎", "タカハシキチロウ", "高橋")


def test_no_python_udf_in_plan(spark):
    df = spark.createDataFrame([("ﾔﾏﾀﾞ ﾀﾛｳ",)], "v string")
    out = df.select(
        N.fold_width("v"),
        N.kana_key("v"),
        N.kana_parts("v"),
        N.name_key("v"),
        N.name_parts("v"),
        N.alpha_tokens("v"),
        N.address_key("v"),
        N.address_area_key("v"),
        N.number_is_clean("v"),
        N.number_folded("v"),
    )
    plan = out._jdf.queryExecution().executedPlan().toString()
    assert "BatchEvalPython" not in plan
    assert "ArrowEvalPython" not in plan
    assert "PythonUDF" not in plan
    out.collect()


@pytest.mark.parametrize("fn", [N.fold_width, N.kana_key, N.name_key, N.address_key])
def test_functions_return_columns(spark, fn):
    from pyspark.sql import Column

    assert isinstance(fn(F.col("x")), Column)
    assert isinstance(fn("x"), Column)


def test_kana_short_writes_long_vowels_short(spark):
    key = lambda v: N.kana_short(N.kana_key(v))  # noqa: E731
    _check(spark, key, [
        ("サトウ", "サト"), ("サトー", "サト"), ("ｻﾄｰ", "サト"), ("さとお", "サト"),
        ("オオタ", "オタ"), ("オウタ", "オタ"), ("オータ", "オタ"),
        ("ユウコ", "ユコ"), ("ﾕｰｺ", "ユコ"), ("ケイコ", "ケコ"), ("ケーコ", "ケコ"),
        ("リョウ", "リヨ"), ("ﾘﾖｳ", "リヨ"), ("キョウコ", "キヨコ"),
        # what does not lengthen a vowel stays
        ("サイトウ", "サイト"), ("カイ", "カイ"), ("アオイ", "アオイ"), ("ミウ", "ミウ"), ("タエ", "タエ"),
        (None, None),
    ])


def test_kana_token_set_of_three_parts_or_more(spark):
    _check(spark, N.kana_token_set, [
        ("シルバ フェルナンダ クリスチーナ", "クリスチナシルバフエルナンダ"),
        ("フェルナンダ・クリスチーナ・シルバ", "クリスチナシルバフエルナンダ"),
        ("ﾌｪﾙﾅﾝﾀﾞ ｸﾘｽﾁｰﾅ ｼﾙﾊﾞ", "クリスチナシルバフエルナンダ"),
        ("チェン ジン", None),      # two parts: compare.foreign_kana_swapped
        ("ヤマダタロウ", None),
        (None, None),
    ])



def test_sound_keys_of_katakana_and_alphabet_spellings_meet(spark):
    """A katakana name and the alphabet name it transcribes give one sound key, in any order."""
    alpha = lambda v: N.alpha_sound_key(N.alpha_tokens(v))  # noqa: E731
    pairs = [
        ("SILVA LUCAS PEDRO", "ｼﾙﾊﾞ ﾙｶｽ ﾍﾟﾄﾞﾛ", "BT KS SB"),
        ("Silva, Ana Maria", "シルバ・アナ・マリア", "M N SB"),
        ("JOHNSON ROBERT WILLIAM", "ジョンソン ロバート ウィリアム", "BT M SNSN"),   # R unheard, W and H dropped
        ("GARCIA LOPEZ", "ガルシア ロペス", "BS KS"),                               # C before I, L = R, Z = S
        ("FERNANDA SILVA", "ふぇるなんだ しるば", "BNT SB"),                        # hiragana too
        ("NGUYEN VAN AN", "グエン ヴァン アン", "BN KN N"),                          # NG-, V = ヴ
        ("PHAM THI LAN", "ファム ティ ラン", "BM N T"),                              # PH = F, TH = T
        ("SANTOS PEDRO HENRIQUE", "ｻﾝﾄｽ ﾍﾟﾄﾞﾛ ｴﾝﾘｹ", "BT NK SNTS"),               # QU = K, H silent
        ("GEORGE MICHAEL", "ジョージ ミカエル", None),                                # G/S K: too few
    ]
    _check(spark, alpha, [(a, k) for a, _, k in pairs])
    _check(spark, N.kana_sound_key, [(k_, k) for _, k_, k in pairs if k is not None])
    _check(spark, N.kana_sound_key, [
        # a Japanese name in kana has a key too, but one of three consonants says too little
        ("ﾔﾏﾀﾞ ﾀﾛｳ", None), ("ヤマモト ケンイチ", "KNS MT"),
        # one part, kanji or Latin letters in it, an empty part: no key
        ("シルバルカス", None), ("山田 太郎", None), ("SILVA LUCAS", None), (None, None),
    ])
    # names that differ by a consonant keep different keys
    _check(spark, alpha, [("SILVA CARLOS HENRIQUE", "KS NK SB"), ("SILVA LUCAS", "KS SB"), ("LI NA", None)])
