"""Field- and row-level checks: parse raw text into typed columns, and say what was wrong.

Each function here is DataFrame -> DataFrame.  A bad field is nulled (the record is still
reconciled) and listed in the ``problems`` column as ``struct(column, reason, action)``;
a row that cannot be used at all gets ``usable = false``.  `quarantine_rows` turns the
problems into rows of the quarantine table, so every input row is accounted for.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.joins import broadcast_if_small
from jobs.tokens import check_digit_ok, well_formed

TEXT_COLUMNS = ("name_kanji", "name_kana", "address", "account_holder_kana", "account_key",
                "household_id", "municipality_code")
MAX_TEXT = 200
MAX_BROADCAST_REPEATS = 200_000   # repeated record ids joined back by broadcast up to this many
CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
MIN_BIRTH = "1880-01-01"
FW_DIGITS = "０１２３４５６７８９"
_PROBLEM = "struct<column:string,reason:string,action:string>"
_FIELD_STAGING = "__f_"   # prefix of `_with_field_checks`' columns


def _problem(cond: Column, column: str, reason: str, action: str) -> Column:
    return F.when(cond, F.struct(F.lit(column).alias("column"), F.lit(reason).alias("reason"),
                                 F.lit(action).alias("action")))


def _problem_list(*problems: Column) -> Column:
    """The problems that apply, as ``array<struct<column, reason, action>>``.

    Problems are rare: the array is only built for a row that has one (the test is a
    cheap OR of the conditions); other rows get the empty array."""
    any_problem = F.lit(False)
    for p in problems:
        any_problem = any_problem | p.isNotNull()
    return F.when(any_problem, F.filter(F.array(*problems).cast(f"array<{_PROBLEM}>"), lambda p: p.isNotNull())
                  ).otherwise(F.array().cast(f"array<{_PROBLEM}>"))


def _blank_to_null(c: Column) -> Column:
    return F.when(F.trim(c) == "", F.lit(None)).otherwise(c)


def _with_number_checks(df: DataFrame) -> DataFrame:
    """Fold the raw number once (``__numf``), then test it once (``__wf``, ``__cd``).

    Two projections on purpose: Spark does not merge a projection into the next when that
    would repeat a costly expression, so the fold and the tests each run once per row
    (inlined, the fold was evaluated a dozen times and cost more than the rest of cleaning).
    """
    raw = F.col("individual_number")
    # full-width digits and spaces folded; a spreadsheet's leading apostrophe ('123456789018,
    # the way a sheet keeps a number as text) dropped; separators and spaces anywhere dropped
    wide = F.translate(raw, FW_DIGITS + "＇\u3000\u00a0", "0123456789'  ")
    folded = F.regexp_replace(F.regexp_replace(wide, r"^\s*'", ""), r"[\s\-－ー‐―]", "")
    staged = df.withColumn("__numf", _blank_to_null(folded))
    return staged.withColumn("__wf", well_formed("__numf")).withColumn("__cd", check_digit_ok("__numf"))


def _number_problems(df: DataFrame) -> tuple[Column, list[Column]]:
    """The folded number and its problems; ``df`` comes from `_with_number_checks`."""
    raw, folded, wf = F.col("individual_number"), F.col("__numf"), F.col("__wf")
    # folding changes nothing in 12 plain digits, so a well-formed fold of a different raw
    # value had a leading apostrophe, spaces around it, full-width digits or separators
    changed = wf & (raw != folded)
    apostrophe = changed & raw.rlike(r"^[\s\u3000\u00a0]*['＇]")
    spaces = changed & ~apostrophe & (F.trim(F.regexp_replace(raw, r"[\s\u3000\u00a0]+", " ")) == folded)
    problems = [
        _problem(apostrophe, "individual_number", "leading_apostrophe", "folded"),
        _problem(spaces, "individual_number", "surrounding_spaces", "folded"),
        _problem(changed & ~apostrophe & ~spaces, "individual_number", "full_width_or_separated_digits", "folded"),
        _problem(folded.isNotNull() & ~wf, "individual_number", "malformed_number", "flagged"),
        _problem(wf & ~F.col("__cd"), "individual_number", "check_digit_wrong", "flagged"),
    ]
    return folded, problems


def _with_field_checks(df: DataFrame, today: Column) -> DataFrame:
    """Trim, parse and test each basic field once per row, as staged columns.

    ``__f_t_<text column>``: the trimmed value (blank -> null) and ``__f_bad_<text column>``:
    1 for control characters, 2 for too long, 0 for fine; ``__f_rbd`` / ``__f_bd`` the
    trimmed and parsed birth date, ``__f_bdx`` 1 unparseable, 2 impossible, 0 fine;
    ``__f_sex`` the folded code.  `_common_fields` only reads these columns, so no regular
    expression or date parse runs twice (Spark inlines a projection into the next, repeating
    each test in every condition that names it).
    """
    staged = []
    for name in TEXT_COLUMNS:
        if name not in df.columns:
            continue
        c = _blank_to_null(F.trim(F.col(name)))
        staged.append(c.alias(f"__f_t_{name}"))
    raw_bd = _blank_to_null(F.trim(F.col("birth_date")))
    staged += [raw_bd.alias("__f_rbd"),
               _blank_to_null(F.trim(F.translate(F.col("sex"), "１２", "12"))).alias("__f_sex")]
    df = df.select("*", *staged)
    checks = []
    for name in TEXT_COLUMNS:
        if name not in df.columns:
            continue
        c = F.col(f"__f_t_{name}")
        checks.append(F.when(c.rlike(CONTROL), 1).when(F.length(c) > MAX_TEXT, 2).otherwise(0).alias(f"__f_bad_{name}"))
    checks.append(F.try_to_date(F.col("__f_rbd"), "yyyy-MM-dd").alias("__f_bd"))
    df = df.select("*", *checks)
    bd = F.col("__f_bd")
    impossible = bd.isNotNull() & ((bd > today) | (bd < F.lit(MIN_BIRTH).cast("date")))
    return df.withColumn("__f_bdx", F.when(F.col("__f_rbd").isNotNull() & bd.isNull(), 1)
                         .when(impossible, 2).otherwise(0))


def _common_fields(df: DataFrame) -> tuple[dict[str, Column], list[Column]]:
    """Typed basic items and their problems (shared by residents and records); ``df``
    comes from `_with_field_checks`."""
    out: dict[str, Column] = {}
    problems: list[Column] = []
    for name in TEXT_COLUMNS:
        if name not in df.columns:
            continue
        c, bad = F.col(f"__f_t_{name}"), F.col(f"__f_bad_{name}")
        problems += [_problem(bad == 1, name, "control_characters", "nulled"),
                     _problem(bad == 2, name, "too_long", "nulled")]
        out[name] = F.when(bad == 0, c)

    problems += [_problem(F.col("__f_bdx") == 1, "birth_date", "unparseable_date", "nulled"),
                 _problem(F.col("__f_bdx") == 2, "birth_date", "impossible_birth_date", "nulled")]
    out["birth_date"] = F.when(F.col("__f_bdx") != 2, F.col("__f_bd"))

    sex = F.col("__f_sex")
    bad_sex = sex.isNotNull() & ~sex.isin("1", "2")
    problems.append(_problem(bad_sex, "sex", "unknown_sex_code", "nulled"))
    out["sex"] = F.when(bad_sex, F.lit(None)).otherwise(sex)
    return out, problems


def _finish(df: DataFrame, typed: dict[str, Column], problems: list[Column], extra: list[str]) -> DataFrame:
    arr = _problem_list(*problems)
    keep = [c for c in df.columns if c not in typed and not c.startswith(_FIELD_STAGING)] + extra
    return df.select(*[F.col(c) for c in keep], *[v.alias(k) for k, v in typed.items()],
                     arr.alias("problems"))


def clean_residents(df: DataFrame, today: Column) -> DataFrame:
    """Typed resident rows with ``num`` (long key) and ``problems``; ``usable`` false when the
    number is not a valid My Number or repeats an earlier row's."""
    df = _with_number_checks(df)
    folded, num_problems = _number_problems(df)
    df = _with_field_checks(df, today)
    typed, problems = _common_fields(df)
    typed["individual_number"] = folded
    sd = F.try_to_date(_blank_to_null(F.trim(F.col("status_date"))), "yyyy-MM-dd")
    problems.append(_problem(_blank_to_null(F.col("status_date")).isNotNull() & sd.isNull(),
                             "status_date", "unparseable_date", "nulled"))
    typed["status_date"] = sd
    status = F.lower(F.trim(F.col("status")))
    bad_status = status.isNull() | ~status.isin("resident", "deceased", "removed")
    problems.append(_problem(bad_status, "status", "unknown_status", "nulled"))
    typed["status"] = F.when(bad_status, F.lit(None)).otherwise(status)
    cleaned = _finish(df, typed, num_problems + problems, [])
    # __cd implies 12 plain digits: the number is its own compact key (`number_key`)
    cleaned = (cleaned.withColumn("num", F.when(F.col("__cd"), F.col("individual_number").cast("long")))
               .drop("__numf", "__wf", "__cd"))
    # one row per number: a repeated number keeps its resident row (else the first) and
    # quarantines the others
    w = Window.partitionBy("num").orderBy(F.when(F.col("status") == "resident", 0).otherwise(1),
                                          F.col("name_kanji").asc_nulls_last())
    rank = F.when(F.col("num").isNotNull(), F.row_number().over(w))
    cleaned = cleaned.withColumn("__rank", rank)
    dup = F.col("__rank") > 1
    unusable = F.col("num").isNull()
    extra = _problem_list(
        _problem(unusable, "individual_number", "resident_without_valid_number", "row_quarantined"),
        _problem(dup, "individual_number", "duplicate_resident_number", "row_quarantined"),
    )
    return (
        cleaned.withColumn("problems", F.concat(F.col("problems"), extra))
        .withColumn("usable", ~(unusable | F.coalesce(dup, F.lit(False))))
        .drop("__rank")
    )


def clean_records(df: DataFrame, today: Column) -> DataFrame:
    """Typed category records with ``num``, ``number_state`` and ``problems``.

    ``number_state`` is ``absent``, ``malformed``, ``check_digit`` or ``ok``.  Rows with an
    empty record id, or whose record id repeats within the category, are not usable.
    """
    df = _with_number_checks(df)
    folded, num_problems = _number_problems(df)
    df = _with_field_checks(df, today)
    typed, problems = _common_fields(df)
    typed["individual_number"] = folded
    raw_active = F.lower(F.trim(F.col("active")))
    active = (F.when(raw_active.isin("true", "t", "1", "yes", "y"), True)
              .when(raw_active.isin("false", "f", "0", "no", "n"), False))
    problems.append(_problem(raw_active.isNotNull() & (raw_active != "") & active.isNull(), "active",
                             "unparseable_boolean", "defaulted_true"))
    typed["active"] = F.coalesce(active, F.lit(True))
    typed["record_id"] = _blank_to_null(F.trim(F.col("record_id")))
    cleaned = _finish(df, typed, num_problems + problems, [])
    state = (F.when(F.col("individual_number").isNull(), "absent")
             .when(~F.col("__wf"), "malformed")
             .when(~F.col("__cd"), "check_digit")
             .otherwise("ok"))
    # repeated record ids: counted in a narrow aggregate (the wide rows are not shuffled for
    # it); the repeated ones are few, so joining them back is usually a broadcast
    repeated = (cleaned.where(F.col("record_id").isNotNull()).groupBy("category", "record_id")
                .agg(F.count(F.lit(1)).alias("__n")).where(F.col("__n") > 1)
                .select(F.col("category").alias("__rc"), F.col("record_id").alias("__rid"), F.lit(True).alias("__rep")))
    repeated, _ = broadcast_if_small(repeated, MAX_BROADCAST_REPEATS)   # usually: the wide rows stay put
    cleaned = cleaned.join(repeated, (F.col("category") == F.col("__rc")) & (F.col("record_id") == F.col("__rid")),
                           "left").drop("__rc", "__rid")
    dup = F.coalesce(F.col("__rep"), F.lit(False))
    no_id = F.col("record_id").isNull()
    extra = _problem_list(
        _problem(no_id, "record_id", "empty_record_id", "row_quarantined"),
        _problem(dup, "record_id", "duplicate_record_id", "row_quarantined"),
    )
    return (
        cleaned.withColumn("number_state", state)
        .withColumn("num", F.when(F.col("number_state") == "ok", F.col("individual_number").cast("long")))
        .withColumn("problems", F.concat(F.col("problems"), extra))
        .withColumn("usable", ~(no_id | dup))
        .drop("__numf", "__wf", "__cd", "__rep")
    )


def quarantine_rows(df: DataFrame, source: str) -> DataFrame:
    """One quarantine row per problem: source, category, record_id, column, reason, action.

    No raw values are carried (they may hold individual numbers)."""
    category = F.col("category") if "category" in df.columns else F.lit(None).cast("string")
    record_id = F.col("record_id") if "record_id" in df.columns else F.lit(None).cast("string")
    token = F.col("resident_token") if "resident_token" in df.columns else F.lit(None).cast("string")
    return (
        df.where(F.size("problems") > 0)
        .select(F.lit(source).alias("source"), category.alias("category"), record_id.alias("record_id"),
                token.alias("resident_token"), F.explode("problems").alias("p"))
        .select("source", "category", "record_id", "resident_token",
                F.col("p.column").alias("column"), F.col("p.reason").alias("reason"),
                F.col("p.action").alias("action"))
    )
