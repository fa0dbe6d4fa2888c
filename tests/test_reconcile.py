"""End-to-end reconcile on hand-made records: every reason code, Japanese and alphabet names."""

import datetime as dt
import logging
import os
import re
import subprocess
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.pipeline import run
from jobs.tokens import token_of
from tests.helpers import number, record_from, write_category, write_residents

ADDR1 = "東京都千代田区丸の内1丁目2番3号"


def _res():
    r = {}

    def add(i, name, kana, bd, sex, hh, addr=ADDR1, status="resident"):
        r[i] = {"individual_number": number(i), "name_kanji": name, "name_kana": kana, "birth_date": bd,
                "sex": sex, "address": addr, "municipality_code": "131016", "household_id": hh, "status": status}

    add(1, "山田 太郎", "ヤマダ タロウ", "1970-04-01", "1", "H1")
    add(2, "山田 花子", "ヤマダ ハナコ", "1972-05-10", "2", "H1")
    add(3, "山田 健太", "ヤマダ ケンタ", "2012-08-20", "1", "H1")
    add(4, "佐藤 美咲", "サトウ ミサキ", "2012-08-20", "2", "H2", "大阪府大阪市北区梅田2丁目4番9号")
    add(5, "佐藤 美月", "サトウ ミツキ", "2012-08-20", "2", "H2", "大阪府大阪市北区梅田2丁目4番9号")
    add(6, "鈴木 一郎", "スズキ イチロウ", "1950-01-15", "1", "H3", status="deceased")
    add(7, "高橋 次郎", "タカハシ ジロウ", "1980-03-03", "1", "H4", status="removed")
    add(8, "田中 直樹", "タナカ ナオキ", "1985-06-06", "1", "H5", "福岡県福岡市中央区天神1丁目1番1号")
    add(9, "田中 直樹", "タナカ ナオキ", "1990-09-09", "1", "H6", "北海道札幌市中央区北1条西2丁目1番地")
    add(10, "髙橋 陽子", "タカハシ ヨウコ", "1975-11-11", "2", "H7")
    add(11, "伊藤 花", "イトウ ハナ", "1999-02-02", "2", "H8", "愛知県名古屋市中区栄3丁目5番1号")
    add(12, "伊藤 花", "イトウ ハナ", "1999-02-02", "2", "H9", "宮城県仙台市青葉区一番町1丁目1番1号")
    add(13, "SMITH JOHN", "スミス ジョン", "1988-07-07", "1", "H10")
    add(14, "中村 さくら", None, "2000-12-25", "2", "H11", "京都府京都市中京区烏丸通1番地")
    add(15, "中村 裕子", "ナカムラ ユウコ", "1972-03-03", "2", "H11", "京都府京都市中京区烏丸通1番地")
    add(16, "松本 結衣", "マツモト ユイ", "2020-04-01", "2", "H12", "兵庫県神戸市中央区加納町6丁目5番1号")
    add(17, "松本 由紀", "マツモト ユキ", "1990-07-07", "2", "H12", "兵庫県神戸市中央区加納町6丁目5番1号")
    add(18, "SMITH ROBERT", None, "2019-05-05", "1", "H10")
    # mother and daughter registered without 振り仮名: the mother's reading comes from the dictionary
    add(19, "小島 春子", None, "1985-05-05", "2", "H13", "静岡県静岡市葵区追手町9番6号")
    add(20, "小島 花子", None, "2016-06-06", "2", "H13", "静岡県静岡市葵区追手町9番6号")
    # foreign residents registered in the alphabet only
    add(21, "LEE SUNGHO", None, "1995-07-14", "1", "H14", "東京都荒川区西日暮里5丁目24番13号")
    add(22, "NGUYEN NGOC LINH", None, "1998-03-21", "2", "H15", "大阪府豊中市本町4丁目2番26号")
    add(23, "SILVA CARLOS", None, "2017-09-15", "1", "H16", "神奈川県横浜市中区山手町4丁目14番24号")
    add(24, "SILVA LUCAS", "シルバ ルカス", "1980-09-14", "1", "H16", "神奈川県横浜市中区山手町4丁目14番24号")
    add(25, "伊東 洋一", "イトウ ヨウイチ", "1966-04-07", "1", "H17", "広島県広島市中区基町10番52号")
    # a family registered in the alphabet only, with no readings at all
    add(26, "SANTOS PEDRO HENRIQUE", None, "1981-02-03", "1", "H18", "愛知県豊田市小坂本町1丁目25番地")
    add(27, "SANTOS MATEUS", None, "2015-10-10", "1", "H18", "愛知県豊田市小坂本町1丁目25番地")
    add(28, "SANTOS MARIA", None, "1983-06-06", "2", "H18", "愛知県豊田市小坂本町1丁目25番地")
    add(29, "SANTOS MARIE", None, "2018-01-01", "2", "H18", "愛知県豊田市小坂本町1丁目25番地")
    # foreign residents for the reason codes with alphabet names: a father and daughter, two
    # men of one name, two women of one name and birth date, a deceased and a removed resident
    add(30, "GARCIA JOSE LUIS", None, "1978-03-12", "1", "H19", "埼玉県川口市本町4丁目1番1号")
    add(31, "GARCIA SOFIA", None, "2014-05-05", "2", "H19", "埼玉県川口市本町4丁目1番1号")
    add(32, "NGUYEN VAN AN", None, "1990-01-10", "1", "H20", "群馬県大泉町吉田2465番地")
    add(33, "NGUYEN VAN AN", None, "1993-11-02", "1", "H21", "三重県四日市市諏訪町1番5号")
    add(34, "KIM MINJI", None, "1995-04-04", "2", "H22", "東京都新宿区大久保1丁目1番1号")
    add(35, "KIM MINJI", None, "1995-04-04", "2", "H23", "大阪府大阪市生野区桃谷3丁目1番1号")
    add(36, "BROWN EMMA", None, "1950-02-02", "2", "H24", status="deceased")
    add(37, "WILSON JAMES", None, "1982-08-08", "1", "H25", status="removed")
    # a father and son of one name
    add(38, "ZHOU WEI", None, "1975-12-01", "1", "H26", "東京都江戸川区中央1丁目4番1号")
    add(39, "ZHOU WEI", None, "2005-02-14", "1", "H26", "東京都江戸川区中央1丁目4番1号")
    # a father, and a son registered without 振り仮名 whose kanji may also be read as the
    # father's given name (覚: サトル, サトシ, ...)
    add(40, "藤本 智", "フジモト サトシ", "1981-04-29", "1", "H27", "埼玉県さいたま市中央区上落合5丁目30番4号")
    add(41, "藤本 覚", None, "2012-07-27", "1", "H27", "埼玉県さいたま市中央区上落合5丁目30番4号")
    add(42, "佐野 智", "サノ サトシ", "1979-10-10", "1", "H28", "千葉県千葉市中央区千葉港1番1号")
    add(43, "佐野 覚", None, "2011-01-20", "1", "H28", "千葉県千葉市中央区千葉港1番1号")
    return r


@pytest.fixture(scope="module")
def outcome(spark, cfg, tmp_path_factory):
    root = tmp_path_factory.mktemp("reconcile")
    inp, out = root / "in", root / "out"
    r = _res()
    write_residents(inp, list(r.values()))
    bad_check = number(14)[:-1] + str((int(number(14)[-1]) + 1) % 10)
    bad_check_30 = number(30)[:-1] + str((int(number(30)[-1]) + 1) % 10)
    hi = [
        record_from(r[1], "HI01", name_kanji="ＹＡＭＡＤＡ"[:0] + "山田　太郎", address="千代田区丸の内１－２－３"),
        record_from(r[3], "HI02", individual_number=number(1)),             # child linked to father
        record_from(r[4], "HI03", individual_number=number(5)),             # twin A linked to twin B
        record_from(r[9], "HI04", individual_number=number(8)),             # same-name person picked
        record_from(r[6], "HI05"),                                          # deceased, still active
        record_from(r[7], "HI06"),                                          # removed, still active
        record_from(r[10], "HI07", name_kanji="高橋 陽子", name_kana="たかはし ようこ"),
        record_from(r[14], "HI08", individual_number=bad_check),            # check digit wrong
        record_from(r[2], "HI09", individual_number=number(99999)),         # unknown number
        record_from(r[2], "HI10", individual_number=None),                  # unlinked
        record_from(r[13], "HI11", name_kanji="john smith", name_kana="ｽﾐｽ ｼﾞｮﾝ"),
        record_from(r[10], "HI14", individual_number=None, name_kanji="髙橋陽子"),   # no space, variant kanji
        record_from(r[13], "HI15", individual_number=None, name_kanji="Smyth, John Paul", name_kana=None),
        record_from(r[10], "HI12", name_kana=None),                         # second active record
        {"record_id": "HI13", "individual_number": number(13), "name_kanji": "木村 拓也",
         "name_kana": "キムラ タクヤ", "birth_date": "1960-01-01", "sex": "1", "address": "沖縄県那覇市泉崎1丁目2番2号"},
        record_from(r[2], None),                                            # empty record id
        # the same reasons with alphabet names, written as holders write them
        record_from(r[31], "HA01", individual_number=number(30), name_kanji="Sofia Garcia"),  # daughter on father
        record_from(r[33], "HA02", individual_number=number(32), name_kanji="NGUYEN VAN AN"),  # same-name man
        record_from(r[36], "HA03", name_kanji="Emma Brown"),                                   # deceased
        record_from(r[37], "HA04"),                                                            # removed
        record_from(r[30], "HA05", individual_number=bad_check_30, name_kanji="GARCIA, Jose Luis"),
        record_from(r[31], "HA06", individual_number=number(99998)),                           # unknown number
        record_from(r[32], "HA07", individual_number=None, name_kanji="nguyen van an"),        # unlinked
        {"record_id": "HA08", "individual_number": number(8), "name_kanji": "MILLER DAVID",    # nobody's
         "name_kana": None, "birth_date": "1965-09-30", "sex": "1", "address": "沖縄県名護市港1丁目1番1号"},
    ]
    write_category(inp, "health_insurance", hi)
    write_category(inp, "intractable_disease", [record_from(r[2], "ID01"), record_from(r[2], "ID02"),
                                                record_from(r[1], "ID03", active=False), record_from(r[1], "ID04"),
                                                record_from(r[32], "ID05"), record_from(r[32], "ID06")])
    write_category(inp, "mynapoint", [record_from(r[11], "MP01"), record_from(r[8], "MP02"),
                                      record_from(r[11], "MP03", individual_number=number(1)),
                                      # long vowels written with ー, and day and month swapped
                                      record_from(r[25], "MP04", name_kana="イトー ヨーイチ", birth_date="1966-07-04"),
                                      # KIM MINJI, linked to a stranger: two residents of that name and birth date
                                      record_from(r[34], "MP05", individual_number=number(13))])
    write_category(inp, "school_health", [record_from(r[1], "SH01"), record_from(r[3], "SH02"),
                                          record_from(r[32], "SH03")])
    write_category(inp, "public_benefit_account", [
        record_from(r[3], "PB01", account_holder_kana="ﾔﾏﾀﾞ ﾀﾛｳ", account_key="0001-001-1-1234567"),
        record_from(r[1], "PB02", account_holder_kana="ﾔﾏﾀﾞ ﾀﾛｳ", account_key="0001-001-1-1234567"),
        record_from(r[2], "PB03", account_holder_kana="ﾔﾏﾀﾞ ﾊﾅｺ", account_key="0005-010-1-7654321"),
        record_from(r[4], "PB04", account_holder_kana="ｻﾄｳ ﾐｻｷ", account_key="0009-100-1-1111111"),
        # neither the register nor the record has the person's reading, but the holder is her mother
        record_from(r[14], "PB05", name_kana=None, account_holder_kana="ﾅｶﾑﾗ ﾕｳｺ", account_key="0009-100-1-2222222"),
        # the mother's account for the child: the given names are one kana apart (ユイ/ユキ)
        record_from(r[16], "PB06", account_holder_kana="ﾏﾂﾓﾄ ﾕｷ", account_key="0009-100-1-3333333"),
        # a typo in the holder's name that is nobody else's name: not an error
        record_from(r[15], "PB07", account_holder_kana="ﾅｶﾑﾗ ﾕｳｺﾞ", account_key="0009-100-1-4444444"),
        # alphabet names: the father's account for the son; the father's own account, name order swapped
        record_from(r[18], "PB08", account_holder_kana="SMITH JOHN", account_key="0009-100-1-5555555"),
        record_from(r[13], "PB09", account_holder_kana="JOHN SMITH", account_key="0009-100-1-6666666"),
        # the daughter's account in the mother's name, one kana from the daughter's (ハナコ/ハルコ)
        record_from(r[20], "PB10", name_kana="コジマ ハナコ", account_holder_kana="ｺｼﾞﾏ ﾊﾙｺ",
                    account_key="0009-100-1-7777777"),
        # foreign names in katakana: the holder writes family name first, or leaves out the
        # middle name; neither is an error ...
        record_from(r[21], "PB11", name_kanji="SUNGHO LEE", name_kana="ソンホ イ", account_holder_kana="ｲ ｿﾝﾎ",
                    account_key="0009-100-1-8888888"),
        record_from(r[22], "PB12", name_kanji="NGUYEN LINH", name_kana="グエン リン",
                    account_holder_kana="ｸﾞｴﾝ ｺﾞﾂｸ ﾘﾝ", account_key="0009-100-1-9999999"),
        # ... but the father's account for the son still is
        record_from(r[23], "PB13", name_kana="シルバ カルロス", account_holder_kana="ｼﾙﾊﾞ ﾙｶｽ",
                    account_key="0009-100-1-1212121"),
        # the holder's long vowels written with ｰ (イトウ ヨウイチ): the same name
        record_from(r[25], "PB14", account_holder_kana="ｲﾄｰ ﾖｰｲﾁ", account_key="0009-100-1-1313131"),
        # no readings: the son's account in the father's name, known by its sound (PEDRO HENRIQUE) ...
        record_from(r[27], "PB15", account_holder_kana="ｻﾝﾄｽ ﾍﾟﾄﾞﾛ ｴﾝﾘｹ", account_key="0009-100-1-1414141"),
        # ... the father's own account, family name last ...
        record_from(r[26], "PB16", account_holder_kana="ﾍﾟﾄﾞﾛ ｴﾝﾘｹ ｻﾝﾄｽ", account_key="0009-100-1-1515151"),
        # ... and the mother's, which sounds like her daughter's name too (MARIA/MARIE): not errors
        record_from(r[28], "PB17", account_holder_kana="ｻﾝﾄｽ ﾏﾘｱ", account_key="0009-100-1-1616161"),
        # one account, in the alphabet, for the father and his daughter
        record_from(r[30], "PB18", account_holder_kana="GARCIA JOSE LUIS", account_key="0009-100-1-1717171"),
        record_from(r[31], "PB19", account_holder_kana="GARCIA JOSE LUIS", account_key="0009-100-1-1717171"),
        # the son's own account, in the name he shares with his father: not an error
        record_from(r[39], "PB20", account_holder_kana="ZHOU WEI", account_key="0009-100-1-1818181"),
        # the son's record reads him サトル and the account is the father's (サトシ): the record's
        # reading, not the dictionary's other readings of 覚, says whom the holder names ...
        record_from(r[41], "PB21", name_kana="フジモト サトル", account_holder_kana="ﾌｼﾞﾓﾄ ｻﾄｼ",
                    account_key="0009-100-1-1919191"),
        # ... and where the record reads him サトシ, the holder names him as well: not flagged
        record_from(r[43], "PB22", name_kana="サノ サトシ", account_holder_kana="ｻﾉ ｻﾄｼ",
                    account_key="0009-100-1-2020202"),
    ])
    run_cfg = {**cfg, "run": {"reference_date": dt.date(2026, 11, 26)}}
    # the run's progress log, as an operator sees it
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda rec: lines.append(rec.getMessage())
    tenken_log = logging.getLogger("tenken")
    level = tenken_log.level
    tenken_log.addHandler(handler)
    tenken_log.setLevel(logging.INFO)
    try:
        summary = run(run_cfg, str(inp), str(out), "t1")
    finally:
        tenken_log.removeHandler(handler)
        tenken_log.setLevel(level)
    sus = {(row.category, row.record_id): row for row in
           spark.read.format("delta").load(str(out / "suspects")).where(F.col("run_id") == "t1").collect()}
    return {"summary": summary, "suspects": sus, "out": out, "inp": inp, "cfg": run_cfg, "r": r, "log": lines}


KEY = os.environ["TENKEN_TOKEN_KEY"].encode()   # set by conftest.py


def tok(i):
    return token_of(KEY, number(i))


def _reason(o, cat, rid):
    row = o["suspects"].get((cat, rid))
    return None if row is None else row.reason


def test_benign_variation_not_flagged(outcome):
    for rid in ("HI01", "HI11"):
        assert ("health_insurance", rid) not in outcome["suspects"], rid
    # variant kanji and a hiragana reading are not a mismatch (HI07 is flagged only as one
    # of two records that both match the person)
    assert outcome["suspects"][("health_insurance", "HI07")].reasons == ["DUPLICATE_LINK"]
    assert ("public_benefit_account", "PB03") not in outcome["suspects"]
    assert ("school_health", "SH02") not in outcome["suspects"]


def test_household_member_links(outcome):
    s = outcome["suspects"]
    child = s[("health_insurance", "HI02")]
    assert child.reason == "LINKED_TO_HOUSEHOLD_MEMBER"
    assert child.suggested_token == tok(3) and child.resident_token == tok(1)
    assert child.severity == "high" and child.suggested_score > child.score
    twin = s[("health_insurance", "HI03")]
    assert twin.reason == "LINKED_TO_HOUSEHOLD_MEMBER" and twin.suggested_token == tok(4)
    assert twin.evidence.linked_levels["name_kanji"] == "given_diff"
    assert twin.evidence.suggested_levels["name_kanji"] == "exact"


def test_same_name_person(outcome):
    row = outcome["suspects"][("health_insurance", "HI04")]
    assert row.reason == "LINKED_TO_OTHER_PERSON"
    assert row.suggested_token == tok(9)
    assert row.evidence.linked_levels["birth_date"] == "different"


def test_status_reasons(outcome):
    assert _reason(outcome, "health_insurance", "HI05") == "RESIDENT_DECEASED"
    assert _reason(outcome, "health_insurance", "HI06") == "RESIDENT_REMOVED"


def test_number_reasons_with_suggestions(outcome):
    s = outcome["suspects"]
    inv = s[("health_insurance", "HI08")]
    assert inv.reason == "INVALID_NUMBER" and inv.resident_token is None and inv.suggested_token == tok(14)
    unk = s[("health_insurance", "HI09")]
    assert unk.reason == "UNKNOWN_NUMBER" and unk.resident_token == tok(99999) and unk.suggested_token == tok(2)
    # names without a space, alphabet names with a typo and a middle name still find their person
    assert s[("health_insurance", "HI14")].suggested_token == tok(10)
    assert s[("health_insurance", "HI15")].suggested_token == tok(13)
    unl = s[("health_insurance", "HI10")]
    assert unl.reason == "UNLINKED_RECORD" and unl.resident_token is None and unl.suggested_token == tok(2)


def test_duplicate_and_mismatch(outcome):
    s = outcome["suspects"]
    assert s[("health_insurance", "HI12")].reasons == ["DUPLICATE_LINK"]
    assert "HI07" in s[("health_insurance", "HI12")].evidence.duplicate_records
    mm = s[("health_insurance", "HI13")]
    assert mm.reason == "ATTRIBUTE_MISMATCH" and mm.suggested_token is None and mm.score < 0.5
    # identical active records: both are flagged (the reviewer decides which stays);
    # an inactive older record does not make a duplicate
    assert _reason(outcome, "intractable_disease", "ID01") == "DUPLICATE_LINK"
    assert _reason(outcome, "intractable_disease", "ID02") == "DUPLICATE_LINK"
    assert ("intractable_disease", "ID04") not in s and ("intractable_disease", "ID03") not in s
    # the father's own record keeps its link; the child's record is the duplicate
    assert "DUPLICATE_LINK" in s[("health_insurance", "HI02")].reasons


def test_ambiguous_and_age(outcome):
    # 伊藤花 has a 同姓同名同生年月日 twin and mynapoint keeps only name and birth date: a link
    # to one of them verifies and is not flagged (flag_verified_ties: false) ...
    assert ("mynapoint", "MP01") not in outcome["suspects"]
    assert outcome["summary"]["figures"]["ambiguous_residents"] == 4   # 伊藤 花 and KIM MINJI twice each
    # ... but a record linked to somebody else whose best candidates are the twins is a tie
    assert _reason(outcome, "mynapoint", "MP03") == "AMBIGUOUS_IDENTITY"
    assert ("mynapoint", "MP02") not in outcome["suspects"]   # 同姓同名 but birth dates differ
    assert ("mynapoint", "MP04") not in outcome["suspects"]   # ー for ウ is not a second disagreement
    assert _reason(outcome, "school_health", "SH01") == "AGE_INELIGIBLE"


def test_accounts(outcome):
    s = outcome["suspects"]
    child = s[("public_benefit_account", "PB01")]
    assert child.reason == "ACCOUNT_HOLDER_MISMATCH"
    assert "SHARED_ACCOUNT" in child.reasons
    assert child.evidence.holder_in_household is True        # the father's account
    assert sorted(child.evidence.shared_account_records) == ["PB01", "PB02"]
    assert s[("public_benefit_account", "PB02")].reason == "SHARED_ACCOUNT"
    assert ("public_benefit_account", "PB04") not in s
    pb5 = s[("public_benefit_account", "PB05")]
    assert pb5.reason == "ACCOUNT_HOLDER_MISMATCH" and pb5.evidence.holder_in_household is True
    pb6 = s[("public_benefit_account", "PB06")]
    assert pb6.reason == "ACCOUNT_HOLDER_MISMATCH" and pb6.evidence.holder_in_household is True
    assert ("public_benefit_account", "PB07") not in s
    pb8 = s[("public_benefit_account", "PB08")]
    assert pb8.reason == "ACCOUNT_HOLDER_MISMATCH" and pb8.evidence.holder_in_household is True
    assert ("public_benefit_account", "PB09") not in s
    pb10 = s[("public_benefit_account", "PB10")]
    assert pb10.reason == "ACCOUNT_HOLDER_MISMATCH" and pb10.evidence.holder_in_household is True
    assert ("public_benefit_account", "PB11") not in s and ("public_benefit_account", "PB12") not in s
    pb13 = s[("public_benefit_account", "PB13")]
    assert pb13.reason == "ACCOUNT_HOLDER_MISMATCH" and pb13.evidence.holder_in_household is True
    assert ("public_benefit_account", "PB14") not in s
    pb15 = s[("public_benefit_account", "PB15")]
    assert pb15.reason == "ACCOUNT_HOLDER_MISMATCH" and pb15.evidence.holder_in_household is True
    assert ("public_benefit_account", "PB16") not in s and ("public_benefit_account", "PB17") not in s
    pb21 = s[("public_benefit_account", "PB21")]
    assert pb21.reason == "ACCOUNT_HOLDER_MISMATCH" and pb21.evidence.holder_in_household is True
    assert ("public_benefit_account", "PB22") not in s


def test_reason_codes_with_alphabet_names(outcome):
    """Each reason code that does not depend on the account holder's kana, for foreign
    residents registered in the alphabet (names written in another order and case)."""
    s = outcome["suspects"]
    hm = s[("health_insurance", "HA01")]
    assert hm.reason == "LINKED_TO_HOUSEHOLD_MEMBER" and hm.suggested_token == tok(31)
    assert hm.resident_token == tok(30) and hm.evidence.linked_levels["name_kanji"] == "given_diff"
    other = s[("health_insurance", "HA02")]
    assert other.reason == "LINKED_TO_OTHER_PERSON" and other.suggested_token == tok(33)
    assert other.evidence.linked_levels["birth_date"] == "different"
    assert _reason(outcome, "health_insurance", "HA03") == "RESIDENT_DECEASED"
    assert _reason(outcome, "health_insurance", "HA04") == "RESIDENT_REMOVED"
    inv = s[("health_insurance", "HA05")]
    assert inv.reason == "INVALID_NUMBER" and inv.resident_token is None and inv.suggested_token == tok(30)
    unk = s[("health_insurance", "HA06")]
    assert unk.reason == "UNKNOWN_NUMBER" and unk.suggested_token == tok(31)
    unl = s[("health_insurance", "HA07")]
    assert unl.reason == "UNLINKED_RECORD" and unl.resident_token is None and unl.suggested_token == tok(32)
    mm = s[("health_insurance", "HA08")]
    assert mm.reason == "ATTRIBUTE_MISMATCH" and mm.suggested_token is None
    assert mm.evidence.linked_levels["name_kanji"] == "different"
    for rid in ("ID05", "ID06"):
        assert _reason(outcome, "intractable_disease", rid) == "DUPLICATE_LINK"
    amb = s[("mynapoint", "MP05")]
    assert amb.reason == "AMBIGUOUS_IDENTITY" and amb.suggested_token is None
    assert _reason(outcome, "school_health", "SH03") == "AGE_INELIGIBLE"
    pb19 = s[("public_benefit_account", "PB19")]
    assert pb19.reason == "ACCOUNT_HOLDER_MISMATCH" and "SHARED_ACCOUNT" in pb19.reasons
    assert pb19.evidence.holder_in_household is True
    assert sorted(pb19.evidence.shared_account_records) == ["PB18", "PB19"]
    assert s[("public_benefit_account", "PB18")].reason == "SHARED_ACCOUNT"
    assert ("public_benefit_account", "PB20") not in s


def test_runs_row_and_conservation(outcome, spark):
    summ = outcome["summary"]
    hi = next(c for c in summ["categories"] if c["category"] == "health_insurance")
    assert hi["input_rows"] == 24 and hi["quarantined_rows"] == 1 and hi["checked_rows"] == 23
    runs = spark.read.format("delta").load(str(outcome["out"] / "runs")).where("run_id = 't1'").collect()
    assert len(runs) == 1 and runs[0].status == "published" and runs[0].suspects == len(outcome["suspects"])
    q = spark.read.format("delta").load(str(outcome["out"] / "quarantine")).where("run_id = 't1'")
    assert q.where("reason = 'empty_record_id'").count() == 1


def test_rerun_replaces_rows(outcome, spark):
    before = len(outcome["suspects"])
    run(outcome["cfg"], str(outcome["inp"]), str(outcome["out"]), "t1")
    sus = spark.read.format("delta").load(str(outcome["out"] / "suspects"))
    assert sus.where("run_id = 't1'").count() == before
    assert spark.read.format("delta").load(str(outcome["out"] / "runs")).where("run_id = 't1'").count() == 1


def test_no_full_number_in_outputs(outcome, spark):
    numbers = {v["individual_number"] for v in outcome["r"].values()} | {number(99999), number(99998)}
    out: Path = outcome["out"]
    # decoded: every row of every output table as JSON text
    for table in ("suspects", "runs", "quarantine"):
        text = "\n".join(spark.read.format("delta").load(str(out / table)).toJSON().collect())
        assert text, table
        for n in numbers:
            assert n not in text, f"{n} in {table}"
    # raw: every file under OUTPUT (logs, checkpoints, reports)
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for n in numbers:
                assert n.encode() not in data, f"{n} in {path}"
    assert KEY not in b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    # nor in the progress log
    log_text = "\n".join(outcome["log"])
    assert "stage publish: done" in log_text
    for n in numbers:
        assert n not in log_text
    assert KEY.decode() not in log_text


STAGES = ("read", "normalise", "input_gate", "model", "verify", "search", "classify", "stage_outputs", "output_gate",
          "publish")


def test_each_stage_logs_its_start_row_counts_and_duration(outcome):
    """Long runs show progress: one start line and one done line per stage, in order, the
    done line with the seconds and the stage's row counts (which agree with the runs row)."""
    lines = outcome["log"]
    summ = outcome["summary"]
    starts = [m.group(1) for m in map(re.compile(r"^stage (\w+): start$").match, lines) if m]
    assert starts == list(STAGES)
    done = {}
    for line in lines:
        m = re.match(r"^stage (\w+): done in (\d+\.\d) s(?:; (.*))?$", line)
        if m:
            done[m.group(1)] = (float(m.group(2)), dict(
                (k, int(v.replace(",", ""))) for k, v in
                (re.match(r"^(.*) ([\d,]+)$", part).groups() for part in (m.group(3) or "").split(", ") if part)))
    assert list(done) == list(STAGES)
    for name, (seconds, _) in done.items():
        assert abs(seconds - summ["stage_seconds"][name]) <= 0.051, name
    assert done["normalise"][1] == {"resident rows": summ["residents"], "records": summ["records"],
                                    "quarantined records": sum(c["quarantined_rows"] for c in summ["categories"])}
    assert done["read"][1] == {"categories": len(summ["categories"])}
    assert done["verify"][1]["records checked"] == sum(c["checked_rows"] for c in summ["categories"])
    fig = summ["figures"]
    assert done["search"][1] == {"doubtful records": fig["doubtful_records"], "candidate pairs": fig["candidate_pairs"],
                                 "largest block": fig["largest_block"]}
    assert done["search"][1]["doubtful records"] > 0
    for name in ("classify", "output_gate"):
        assert done[name][1]["suspects"] == summ["suspects"] == len(outcome["suspects"])
    assert done["publish"][1] == {"suspects": summ["suspects"], "quarantine rows": summ["quarantined"], "runs": 1}


def _row_keyed(df):
    """A hand-made frame of records or search results with the records' row key (`row_id`),
    the same for the same record id."""
    return df.withColumn("row_id", F.xxhash64("record_id"))


def test_verified_ties_flag(spark):
    """flag_verified_ties decides whether a verified link with an equally good other resident
    is flagged; a doubtful link whose two best candidates tie is AMBIGUOUS_IDENTITY either way."""
    from jobs.candidates import apply_candidates

    linked = spark.createDataFrame(
        [("c", "V1", [], False, False, 1, "H1", "exact"),
         ("c", "D1", ["ATTRIBUTE_MISMATCH"], True, False, 2, "H2", "different")],
        "category string, record_id string, reasons array<string>, doubtful boolean, unconfirmed boolean, "
        "r_num long, r_hh string, lv_address string")
    best = spark.createDataFrame(
        [("c", "V1", 0.99, True, 20.0, 20.0, None, None, "H9", "tv", "agree", "exact"),
         ("c", "D1", 0.99, True, -5.0, 20.0, 19.5, True, "H8", "td", "agree", "exact")],
        "category string, record_id string, s_score double, s_clean boolean, linked_w double, s_w double, "
        "second_w double, second_clean boolean, s_hh string, s_token string, "
        "s_name_judgement string, s_lv_address string")
    for flag, expect_v1 in ((False, []), (True, ["AMBIGUOUS_IDENTITY"])):
        got = {r.record_id: r for r in apply_candidates(_row_keyed(linked), _row_keyed(best).drop("category", "record_id"),
                                                        {"classify": {"flag_verified_ties": flag}}).collect()}
        assert got["V1"].reasons == expect_v1
        assert got["D1"].reasons == ["AMBIGUOUS_IDENTITY"] and got["D1"].s_token is None


def test_the_decision_table(spark):
    """`apply_candidates` decides by weight of evidence alone: a searched record (doubtful, or
    differing beyond notation on a name or birth date) whose best other candidate reaches
    accept_probability and beats the linked resident by min_margin_log2 (3 bits) is another
    person's (a household member's when the candidate shares the linked resident's household);
    a runner-up within tie_margin_log2 (1 bit) of it makes the record AMBIGUOUS_IDENTITY; a
    doubtful record with no such candidate keeps ATTRIBUTE_MISMATCH, an unconfirmed one no
    reason; an unlinked record takes the best candidate as a suggestion."""
    from jobs.candidates import apply_candidates

    # record id, doubtful, linked (r_num), s_score, linked_w, s_w, second_w, candidate's household
    cases = [
        ("BEATS", False, 1, 0.999, 25.0, 30.0, None, "H9"),        # better by 5 bits: another person
        ("HOUSEHOLD", False, 1, 0.999, 25.0, 30.0, None, "H1"),    # ... who lives with the linked one
        ("MARGIN", False, 1, 0.999, 25.0, 27.5, None, "H9"),       # better by 2.5 bits: not enough
        ("UNSURE", False, 1, 0.80, 10.0, 20.0, None, "H9"),        # candidate below accept_probability
        ("TIE", False, 1, 0.999, 25.0, 30.0, 29.5, "H9"),          # two others as good: ambiguous
        ("DOUBT_ONLY", True, 1, 0.999, 25.0, 26.0, None, "H9"),    # doubtful, nobody clearly better
        ("DOUBT_BEATS", True, 1, 0.999, 5.0, 30.0, 10.0, "H9"),    # doubtful, one clearly better
        ("DOUBT_TIE", True, 1, 0.999, 5.0, 30.0, 30.0, "H9"),      # doubtful, two alike
        ("UNLINKED", False, None, 0.999, None, 30.0, None, "H9"),  # no number: a suggestion
    ]
    linked = spark.createDataFrame(
        [("c", rid, ["ATTRIBUTE_MISMATCH"] if d else [], d, rnum is not None, rnum, "H1")
         for rid, d, rnum, *_ in cases],
        "category string, record_id string, reasons array<string>, doubtful boolean, unconfirmed boolean, "
        "r_num long, r_hh string")
    best = spark.createDataFrame(
        [("c", rid, sc, True, lw, sw, second, None, hh, "t-" + rid) for rid, _, _, sc, lw, sw, second, hh in cases],
        "category string, record_id string, s_score double, s_clean boolean, linked_w double, s_w double, "
        "second_w double, second_clean boolean, s_hh string, s_token string")
    linked, best = _row_keyed(linked), _row_keyed(best).drop("category", "record_id")
    got = {r.record_id: (r.reasons, r.s_token) for r in apply_candidates(linked, best, {"classify": {}}).collect()}
    assert got == {
        "BEATS": (["LINKED_TO_OTHER_PERSON"], "t-BEATS"),
        "HOUSEHOLD": (["LINKED_TO_HOUSEHOLD_MEMBER"], "t-HOUSEHOLD"),
        "MARGIN": ([], None),
        "UNSURE": ([], None),
        "TIE": (["AMBIGUOUS_IDENTITY"], None),
        "DOUBT_ONLY": (["ATTRIBUTE_MISMATCH"], None),
        "DOUBT_BEATS": (["LINKED_TO_OTHER_PERSON"], "t-DOUBT_BEATS"),
        "DOUBT_TIE": (["AMBIGUOUS_IDENTITY"], None),
        "UNLINKED": ([], "t-UNLINKED"),
    }, got
    # the margins are configuration: with min_margin_log2 2, MARGIN is another person's
    got = {r.record_id: r.reasons for r in apply_candidates(linked, best, {"classify": {"min_margin_log2": 2.0}}).collect()}
    assert got["MARGIN"] == ["LINKED_TO_OTHER_PERSON"]


def test_doubtful_and_unconfirmed_by_posterior_and_kind(spark, cfg):
    """A linked record is doubtful when its posterior is below decision.match_threshold, and
    unconfirmed (searched) when a name or birth date level is of kind differ."""
    from jobs.verify import doubtful_link, unconfirmed_link

    rows = [(1, 0.2, "exact", "exact", "exact"), (1, 0.99, "exact", "exact", "slip"),
            (1, 0.99, "part_missing", "missing", "exact"), (1, 0.99, "reordered", "reading", "exact"),
            (1, 0.99, "exact", "long_vowel", "missing"), (None, 0.0, "missing", "missing", "missing")]
    df = spark.createDataFrame(rows, "r_num long, score double, lv_name_kanji string, lv_name_kana string, "
                                     "lv_birth_date string")
    got = [(r.d, r.u) for r in df.select(doubtful_link(cfg["thresholds"]).alias("d"),
                                         unconfirmed_link(cfg["thresholds"]).alias("u")).collect()]
    assert got == [(True, False), (False, True), (False, True), (False, False), (False, False), (False, False)]


def test_unconfirmed_links_searched_by_the_name_passes_only(spark):
    """blocking.unconfirmed_passes: a link questioned only as unconfirmed is searched by the
    passes keyed on the whole name; a doubtful one by every pass."""
    from jobs.candidates import block_keys

    doubt = spark.createDataFrame(
        [(1, True, False, "1980-01-01", "山田太郎"), (2, False, True, "1980-01-01", "山田太郎")],
        "row_id long, doubtful boolean, unconfirmed boolean, bd string, nk string")
    cands = spark.createDataFrame([(1, "1980-01-01", "山田太郎"), (2, "1980-01-01", "佐藤花子")],
                                  "num long, bd string, nk string")
    passes = [{"name": "bd_only", "keys": ["bd"]}, {"name": "full_name_kanji", "keys": ["nk"]}]
    for only, expect_u in ((["full_name_kanji"], {"full_name_kanji"}), (None, {"bd_only", "full_name_kanji"})):
        blocking = {"passes": passes, **({"unconfirmed_passes": only} if only else {})}
        sized, _ = block_keys(doubt, cands, blocking)
        got = {}
        for r in sized.collect():
            got.setdefault({1: "D", 2: "U"}[r.row_id], set()).add(r["pass"])
        assert got == {"D": {"bd_only", "full_name_kanji"}, "U": expect_u}


def test_register_broadcast_or_shuffled_gives_the_same_links(spark, cfg):
    """`link_residents` joins each record to its resident by broadcasting a small register
    (run.broadcast_register_rows) or by a shuffle join: the plans differ, the rows do not,
    and a record whose number is not in the register keeps its row (left join)."""
    from jobs import verify

    residents = spark.createDataFrame(
        [(1, "tok1", "resident", dt.date(1980, 1, 2), "1", "H1", "13101", "山田太郎", "山田", "太郎"),
         (2, "tok2", "resident", dt.date(1985, 3, 4), "2", "H1", "13101", "山田花子", "山田", "花子")],
        "num long, token string, status string, birth_date date, sex string, household_id string, "
        "municipality_code string, nk string, nfam string, ngiv string")
    for c in verify.RESIDENT_COLS:
        if c not in residents.columns and c != "amb":
            kind = "array<string>" if c in ("rfam", "rgiv", "rfull", "atok") else (
                "boolean" if c == "alpha" else "string")
            residents = residents.withColumn(c, F.lit(None).cast(kind))
    records = spark.createDataFrame([("c", "R1", 1), ("c", "R2", 2), ("c", "R3", 3), ("c", "R4", None)],
                                    "category string, record_id string, num long")
    got = {}
    for broadcast in (True, False):
        joined = verify.link_residents(records, residents, broadcast)
        plan = joined._jdf.queryExecution().executedPlan().toString()
        if broadcast:
            assert "BroadcastHashJoin" in plan and "SortMergeJoin" not in plan
        got[broadcast] = sorted((r.record_id, r.r_num, r.r_nk) for r in joined.collect())
    assert got[True] == got[False] == [("R1", 1, "山田太郎"), ("R2", 2, "山田花子"), ("R3", None, None),
                                       ("R4", None, None)]


def test_term_frequencies_count_residents_sharing_a_value(spark):
    """`with_term_frequencies`: tf_<col> is how many residents share the value (null for a
    null value), the same whether the counts are broadcast or shuffle-joined."""
    from jobs.candidates import with_term_frequencies

    cands = spark.createDataFrame(
        [(1, "佐藤花子", "サトウハナコ", "1980-01-01"), (2, "佐藤花子", "サトウハナコ", "1990-02-02"),
         (3, "SMITHJOHN", None, "1980-01-01"), (4, "佐藤花子", "サトウハナコ", None)],
        "num long, nk string, kk string, bd string")
    blocking = {"classify": {"tf_adjust": ["name_kanji", "name_kana", "birth_date"]}}
    for broadcast in (True, False):
        got = {r.num: (r.tf_nk, r.tf_kk, r.tf_bd) for r in with_term_frequencies(cands, blocking, broadcast).collect()}
        assert got == {1: (3, 3, 2), 2: (3, 3, 1), 3: (1, None, 2), 4: (3, 3, None)}, broadcast


def test_ambiguous_residents_flagged_by_name_and_birth_date(spark):
    """`flag_ambiguous`: usable residents sharing the normalised name and birth date with
    another usable resident, the same with the groups broadcast or shuffle-joined."""
    from jobs.candidates import flag_ambiguous

    res = spark.createDataFrame(
        [(1, "伊藤花", dt.date(1999, 2, 2), True), (2, "伊藤花", dt.date(1999, 2, 2), True),
         (3, "伊藤花", dt.date(1999, 2, 3), True), (4, "KIMMINJI", dt.date(1995, 4, 4), True),
         (5, "KIMMINJI", dt.date(1995, 4, 4), False), (6, None, dt.date(1995, 4, 4), True),
         (7, None, dt.date(1995, 4, 4), True)],
        "num long, nk string, birth_date date, usable boolean")
    for broadcast in (True, False):
        got = {r.num: r.amb for r in flag_ambiguous(res, broadcast).collect()}
        assert got == {1: True, 2: True, 3: False, 4: False, 5: False, 6: False, 7: False}, broadcast
