"""Verify links: one join of the register with the union of all categories.

`link_residents` joins each record to the resident its number names (compact long key),
`compare_links` adds the field levels, weights and the identity judgement, and
`link_reasons` turns them into the contract's verification reasons.  All DataFrame ->
DataFrame, composable with `DataFrame.transform`.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs import compare as C
from jobs import features
from jobs import model as M
from jobs import normalise as N
from jobs.joins import broadcast_if_small

RESIDENT_COLS = ("num", "token", "status", "birth_date", "sex", "household_id", "municipality_code",
                 "nk", "nfam", "ngiv", "kk", "kfam", "kgiv", "ks", "rfam", "rgiv", "rfull", "alpha", "atok", "ak", "aa", "amb")


RESIDENT_KEPT = ("r_num", "r_status", "r_hh", "r_muni", "r_amb")
"""The resident columns needed after verification (search and classification); the others
only served the comparison and are dropped by `drop_compared`."""


RECORD_KEYS = features.RECORD_KEYS + ("account_key",)
"""The record's own comparison keys (`jobs.features.record_features`) and its account: after
verification only the records that are searched need them, and `with_record_keys` brings
them back."""


def drop_compared(df: DataFrame) -> DataFrame:
    """Drop the comparison keys of both sides (``r_nk``, ``r_rfull`` ..., ``nk``, ``rfull`` ...).

    The verified rows are checkpointed and carried through search and classification, and
    the keys (the reading arrays above all) are most of their width; only the ~2% of records
    that are searched need their own keys again (`with_record_keys`).  200k sample: the
    verification step's CPU 44 -> 39 core-s (mean of 5, one JVM)."""
    return df.drop(*[c for c in df.columns if (c.startswith("r_") and c not in RESIDENT_KEPT) or c in RECORD_KEYS])


MAX_BROADCAST_SEARCHED = 500_000
"""Searched records given their keys back by broadcast up to this many (2M-resident sample:
~250k of ~14M records); a national run's are a shuffle join."""


def with_record_keys(verdicts: DataFrame, records: DataFrame, broadcast: bool) -> DataFrame:
    """Give verified rows (`drop_compared`) their record's comparison keys back, joined on the
    records' ``row_id``.  ``broadcast``: the verified rows are few (the searched ones) and
    are sent to the records' tasks, so the records are not shuffled."""
    keys = records.select("row_id", *[c for c in RECORD_KEYS if c in records.columns])
    return keys.join(F.broadcast(verdicts) if broadcast else verdicts, "row_id")


def resident_side(residents: DataFrame, prefix: str = "r_") -> DataFrame:
    """The register's comparison columns with a prefix (``bd``/``sx`` named as on records)."""
    cols = []
    for c in RESIDENT_COLS:
        if c == "amb" and c not in residents.columns:
            cols.append(F.lit(False).alias(prefix + c))
            continue
        out = {"birth_date": "bd", "sex": "sx", "household_id": "hh", "municipality_code": "muni"}.get(c, c)
        cols.append(F.col(c).alias(prefix + out))
    return residents.select(*cols)


def link_residents(records: DataFrame, residents: DataFrame, broadcast: bool = False) -> DataFrame:
    """Left-join every record to the resident its number names (``r_*`` columns).

    ``broadcast``: the register's comparison columns are sent to every task (a register
    small enough for memory, `run.broadcast_register_rows`), so the records are neither
    shuffled nor sorted for the join."""
    side = resident_side(residents)
    side = F.broadcast(side) if broadcast else side
    return records.join(side, records["num"] == side["r_num"], "left")


def compare_links(df: DataFrame, thresholds: dict, model: M.Model | None = None) -> DataFrame:
    """Add ``lv_<field>`` levels, ``w_<field>`` weights, ``w_total``, ``score`` (the posterior
    probability that the record is its linked resident's, `jobs.model.posterior`) and
    ``name_judgement`` (a reviewer's summary of the two name levels) for the linked pair.

    ``model`` gives each category's m, the register's u and the category's prior
    (`jobs.model.learn`); without one, the configured parameters (`jobs.model.fixed_model`).
    The weights are plain columns: a map per record (built only for the suspects, in
    `jobs.classify.evidence`) cost a sixth of verification's CPU (200k sample: 45.5 against
    38.5 core-s), Spark checks every map it builds for duplicate keys."""
    model = model or M.fixed_model(thresholds)
    lv = C.levels("", "r_")
    out = df.select("*", *[v.alias(f"lv_{k}") for k, v in lv.items()], M.category_index(model).alias("__ci"))
    lvc = {k: F.col(f"lv_{k}") for k in lv}
    cat = F.col("__ci")
    # the raw weights first, as columns: the correlated fields' combination reads each twice,
    # and inlined it made the generated code too large to compile
    out = out.select("*", *[M.weight_column(model, k, lvc[k], cat).alias(f"w_{k}") for k in lvc])
    weights = M.adjust_correlated({k: F.col(f"w_{k}") for k in lvc})
    total = F.lit(0.0)
    for w in weights.values():
        total = total + w
    return out.select(
        *[c for c in out.columns if not c.startswith("w_") and c != "__ci"],
        *[w.alias(f"w_{k}") for k, w in weights.items()],
        total.alias("w_total"),
        C.name_judgement(lvc["name_kanji"], lvc["name_kana"]).alias("name_judgement"),
        M.prior_column(model, cat).alias("__prior"),
    ).withColumn("score", F.when(F.col("r_num").isNotNull(), M.posterior(F.col("w_total"), F.col("__prior")))
                 .otherwise(F.lit(0.0))).drop("__prior")


def doubtful_link(thresholds: dict) -> Column:
    """True when the posterior that the record is its linked resident's is below
    ``decision.match_threshold``: searched, and ATTRIBUTE_MISMATCH if no better candidate."""
    return F.col("r_num").isNotNull() & (F.col("score") < F.lit(float(thresholds["decision"]["match_threshold"])))


def unconfirmed_link(thresholds: dict) -> Column:
    """True when the link is probably right but a name or birth date disagrees beyond
    notation (``decision.search_fields``): the record is searched, and flagged only when a
    clearly better candidate turns up (a twin, a parent linked for a child); otherwise the
    difference is a correction for its holder, not a wrong link."""
    return F.col("r_num").isNotNull() & C.differs(thresholds["decision"]["search_fields"])


def age_at(birth: Column, reference: Column) -> Column:
    """Whole years between a birth date and the reference date."""
    return F.floor(F.months_between(reference, birth) / 12).cast("int")


MAX_BROADCAST_GROUPS = 200_000   # duplicate-link groups joined by broadcast up to this many


def duplicate_links(records: DataFrame, residents: DataFrame, categories: dict, thresholds: dict,
                    model: M.Model | None = None) -> DataFrame:
    """``category``, ``record_id``, ``is_dup``, ``dup_records`` for each record in a group of
    several active records of one person in a one-active category (conf/categories.yaml).

    A record of such a group is a duplicate link unless it is the one clean match among
    the group (identical records are all flagged: the reviewer needs every record of the
    group to decide which one stays); ``dup_records`` lists the group's record ids.

    The groups are found by a narrow count of the records (no per-group lists: almost
    every group has one record), and only their members are compared with the resident,
    so the wide linked rows are never sorted for it (a window over every record cost more
    than the rest of verification).  Few records are in a group: the members are then
    broadcast to the register (which is scanned, not shuffled), and the result is marked
    for a broadcast join."""
    one_active = [c for c, s in categories.items() if s.get("one_active")]
    in_scope = records.where(F.col("category").isin(one_active) & F.col("active") & F.col("num").isNotNull())
    groups = (in_scope.groupBy("category", "num").agg(F.count(F.lit(1)).alias("__n"))
              .where(F.col("__n") > 1).drop("__n"))
    groups, small = broadcast_if_small(groups, MAX_BROADCAST_GROUPS)
    members = in_scope.join(groups, ["category", "num"], "left_semi")
    side = resident_side(residents)
    judged = ((F.broadcast(members) if small else members)
              .join(side, F.col("num") == F.col("r_num"))
              .transform(compare_links, thresholds, model)
              .select("category", "num", "record_id", doubtful_link(thresholds).alias("__d")))
    group = Window.partitionBy("category", "num")
    n_clean = F.sum(F.when(~F.col("__d"), 1).otherwise(0)).over(group)
    dups = judged.select("category", "record_id", (F.col("__d") | (n_clean > 1)).alias("is_dup"),
                         F.sort_array(F.collect_set("record_id").over(group)).alias("dup_records"))
    return F.broadcast(dups) if small else dups


def link_reasons(df: DataFrame, categories: dict, thresholds: dict, reference: Column,
                 duplicates: DataFrame | None = None) -> DataFrame:
    """Add ``doubtful``, ``unconfirmed``, ``age``, ``is_dup``, ``dup_records`` and ``reasons``
    (array of verification reason codes).

    ``duplicates`` comes from `duplicate_links` (no duplicate links when it is None).  The
    reasons here need only the linked resident; candidate search adds the other-person
    reasons for the doubtful rows later.
    """
    min_age = F.lit(None).cast("int")
    max_age = F.lit(None).cast("int")
    for cid, spec in categories.items():
        if spec.get("min_age") is not None:
            min_age = F.when(F.col("category") == cid, F.lit(int(spec["min_age"]))).otherwise(min_age)
        if spec.get("max_age") is not None:
            max_age = F.when(F.col("category") == cid, F.lit(int(spec["max_age"]))).otherwise(max_age)
    age = age_at(F.col("r_bd"), reference)
    found = F.col("r_num").isNotNull()
    active = F.col("active")
    state = F.col("number_state")

    if duplicates is not None:
        dup = duplicates.select(F.col("category").alias("__dc"), F.col("record_id").alias("__dr"),
                                F.col("is_dup").alias("__dup"), F.col("dup_records").alias("__dups"))
        df = (df.join(dup, (F.col("category") == F.col("__dc")) & (F.col("record_id") == F.col("__dr")), "left")
              .drop("__dc", "__dr"))
    else:
        df = df.select("*", F.lit(None).cast("boolean").alias("__dup"), F.lit(None).cast("array<string>").alias("__dups"))
    df = df.select("*", doubtful_link(thresholds).alias("doubtful"))
    out = df.select(
        *[c for c in df.columns if c not in ("__dup", "__dups")],
        unconfirmed_link(thresholds).alias("unconfirmed"),
        age.alias("age"),
        F.coalesce(F.col("__dup"), F.lit(False)).alias("is_dup"),
        F.col("__dups").alias("dup_records"),
    )
    age_bad = found & active & (
        (min_age.isNotNull() & (F.col("age") < min_age)) | (max_age.isNotNull() & (F.col("age") > max_age))
    )
    cands = [
        (state == "absent", "UNLINKED_RECORD"),
        (state.isin("malformed", "check_digit"), "INVALID_NUMBER"),
        ((state == "ok") & ~found, "UNKNOWN_NUMBER"),
        (found & active & (F.col("r_status") == "deceased"), "RESIDENT_DECEASED"),
        (found & active & (F.col("r_status") == "removed"), "RESIDENT_REMOVED"),
        (F.col("doubtful"), "ATTRIBUTE_MISMATCH"),
        (F.col("is_dup"), "DUPLICATE_LINK"),
        (age_bad, "AGE_INELIGIBLE"),
    ]
    reasons = F.filter(F.array(*[F.when(cond, F.lit(code)) for cond, code in cands]), lambda x: x.isNotNull())
    return out.withColumn("reasons", reasons)


SOUND_MARK = "~"
"""Marks a sound key among the reading keys of `household_readings` (no reading has it)."""
ALPHA_MARK = "@"
"""Marks an alphabet name's tokens among the reading keys of `household_readings`."""


def alpha_key(tokens: Column) -> Column:
    """A household-member key of an alphabet name: its sorted tokens (`jobs.normalise.alpha_tokens`),
    marked with a leading ``@`` (`ALPHA_MARK`), so that a holder GARCIA JOSE LUIS meets the
    member registered as GARCIA JOSE LUIS or JOSE LUIS GARCIA; null without tokens."""
    return F.when(F.size(tokens) > 0, F.concat(F.lit(ALPHA_MARK), F.array_join(tokens, " ")))


def household_readings(residents: DataFrame, households: DataFrame) -> DataFrame:
    """``m_hh``, ``m_num``, ``m_kk``: each name key of each member of the given households.

    A member's keys are the registered reading, or else the dictionary's full readings of the
    kanji (a mother 小島 理沙 registered without 振り仮名 still reads コジマリサ), and for a name
    registered in the alphabet its tokens (`alpha_key`, what a holder in the alphabet gives)
    and its sound key, marked with a leading ``~`` (`SOUND_MARK`; SILVA LUCAS PEDRO with no
    reading is ``~BT KS SB``, what the holder ｼﾙﾊﾞ ﾙｶｽ ﾍﾟﾄﾞﾛ gives).
    Only the households asked for are expanded (those of account records)."""
    wanted = households.where(F.col("household_id").isNotNull()).distinct()
    readings = F.coalesce(F.when(F.col("kk").isNotNull(), F.array("kk")), F.col("rfull"),
                          F.array().cast("array<string>"))
    sound = F.col("asnd") if "asnd" in residents.columns else F.lit(None).cast("string")
    member_keys = F.filter(F.concat(readings, F.array(F.concat(F.lit(SOUND_MARK), sound),
                                                      alpha_key(F.col("atok")))),
                           lambda k: k.isNotNull())
    return (residents.join(wanted, "household_id", "left_semi")
            .select(F.col("household_id").alias("m_hh"), F.col("num").alias("m_num"),
                    F.explode(member_keys).alias("m_kk")))


def account_reasons(df: DataFrame, residents: DataFrame, records: DataFrame | None = None) -> DataFrame:
    """SHARED_ACCOUNT and ACCOUNT_HOLDER_MISMATCH for records that carry an account.

    The holder kana (bank style) is compared with the linked resident's reading, or the
    record's own reading when the register has none.  When neither has a reading, a holder
    whose name is another member of the person's household (a parent's account registered
    for a child) is still a mismatch; so is a holder in katakana whose sound key is another
    member's alphabet name (`household_readings`) when the person has no reading.  Adds
    ``holder_in_household`` to mismatches: whether the holder names another member of the
    person's household.  Shared accounts are found by an aggregate over the account rows
    only (not a window over every record).

    ``records`` are the records before they met their resident (``df`` without the ``r_*``
    columns; default ``df``): the aggregates read them, so that the join and comparison
    behind ``df`` are not computed again for each aggregate.
    """
    records = df if records is None else records
    has_acct = F.col("account_key").isNotNull() & F.col("active")
    # an account is shared when its records name more than one number: found with min/max
    # (a plain hash aggregate), and only the shared ones (few) are listed
    accounts = records.where(has_acct)
    several = (accounts.groupBy("account_key")
               .agg(F.min("num").alias("__lo"), F.max("num").alias("__hi"))
               .where(F.col("__lo") != F.col("__hi"))
               .select("account_key"))
    shared = (
        accounts.join(F.broadcast(several), "account_key", "left_semi")
        .groupBy("account_key")
        .agg(F.size(F.collect_set("num")).alias("acct_people"),
             F.sort_array(F.collect_set("record_id")).alias("acct_records"))
        .where(F.col("acct_people") > 1)
    )
    # few accounts are shared: broadcast, so the linked records are not shuffled for it
    df = df.join(F.broadcast(shared), "account_key", "left")

    # which members of the person's household the holder names: by reading, by the alphabet
    # tokens (a holder in the alphabet), or (a holder in katakana, a family registered in the
    # alphabet only) by sound key
    homes = residents.select(F.col("num").alias("__hnum"), F.col("household_id").alias("r_hh"))
    hsnd = F.col("hsnd") if "hsnd" in records.columns else F.lit(None).cast("string")
    hatok = F.col("hatok") if "hatok" in records.columns else F.lit(None).cast("array<string>")
    acct = (records.where(has_acct & F.col("hk").isNotNull() & F.col("num").isNotNull())
            .select("category", "record_id", "num",
                    F.filter(F.array("hk", F.concat(F.lit(SOUND_MARK), hsnd), alpha_key(hatok)),
                             lambda k: k.isNotNull()).alias("__hkeys"))
            .join(homes, F.col("num") == F.col("__hnum"))
            .where(F.col("r_hh").isNotNull())
            .select("category", "record_id", "r_hh", "num", F.explode("__hkeys").alias("__hkey")))
    members = household_readings(residents, acct.select(F.col("r_hh").alias("household_id")))
    by_sound = F.col("__hkey").startswith(SOUND_MARK)
    is_self = F.col("num") == F.col("m_num")
    other = (acct.join(members, (F.col("r_hh") == F.col("m_hh")) & (F.col("__hkey") == F.col("m_kk")))
             .groupBy("category", "record_id")
             .agg(F.max(~by_sound & ~is_self).alias("holder_other_member"),
                  F.max(~by_sound & is_self).alias("__self_named"),
                  F.max(by_sound & ~is_self).alias("__other_sound"),
                  F.max(by_sound & is_self).alias("__self_sound")))
    df = df.join(F.broadcast(other), ["category", "record_id"], "left")

    person_kana = F.coalesce(F.col("r_kk"), F.col("kk"))
    person_fam = F.coalesce(F.col("r_kfam"), F.col("kfam"))
    person_giv = F.coalesce(F.col("r_kgiv"), F.col("kgiv"))
    person_ks = F.coalesce(F.col("r_ks"), F.col("ks"))
    holder_ok = (
        (F.col("hk") == person_kana)
        | ((F.levenshtein(F.col("hk"), person_kana) <= 1) & (F.length(person_kana) >= 4))
        | ((F.col("hgiv") == person_giv) & (F.col("hfam") != person_fam))  # account in a former name
        # a foreign resident's name in katakana: family and given name in either order, or
        # a middle name left out (ｲ ｿﾝﾎ for LEE SUNGHO, ｸﾞｴﾝ ｺﾞﾂｸ ﾘﾝ for NGUYEN LINH)
        | F.coalesce((F.col("r_alpha") | F.col("alpha"))
                     & (C.foreign_kana_agree(F.col("hfam"), F.col("hgiv"), person_fam, person_giv)
                        | (F.col("hks") == person_ks)), F.lit(False))
        # long vowels spelt otherwise (ｲﾄｰ ﾘﾖｰ for イトウ リョウ): the same reading
        | (N.kana_short(F.col("hk")) == N.kana_short(person_kana))
    )
    # alphabet holder names: the same tokens in any order, one typo, or a middle name dropped
    person_atok = F.coalesce(F.col("r_atok"), F.col("atok"))
    alpha_ok = ((F.levenshtein(F.array_join(hatok, " "), F.array_join(person_atok, " ")) <= 2)
                | ((F.size(hatok) >= 2) & F.forall(hatok, lambda t: F.array_contains(person_atok, t)))
                | ((F.size(person_atok) >= 2) & F.forall(person_atok, lambda t: F.array_contains(hatok, t))))
    alpha_holder = hatok.isNotNull()
    # the holder is, exactly, another member of the person's household (a parent's account
    # registered for a child): a mismatch even when the names are one kana apart (ユイ/ユキ);
    # not when it names the person as well (a mother and daughter of one name).  Whether it
    # names the person is judged on the person's reading when there is one: the register's,
    # else the record's own (a child 覚 registered without a reading, written サトル by the
    # holder, on the account of the father サトシ); the dictionary's readings of the kanji
    # (覚 may also read サトシ) stand in only where neither gives one
    self_named = F.when(F.col("r_kk").isNull() & F.col("kk").isNotNull() & ~alpha_holder, F.lit(False)
                        ).otherwise(F.coalesce(F.col("__self_named"), F.lit(False)))
    other_member = (F.coalesce(F.col("holder_other_member"), F.lit(False))
                    & ~self_named
                    & F.coalesce(F.col("hk") != person_kana, F.lit(True)))
    # by sound key only where the person has no reading to compare the holder with, and the
    # holder does not sound like the person too
    sounds_other = (F.coalesce(F.col("__other_sound"), F.lit(False)) & ~F.coalesce(F.col("__self_sound"), F.lit(False)))
    mismatch = has_acct & F.col("hk").isNotNull() & (
        (~alpha_holder & person_kana.isNotNull() & ~holder_ok)
        | (alpha_holder & person_atok.isNotNull() & ~F.coalesce(alpha_ok, F.lit(False)))
        | other_member
        | (sounds_other & person_kana.isNull() & ~alpha_holder))
    extra = F.filter(F.array(
        F.when(mismatch, F.lit("ACCOUNT_HOLDER_MISMATCH")),
        F.when(F.col("acct_people").isNotNull(), F.lit("SHARED_ACCOUNT")),
    ), lambda x: x.isNotNull())
    return (df.withColumn("reasons", F.concat(F.col("reasons"), extra))
            .withColumn("holder_in_household",
                        F.when(mismatch, F.coalesce(F.col("holder_other_member"), F.lit(False)) | sounds_other))
            .drop("holder_other_member", "__self_named", "__other_sound", "__self_sound"))
