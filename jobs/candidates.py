"""Search the register for the person a doubtful record really belongs to.

Blocking passes (conf/blocking.yaml) join the doubtful records with the residents that
share a key; the passes are unioned and de-duplicated, every pair is compared field by
field (`jobs.compare`) with term-frequency adjusted weights, and each record keeps its
best candidate, the runner-up and the linked resident's own score on the same scale.
Everything is Spark joins and window functions over the (small) doubtful side.
"""

from __future__ import annotations

import math
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import compare as C
from jobs import model as M
from jobs.readings import reading_keys

KEY = ["row_id"]
"""A doubtful record's key through the search: the records' compact row key (`jobs.pipeline`
adds it), one long in every block, pair and window instead of category and record id."""
CAND_COLS = ("num", "token", "household_id", "bd", "sx", "nk", "nfam", "ngiv", "kk", "kfam", "kgiv", "ks",
             "rfam", "rgiv", "rfull", "alpha", "atok", "ak", "aa")


def blocking_keys(df: DataFrame) -> DataFrame:
    """Derived blocking keys: birth year ``by``; of an alphabet name of two or more tokens the
    first and last token (``a1``, ``a2``), the sound of its parts (``asx``) and their
    first three letters (``apx``); and the readings of the name (``rk`` full, ``rkf``
    family; arrays, see `jobs.readings.reading_keys`)."""
    alpha_tok = F.when(F.col("alpha") & (F.size("atok") >= 2), F.col("atok"))
    if "rfam" in df.columns:
        df = reading_keys(df)
    # the sound of an alphabet name (soundex of each part, in sorted order): survives typos
    # (SMYTH/SMITH, JON/JOHN) and the order of the parts
    sounds = F.array_sort(F.filter(F.array(F.soundex(F.col("nfam")), F.soundex(F.col("ngiv"))),
                                   lambda x: x.isNotNull() & (x != "")))
    # the first three letters of each part of an alphabet name, in sorted order: survives a
    # typo after the third letter of every part (HYLNAND/HYLAND, OLIVEF/OLIVER), where the
    # sound of a part may change (soundex H455/H453, O411/O416)
    prefixes = F.array_join(F.array_sort(F.transform(alpha_tok, lambda t: F.substring(t, 1, 3))), " ")
    return df.select(
        "*",
        F.year("bd").alias("by"),
        F.element_at(alpha_tok, 1).alias("a1"),
        F.element_at(alpha_tok, -1).alias("a2"),
        F.when(F.col("alpha") & (F.size(sounds) == 2), F.array_join(sounds, " ")).alias("asx"),
        prefixes.alias("apx"),
    )


def resident_candidates(residents: DataFrame) -> DataFrame:
    """Residents as candidates: ``bd``/``sx`` named as on records, plus blocking keys."""
    return blocking_keys(
        residents.select(*[F.col(c) for c in ("num", "token", "household_id", "nk", "nfam", "ngiv", "kk",
                                              "kfam", "kgiv", "ks", "rfam", "rgiv", "rfull", "alpha", "atok", "ak", "aa")],
                         F.col("birth_date").alias("bd"), F.col("sex").alias("sx"))
    )


def _pass_keys(df: DataFrame, passes: list[dict], ids: list[str]) -> DataFrame:
    """One row per (row, pass variant, key value) with a compact 64-bit block key.

    Each pass gives a ``base`` key and, when it has ``split_by``, a ``split`` key (base keys
    plus the split keys).  Rows with a null key column get no key for that pass.  A key
    column may be an array (the possible readings of a name): each element is a key.
    One plain projection per pass variant, unioned (compiled expressions, no per-row
    array of structs).
    """
    types = {f.name: f.dataType for f in df.schema.fields}
    frames = []
    for spec in passes:
        base = list(spec["keys"])
        variants = [("base", base)]
        if spec.get("split_by"):
            variants.append(("split", base + [c for c in spec["split_by"] if c not in base]))
        for variant, cols in variants:
            arrays = [c for c in cols if isinstance(types[c], T.ArrayType)]
            if len(arrays) > 1:
                raise ValueError(f"blocking pass {spec['name']}: at most one array key, got {arrays}")
            ok = reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in cols])
            rows = df.where(ok)
            if arrays:
                rows = (rows.select(*ids, *[c for c in cols if c not in arrays],
                                    F.explode(F.array_distinct(F.col(arrays[0]))).alias(arrays[0]))
                        .where(F.col(arrays[0]).isNotNull()))
            parts = [F.col(c).cast("string") for c in cols]
            frames.append(rows.select(*ids, F.lit(spec["name"]).alias("pass"), F.lit(variant).alias("variant"),
                                      F.xxhash64(F.lit(spec["name"]), *parts).alias("bk")))
    if not frames:
        raise ValueError("no blocking pass applies (conf/blocking.yaml)")
    return reduce(lambda a, b: a.unionByName(b), frames)


def block_keys(doubt: DataFrame, cands: DataFrame, blocking: dict) -> tuple[DataFrame, DataFrame]:
    """The blocks of every blocking pass, sized: (``sized``, ``r_keys``).

    ``sized`` has one row per doubtful record, pass, variant and compact 64-bit block key
    ``bk`` with the block's register size ``n``; ``r_keys`` holds the residents (``num``)
    of the blocks that some doubtful record asked for.  The register side is exploded into
    block keys and filtered by a broadcast semi-join with the doubtful records' keys, so
    only the blocks that matter are counted and joined.  Both are read twice
    (`pairs_in_blocks`, `block_figures`): materialise them."""
    passes = applicable_passes(blocking, cands, doubt)
    only = blocking.get("unconfirmed_passes")
    if only is not None and {"doubtful", "unconfirmed"} <= set(doubt.columns):
        # a link questioned only as unconfirmed is overturned only by a candidate whose name
        # agrees with the record's (`apply_candidates`): the passes keyed on the whole name find it
        uo = F.coalesce(F.col("unconfirmed") & ~F.col("doubtful"), F.lit(False))
        d_keys = _pass_keys(doubt.where(~uo), passes, KEY)
        name_passes = [p for p in passes if p["name"] in only]
        if name_passes:
            d_keys = d_keys.unionByName(_pass_keys(doubt.where(uo), name_passes, KEY))
    else:
        d_keys = _pass_keys(doubt, passes, KEY)
    r_keys = (_pass_keys(cands, passes, ["num"])
              .join(F.broadcast(d_keys.select("bk").distinct()), "bk", "left_semi")
              .select("bk", "num"))
    sizes = r_keys.groupBy("bk").agg(F.count(F.lit(1)).alias("n"))
    sized = d_keys.join(sizes, "bk", "left").withColumn("n", F.coalesce(F.col("n"), F.lit(0)))
    w = Window.partitionBy(*KEY, "pass")
    return sized.withColumn("base_n", F.max(F.when(F.col("variant") == "base", F.col("n"))).over(w)), r_keys


def block_cap(blocking: dict) -> Column:
    """The largest block each pass joins: the pass's own ``max_block`` where it sets one,
    else the global ``max_block`` (conf/blocking.yaml), as a column over ``pass``.

    A pass keyed on few or coarse values (birth year, given name reading and sex) has
    blocks that grow with the register, and finds little that the finer passes do not: its
    own cap keeps its pairs from growing with the input."""
    default = int(blocking.get("max_block", 200))
    cap = F.lit(default)
    for spec in blocking.get("passes", []):
        if spec.get("max_block") is not None:
            cap = F.when(F.col("pass") == spec["name"], F.lit(int(spec["max_block"]))).otherwise(cap)
    return cap


def pairs_in_blocks(sized: DataFrame, r_keys: DataFrame, doubt: DataFrame, blocking: dict) -> DataFrame:
    """Candidate pairs (``row_id``, ``num``, ``passes``): all passes in one
    join on the block key, de-duplicated, plus the linked resident of each record (pass
    ``linked``).  A block with more than ``max_block`` residents uses its split key when
    the pass has one, and is skipped otherwise (or when still too large after the split)."""
    max_block = block_cap(blocking)
    chosen = sized.where(
        ((F.col("variant") == "base") & (F.col("base_n") <= max_block))
        | ((F.col("variant") == "split") & (F.col("base_n") > max_block) & (F.col("n") <= max_block))
    )
    pairs = chosen.select(*KEY, "pass", "bk").join(r_keys, "bk").drop("bk")
    linked = doubt.where(F.col("num").isNotNull()).select(*KEY, F.lit("linked").alias("pass"), "num")
    return pairs.unionByName(linked).groupBy(*KEY, "num").agg(F.collect_set("pass").alias("passes"))


def block_figures(sized: DataFrame, pairs: DataFrame, blocking: dict) -> DataFrame:
    """Per pass: distinct candidate ``pairs`` it found, ``largest_block``, ``oversized_blocks``
    (over ``max_block``) and ``skipped_blocks`` (too large even after a split)."""
    max_block = block_cap(blocking)
    has_split = [p["name"] for p in blocking["passes"] if p.get("split_by")]
    blocks = (
        sized.groupBy("pass")
        .agg(
            F.max(F.when(F.col("variant") == "base", F.col("n"))).cast("long").alias("largest_block"),
            F.countDistinct(F.when((F.col("variant") == "base") & (F.col("n") > max_block), F.col("bk")))
            .cast("long").alias("oversized_blocks"),
            F.countDistinct(F.when(
                ((F.col("variant") == "base") & (F.col("n") > max_block) & ~F.col("pass").isin(*has_split))
                | ((F.col("variant") == "split") & (F.col("base_n") > max_block) & (F.col("n") > max_block)),
                F.col("bk"))).cast("long").alias("skipped_blocks"),
        )
    )
    per_pass = (pairs.select(F.explode("passes").alias("pass")).groupBy("pass")
                .agg(F.count(F.lit(1)).cast("long").alias("pairs")))
    return per_pass.join(blocks, "pass", "full")  # a pass whose blocks were all skipped has no pairs


def candidate_pairs(doubt: DataFrame, cands: DataFrame, blocking: dict) -> tuple[DataFrame, DataFrame]:
    """`block_keys`, `pairs_in_blocks` and `block_figures` in one call: (pairs, per-pass figures)."""
    sized, r_keys = block_keys(doubt, cands, blocking)
    pairs = pairs_in_blocks(sized, r_keys, doubt, blocking)
    return pairs, block_figures(sized, pairs, blocking)


TF_COLUMNS = {"name_kanji": "nk", "name_kana": "kk", "birth_date": "bd"}


def with_term_frequencies(cands: DataFrame, blocking: dict, broadcast: bool = False) -> DataFrame:
    """Add ``tf_<col>``: how many residents share the candidate's value, for each field of
    ``classify.tf_adjust`` (once per run, so that scoring the pairs needs no join).

    Each field's counts are a narrow aggregate joined back on the value; with ``broadcast``
    (a register whose distinct values fit in memory) the join is a broadcast, so the wide
    candidate rows are neither shuffled nor sorted (a window per field shuffled and sorted
    them once per field)."""
    out = cands
    for field in (blocking.get("classify") or {}).get("tf_adjust", []):
        col = TF_COLUMNS[field]
        counts = (cands.where(F.col(col).isNotNull()).groupBy(col)
                  .agg(F.count(F.lit(1)).alias(f"tf_{col}"))
                  .withColumnRenamed(col, "__tf_v"))
        counts = F.broadcast(counts) if broadcast else counts
        out = out.join(counts, F.col(col) == F.col("__tf_v"), "left").drop("__tf_v")
    return out


def applicable_passes(blocking: dict, *frames: DataFrame) -> list[dict]:
    """The blocking passes whose keys (and split keys) every frame has."""
    return [p for p in blocking["passes"]
            if all(k in df.columns for df in frames for k in list(p["keys"]) + list(p.get("split_by") or []))]


def blocking_miss(links: DataFrame, cands: DataFrame, blocking: dict) -> tuple[float, int]:
    """The share of true pairs that no blocking pass finds, as the run's own links teach it:
    (share, links counted).

    ``links`` is a sample of linked records (``row_id``, ``num``, the posterior ``score`` that
    the link is right, `jobs.verify.compare_links`, and the record's blocking keys,
    `blocking_keys`), ``cands`` the residents as candidates.  A wrong link's record differs
    from its real owner as any record differs from its own person, so whether the passes
    put a record and its linked resident in one block, over the links that are mostly
    right, is how often they would find a wrong link's owner.  Each link counts with its
    ``score``; ``classify.miss_prior_pairs`` pseudo-links of share ``classify.miss_prior``
    keep a run with few links from a share of 0 or 1.  Block caps are not applied (a pass
    that skips a huge block misses a little more than this says)."""
    cls = blocking.get("classify") or {}
    prior, weight = float(cls.get("miss_prior", 0.05)), float(cls.get("miss_prior_pairs", 20))
    passes = applicable_passes(blocking, links, cands)
    links = links.where(F.col("num").isNotNull())
    nums = links.select(F.col("num").alias("__n")).distinct()
    r_keys = _pass_keys(cands.join(nums, F.col("num") == F.col("__n"), "left_semi"), passes, ["num"])
    l_keys = _pass_keys(links, passes, KEY).join(links.select(*KEY, "num"), KEY)
    found = l_keys.join(r_keys, ["num", "bk"]).select(*KEY).distinct().select(*KEY, F.lit(1.0).alias("__found"))
    row = (links.select(*KEY, "score").join(found, KEY, "left")
           .agg(F.sum(F.col("score") * F.when(F.col("__found").isNull(), 1.0).otherwise(0.0)).alias("m"),
                F.sum("score").alias("s"), F.count(F.lit(1)).alias("n"))
           .first())
    m, s, n = float(row["m"] or 0.0), float(row["s"] or 0.0), int(row["n"] or 0)
    return (m + weight * prior) / (s + weight), n


def outside_log2(n_residents: int, miss: float, blocking: dict) -> float:
    """log2 of the odds mass outside a record's candidates, against one candidate of weight 0.

    With its linked resident ruled out, a record's owner is any of the N residents alike, or
    nobody in the register (``classify.owner_absent_share`` of such records: a person who
    moved in unregistered, a record of someone never registered).  A candidate's posterior is
    its likelihood ratio over the sum of all of them; the residents no pass found add, each
    on average, the chance that a true pair escapes the passes (`blocking_miss`), since a
    random pair's likelihood ratio averages 1 over its levels, and what is not blocked is the
    part of that mass the passes leave out.  So: N * (miss + absent / (1 - absent)).  (One
    in N for every candidate, as if no pass had looked at anybody, asked a record whose
    name was mistyped in every part for an evidence of log2 N bits it could not give.)"""
    cls = blocking.get("classify") or {}
    absent = float(cls.get("owner_absent_share", 0.01))
    return math.log2(max(1.0, n_residents * (miss + absent / (1.0 - absent))))


def score_pairs(pairs: DataFrame, doubt: DataFrame, cands: DataFrame, thresholds: dict, blocking: dict,
                n_residents: int, model: M.Model | None = None, outside: float | None = None) -> DataFrame:
    """Compare every pair: levels ``c_lv_*``, TF-adjusted weights ``c_w_<field>`` (rounded to
    three places), their sum ``c_w`` and the posterior ``c_p``, on the record's category's
    parameters (``model``; the configured ones without it).  The posterior of the linked
    resident starts from the category's prior; that of any other resident is its likelihood
    ratio against the mass outside the candidates, ``outside`` (log2, `outside_log2`; without
    it log2 N, the register's size ``n_residents``, as if the passes had found nobody).

    ``cands`` carries the term frequencies of `with_term_frequencies`: a level declared with
    term frequencies (`jobs.compare.Level.tf`) of a field in ``classify.tf_adjust`` takes
    u = the value's share of the register (a common name agrees by chance more often)."""
    model = model or M.fixed_model(thresholds)
    cls = blocking.get("classify", {})
    tf_fields = set(cls.get("tf_adjust", []))
    floor = float(cls.get("tf_floor", 1e-6))
    left = doubt.select(*KEY, "category", F.col("num").alias("l_num"), F.col("r_num").alias("l_rnum"), "bd", "sx", "nk", "nfam", "ngiv", "kk", "kfam",
                        "kgiv", "ks", "rfam", "rgiv", "rfull", "alpha", "atok", "ak", "aa")
    given_tf = [f"tf_{TF_COLUMNS[f]}" for f in sorted(tf_fields)]
    missing = [c for c in given_tf if c not in cands.columns]
    if missing:
        raise ValueError(f"score_pairs: candidates lack {', '.join(missing)} (add them with with_term_frequencies)")
    right = cands.select(*[F.col(c).alias(f"c_{c}") for c in CAND_COLS], *given_tf)
    df = pairs.join(left, KEY).join(right, F.col("num") == F.col("c_num"))
    lv = C.levels("", "c_")
    df = df.select("*", *[v.alias(f"c_lv_{k}") for k, v in lv.items()], M.category_index(model).alias("__ci"))
    cat = F.col("__ci")
    weights = {}
    for field in lv:
        level = F.col(f"c_lv_{field}")
        w = M.weight_column(model, field, level, cat)
        col = TF_COLUMNS.get(field)
        tf_levels = [x.name for x in C.COMPARISONS[field].levels if x.tf] if field in tf_fields and col else []
        for name in tf_levels:
            u_tf = F.greatest(F.col(f"tf_{col}") / F.lit(float(n_residents)), F.lit(floor))
            w = F.when((level == name) & F.col(f"tf_{col}").isNotNull(),
                       F.log2(M.m_column(model, field, name, cat) / u_tf)).otherwise(w)
        weights[field] = w
    # the raw weights as columns first (their combination reads each twice)
    df = df.select("*", *[w.alias(f"__w_{k}") for k, w in weights.items()])
    weights = M.adjust_correlated({k: F.col(f"__w_{k}") for k in weights})
    total = reduce(lambda a, b: a + b, weights.values())
    return df.select(
        *KEY, "c_num", "c_token", "c_household_id", "passes",
        F.coalesce(F.col("c_num") == F.col("l_num"), F.lit(False)).alias("is_linked"),
        *[F.col(f"c_lv_{k}") for k in lv],
        *[F.round(w, 3).alias(f"c_w_{k}") for k, w in weights.items()],
        total.alias("c_w"),
        C.name_judgement(F.col("c_lv_name_kanji"), F.col("c_lv_name_kana")).alias("c_name_judgement"),
        # the linked resident has its category's prior (links are mostly right); any other
        # resident, of a linked record or of one that names nobody, is weighed against the
        # mass outside the candidates (`outside_log2`): to overturn a link, or to name an
        # owner, a candidate must bring its own evidence
        F.when(F.col("c_num") == F.col("l_num"), M.prior_column(model, cat))
        .otherwise(F.lit(-float(outside if outside is not None else math.log2(max(2, n_residents)))))
        .alias("__prior"),
    ).withColumn("c_p", M.posterior(F.col("c_w"), F.col("__prior"))).drop("__prior")


def _clean_match(thresholds: dict) -> Column:
    """True when a candidate is probably the record's person (posterior at least
    ``decision.match_threshold``) and agrees with it on every search field within notation:
    the same test a linked record passes to be confirmed."""
    dec = thresholds["decision"]
    return (F.col("c_p") >= F.lit(float(dec["match_threshold"]))) & ~C.differs(dec["search_fields"], "c_lv_")


def best_candidates(scored: DataFrame, thresholds: dict, outside: float | None = None) -> DataFrame:
    """Per record: the best other resident (``s_*``), the runner-up's weight and whether it
    is a clean match too, the linked resident's weight on the same scale (``linked_w``)
    and the number of candidates.

    The best candidate's ``s_score`` is its likelihood ratio over those of all the other
    candidates and the mass outside them (``outside``, log2, `outside_log2`): two residents
    that fit alike share the probability (without ``outside``, the pair's own ``c_p``).

    One shuffle and one sort of the pairs: within a record the pairs are ordered linked
    last, then heaviest first, token; the first row is the best candidate (or
    the linked resident when there is no other), the next one the runner-up.  (Windows,
    then joins of the best, runner-up and linked rows, shuffled the scored pairs three
    times: 500k sample, 748 MB read in the step's last stage.)"""
    df = scored.withColumn("c_clean", _clean_match(thresholds))
    order = Window.partitionBy(*KEY).orderBy(F.col("is_linked"), F.col("c_w").desc(),
                                             F.col("c_token"))
    whole = Window.partitionBy(*KEY)
    other = ~F.col("is_linked")
    ranked = df.select(
        "*",
        F.row_number().over(order).alias("rank"),
        F.lead(F.when(other, F.struct(F.col("c_w").alias("w"), F.col("c_clean").alias("clean"))), 1).over(order)
        .alias("second"),
        F.max(F.when(F.col("is_linked"), F.col("c_w"))).over(whole).alias("linked_w"),
        F.max(F.when(F.col("is_linked"), F.col("c_p"))).over(whole).alias("linked_p"),
        F.count(F.when(other, F.lit(1))).over(whole).alias("n_candidates"),
        F.sum(F.when(other, F.pow(F.lit(2.0), F.col("c_w")))).over(whole).alias("__lr_others"),
    ).where(F.col("rank") == 1)
    # the best candidate's own strength (``c_p``: it against everybody the passes did not
    # find) says whether it is a match at all; shared with the other candidates, it is the
    # probability that it is the one (two twins who fit alike get half each: a tie)
    ranked = ranked.withColumn("s_alone", F.when(other, F.col("c_p")))
    if outside is not None:
        score = F.pow(F.lit(2.0), F.col("c_w")) / (F.col("__lr_others") + F.lit(2.0 ** float(outside)))
        ranked = ranked.withColumn("c_p", F.when(other, score).otherwise(F.col("c_p")))

    def best(c: str) -> Column:
        return F.when(other, F.col(c))
    return ranked.select(
        *KEY, best("c_num").alias("s_num"), best("c_token").alias("s_token"),
        best("c_household_id").alias("s_hh"), best("c_w").alias("s_w"), best("c_p").alias("s_score"),
        best("c_clean").alias("s_clean"), "s_alone", *[best(f"c_w_{f}").alias(f"s_w_{f}") for f in C.FIELDS],
        "linked_w", "linked_p", best("n_candidates").alias("n_candidates"),
        best("c_name_judgement").alias("s_name_judgement"),
        best("passes").alias("s_passes"), *[best(f"c_lv_{f}").alias(f"s_lv_{f}") for f in C.FIELDS],
        best("second.w").alias("second_w"), best("second.clean").alias("second_clean"),
    )


def apply_candidates(linked: DataFrame, best: DataFrame, blocking: dict) -> DataFrame:
    """Rewrite reasons with what the search found: LINKED_TO_OTHER_PERSON,
    LINKED_TO_HOUSEHOLD_MEMBER, AMBIGUOUS_IDENTITY, or a suggestion for an unlinked,
    invalid or unknown number.  Records without candidates keep their reasons.

    The decision is by weight of evidence alone, on the record's own parameters: a candidate
    is suggested when its posterior reaches ``accept_probability`` and it beats the linked
    resident by ``min_margin_log2`` (a linked record that was searched: doubtful, or
    disagreeing on a name or birth date beyond notation); when the runner-up is within
    ``tie_margin_log2`` of it as well, the record is AMBIGUOUS_IDENTITY.  A doubtful record
    with no such candidate keeps ATTRIBUTE_MISMATCH; an unconfirmed one keeps no reason (its
    difference is a correction, `corrections`).
    """
    cls = blocking.get("classify", {})
    accept = float(cls.get("accept_probability", 0.9))
    margin = float(cls.get("min_margin_log2", 3.0))
    tie = float(cls.get("tie_margin_log2", 1.0))
    df = linked.join(best, KEY, "left")
    # a match at all: the candidate on its own against everybody the passes did not find (its
    # tie partners share the probability of being the one, s_score, but not its strength)
    strength = F.col("s_alone") if "s_alone" in df.columns else F.col("s_score")
    good = F.coalesce(strength >= accept, F.lit(False))
    questioned = F.col("doubtful") | F.col("unconfirmed")
    beats_linked = F.coalesce(F.col("linked_w").isNull() | (F.col("s_w") - F.col("linked_w") >= margin), F.lit(False))
    tied = F.coalesce(F.col("second_w") >= F.col("s_w") - tie, F.lit(False))
    # a link that verified is still ambiguous when another resident matches as cleanly and as well
    ties_linked = (good & F.coalesce(F.col("s_clean"), F.lit(False))
                   & F.coalesce(F.col("s_w") >= F.col("linked_w") - tie, F.lit(False)))
    suggest = good & beats_linked & ~tied
    ambiguous = good & beats_linked & tied & (questioned | F.col("r_num").isNull())
    if cls.get("flag_verified_ties", False):
        ambiguous = ambiguous | (~F.col("doubtful") & ties_linked & F.col("r_num").isNotNull())
    wrong_person = questioned & suggest
    household = wrong_person & F.coalesce(F.col("s_hh") == F.col("r_hh"), F.lit(False))

    def swap(code: str) -> Column:
        return F.array_union(F.array_remove(F.col("reasons"), "ATTRIBUTE_MISMATCH"), F.array(F.lit(code)))

    reasons = (F.when(household, swap("LINKED_TO_HOUSEHOLD_MEMBER"))
               .when(wrong_person, swap("LINKED_TO_OTHER_PERSON"))
               .when(ambiguous & questioned, swap("AMBIGUOUS_IDENTITY"))
               .when(ambiguous, F.array_union(F.col("reasons"), F.array(F.lit("AMBIGUOUS_IDENTITY"))))
               .otherwise(F.col("reasons")))
    # a searched record's score is its linked resident's posterior on the search's scale (term
    # frequencies included), the scale its suggested_score is on
    if "linked_p" in df.columns and "score" in df.columns:
        df = df.withColumn("score", F.coalesce(F.col("linked_p"), F.col("score")))
    return (
        df.withColumn("reasons", reasons)
        .withColumn("s_token", F.when(suggest, F.col("s_token")))
        .withColumn("s_score", F.when(suggest, F.col("s_score")))
    )


def needs_search(linked: DataFrame, residents: DataFrame) -> Column:
    """Records whose link is doubtful, or whose number is absent, malformed or unknown."""
    return (F.col("doubtful") | F.col("unconfirmed") | F.col("number_state").isin("absent", "malformed", "check_digit")
            | ((F.col("number_state") == "ok") & F.col("r_num").isNull()))


def flag_ambiguous(residents: DataFrame, broadcast: bool = False) -> DataFrame:
    """Add ``amb``: the (usable) resident shares normalised name and birth date with another
    usable resident (同姓同名同生年月日), so the flag travels with the resident row instead of
    being joined to every record.

    The groups of more than one are found by a narrow aggregate and joined back on name and
    birth date; with ``broadcast`` (a register that fits in memory) the wide resident rows
    are neither shuffled nor sorted for it (a window over the register did both)."""
    known = F.col("nk").isNotNull() & F.col("birth_date").isNotNull() & F.col("usable")
    shared = (residents.where(known).groupBy("nk", "birth_date").agg(F.count(F.lit(1)).alias("__n"))
              .where(F.col("__n") > 1)
              .select(F.col("nk").alias("__amb_nk"), F.col("birth_date").alias("__amb_bd"), F.lit(True).alias("__amb")))
    shared = F.broadcast(shared) if broadcast else shared
    joined = residents.join(shared, (F.col("nk") == F.col("__amb_nk")) & (F.col("birth_date") == F.col("__amb_bd"))
                            & F.col("usable"), "left")
    return joined.withColumn("amb", F.coalesce(F.col("__amb"), F.lit(False))).drop("__amb_nk", "__amb_bd", "__amb")
