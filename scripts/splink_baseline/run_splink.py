"""Reference record-linkage run with Splink 4 (DuckDB backend) for comparison with Tenken.

usage: python run_splink.py DATA_DIR [--threads 2] [--memory-limit 6GB] [--out DIR] [--no-eval]

Links every category record (unique id category/record_id) to the resident register
(link_only), then flags a record when its linked number is absent / not in the register,
when another resident scores clearly better than the linked one, or when the linked pair's
own evidence is negative.  Suggested person = best-scoring resident other than the linked one.
The timed part is run(): Parquet in -> flagged table (and optional Parquet) out; the quality
figures against answer_key are computed afterwards and are not timed.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import prep  # noqa: E402

import splink  # noqa: E402
import splink.comparison_level_library as cll  # noqa: E402
from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # noqa: E402
from splink.comparison_library import CustomComparison  # noqa: E402

# Flagging thresholds, in bits of evidence = match_weight minus the prior weight
# log2(1/(n_residents-1)), i.e. the sum of the per-field log2(m/u) of a pair.
PREDICT_MIN_EVIDENCE = 0.0   # pairs whose fields are net evidence against a match are not kept
LINK_MIN_EVIDENCE = 0.0      # linked resident with net evidence below this -> flagged (weak link)
BETTER_BY_WEIGHT = 2.0       # another resident beats the linked one by >= this many bits -> flagged
EVAL_WRONG_PERSON = ("wrong_random", "same_name_person", "household_member", "digit_typo",
                     "unknown_number", "unlinked", "owner_not_in_register")
EVAL_NEUTRAL = ("duplicate_original",)


# ---------------------------------------------------------------- preprocessing
DERIVED = """
CREATE OR REPLACE TABLE {out} AS
SELECT
  {uid} AS unique_id,
  {linked} AS linked_number,
  nullif(replace(nk, ' ', ''), '') AS nk_full,
  CASE WHEN nk LIKE '% %' THEN split_part(nk, ' ', 1) END AS nk_fam,
  CASE WHEN nk LIKE '% %' THEN string_split(nk, ' ')[-1] END AS nk_giv,
  nullif(array_to_string(list_sort(string_split(nk, ' ')), ''), '') AS nk_sorted,
  nullif(replace(nr, ' ', ''), '') AS nr_full,
  nullif(array_to_string(list_sort(string_split(nr, ' ')), ''), '') AS nr_sorted,
  CASE WHEN nr LIKE '% %' THEN split_part(nr, ' ', 1) END AS nr_fam,
  CASE WHEN nr LIKE '% %' THEN string_split(nr, ' ')[-1] END AS nr_giv,
  strftime(birth_date, '%Y-%m-%d') AS dob,
  CASE WHEN day(birth_date) <= 12 THEN strftime(birth_date, '%Y-%d-%m') END AS dob_swap,
  nullif(trim(sex), '') AS sex,
  ad,
  coalesce(nullif(regexp_extract(ad, '^(.*[0-9]+(-[0-9]+)+)', 1), ''), ad) AS ad_block,
  nullif(regexp_extract(ad, '^[^0-9]+'), '') AS ad_town,
  nullif(regexp_extract(ad, '^([^0-9]+?郡[^0-9]+?[町村]|[^0-9]+?市[^0-9]+?区|[^0-9]+?[市区町村])', 0), '')
     AS ad_city
FROM (SELECT * REPLACE (nullif(regexp_replace(ad, '^(東京都|北海道|京都府|大阪府|[^都道府県0-9]{{2,3}}県)', ''), '') AS ad)
      FROM {src})
"""


def preprocess(con: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    res = con.sql(f"""
        SELECT individual_number, name_kanji, name_kana, birth_date, sex, address, status
        FROM read_parquet('{data_dir}/residents/**/*.parquet')""").to_arrow_table()
    rec = con.sql(f"""
        SELECT regexp_extract(filename, 'categories/([^/]+)/', 1) AS category, record_id,
               individual_number, name_kanji, name_kana, birth_date, sex, address
        FROM read_parquet('{data_dir}/categories/*/**/*.parquet', union_by_name=true, filename=true)
        """).to_arrow_table()
    con.register("res_raw", prep.normalise(res))
    con.register("rec_raw", prep.normalise(rec))
    con.execute(DERIVED.format(out="residents", uid="individual_number", linked="individual_number",
                               src="res_raw"))
    con.execute(DERIVED.format(out="records", uid="category || '/' || record_id",
                               linked="individual_number", src="rec_raw"))
    con.execute("CREATE OR REPLACE TABLE register AS SELECT individual_number FROM res_raw")
    con.unregister("res_raw")
    con.unregister("rec_raw")


# ---------------------------------------------------------------- model
def name_comparison() -> CustomComparison:
    """Kanji (or alphabet) name and its reading in ONE comparison: the two are nearly the same
    information, so scoring them as independent fields would count a name twice."""
    k_na = "(nk_full_l IS NULL OR nk_full_r IS NULL)"
    r_na = "(nr_full_l IS NULL OR nr_full_r IS NULL)"
    either = lambda tmpl: "(" + " OR ".join(tmpl.format(p=p) for p in ("nk", "nr")) + ")"  # noqa: E731
    lv = cll.CustomLevel
    return CustomComparison(output_column_name="name", comparison_levels=[
        lv(f"{k_na} AND {r_na}", "no name to compare").configure(is_null_level=True),
        lv("nk_full_l = nk_full_r AND nr_full_l = nr_full_r", "kanji and reading exact")
        .configure(tf_adjustment_column="nk_full"),
        lv("nk_full_l = nk_full_r", "kanji exact (reading absent or differs)")
        .configure(tf_adjustment_column="nk_full"),
        lv(f"nr_full_l = nr_full_r AND {k_na}", "reading exact, no kanji to compare")
        .configure(tf_adjustment_column="nr_full"),
        lv("nr_full_l = nr_full_r", "reading exact, kanji differs")
        .configure(tf_adjustment_column="nr_full"),
        # rarely if ever seen among random pairs, so u is set rather than left at Splink's default
        lv(either("{p}_sorted_l = {p}_sorted_r"), "same tokens, other order").configure(u_probability=1e-6),
        lv(either("jaro_winkler_similarity({p}_full_l, {p}_full_r) >= 0.9"), "JW >= 0.9"),
        lv(either("jaro_winkler_similarity({p}_sorted_l, {p}_sorted_r) >= 0.9"), "JW sorted tokens >= 0.9"),
        lv(either("{p}_giv_l = {p}_giv_r"), "given name exact"),
        lv(either("jaro_winkler_similarity({p}_full_l, {p}_full_r) >= 0.8"), "JW >= 0.8"),
        lv(either("{p}_fam_l = {p}_fam_r"), "family name exact"),
        cll.ElseLevel(),
    ])


def settings(n_residents: int) -> SettingsCreator:
    dob = CustomComparison(output_column_name="birth_date", comparison_levels=[
        cll.NullLevel("dob"),
        cll.ExactMatchLevel("dob"),
        cll.CustomLevel("dob_swap_l = dob_r", "day/month swapped"),
        cll.CustomLevel("substr(dob_l, 6) = substr(dob_r, 6)", "same month-day, other year"),
        cll.DamerauLevenshteinLevel("dob", 1),
        cll.AbsoluteDateDifferenceLevel("dob", input_is_string=True, threshold=366,
                                        metric="day"),
        cll.ElseLevel(),
    ])
    sex = CustomComparison(output_column_name="sex", comparison_levels=[
        cll.NullLevel("sex"), cll.ExactMatchLevel("sex"), cll.ElseLevel()])
    addr = CustomComparison(output_column_name="address", comparison_levels=[
        cll.NullLevel("ad"),
        cll.CustomLevel("ad_block_l = ad_block_r", "same address (building ignored)"),
        cll.CustomLevel("ad_town_l = ad_town_r", "same town"),
        cll.CustomLevel("ad_city_l = ad_city_r", "same municipality"),
        cll.ElseLevel(),
    ])
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=1.0 / n_residents,  # each record has <= 1 owner
        comparisons=[name_comparison(), dob, sex, addr],
        blocking_rules_to_generate_predictions=[
            block_on("linked_number"),          # always score the link being inspected
            block_on("dob", "nr_fam"),
            block_on("dob", "nr_giv"),
            block_on("nk_full"),
            block_on("nr_full"),
            block_on("dob", "ad_city", "sex"),
            block_on("dob", "sex"),             # records that keep no comparable name (kana only vs none)
            block_on("dob", "nk_fam"),
            block_on("dob", "nk_giv"),
            block_on("nk_sorted"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,   # gamma_* / bf_* for the flagging step
        additional_columns_to_retain=[],
    )


# ---------------------------------------------------------------- flagging
COMPARISONS = ("name", "birth_date", "sex", "address")
# na_* : the comparison could not be made (null level; its Bayes factor is exactly 1 -- the gamma
# columns are only kept with retain_matching_columns, which would bloat the pairs table)
_EV = {c: (f"log2(greatest(bf_{c}" + (f" * coalesce(bf_tf_adj_{c}, 1)" if c == "name" else "") + ", 1e-12))")
       for c in COMPARISONS}
FLAG_SQL = """
CREATE OR REPLACE TABLE flagged AS
WITH p AS (   -- kept pairs, record side first; e_* = evidence (bits) of each comparison
  SELECT CASE WHEN source_dataset_l = 'records' THEN unique_id_l ELSE unique_id_r END AS rid,
         CASE WHEN source_dataset_l = 'records' THEN unique_id_r ELSE unique_id_l END AS pid,
         match_weight - ({prior_w}) AS ev, match_probability AS prob,
         """ + ", ".join(f"bf_{c} = 1 AS na_{c}, {_EV[c]} AS e_{c}" for c in COMPARISONS) + """
  FROM pred
),
rec AS (
  SELECT r.unique_id AS rid, r.linked_number, g.individual_number IS NOT NULL AS in_register
  FROM records r LEFT JOIN register g ON g.individual_number = r.linked_number
),
lnk AS (      -- the pair being inspected (absent when its evidence is below the predict threshold)
  SELECT p.* FROM p JOIN rec ON rec.rid = p.rid AND p.pid = rec.linked_number
),
other AS (    -- best other resident; best_r_ev = its evidence where a comparison the linked pair could
              -- not make (field missing on the linked resident) may count against it but not for it
  SELECT p.rid, arg_max(p.pid, p.ev) AS best_pid, max(p.ev) AS best_ev, max(p.prob) AS best_prob,
         max(""" + " + ".join(f"CASE WHEN lnk.na_{c} THEN least(p.e_{c}, 0) ELSE p.e_{c} END"
                               for c in COMPARISONS) + """) AS best_r_ev
  FROM p JOIN rec USING (rid) LEFT JOIN lnk USING (rid)
  WHERE p.pid IS DISTINCT FROM rec.linked_number
  GROUP BY p.rid
),
j AS (
  SELECT rec.*, o.best_pid, o.best_ev, o.best_prob, o.best_r_ev,
         lnk.ev AS link_ev, coalesce(lnk.prob, 0) AS link_prob,
         o.best_r_ev - coalesce(lnk.ev, 0) >= {better} AS other_better
  FROM rec LEFT JOIN other o USING (rid) LEFT JOIN lnk USING (rid)
)
SELECT rid, split_part(rid, '/', 1) AS category,
  substr(rid, length(split_part(rid, '/', 1)) + 2) AS record_id,
  CASE WHEN linked_number IS NULL THEN 'UNLINKED_RECORD'
       WHEN NOT in_register THEN 'UNKNOWN_NUMBER'
       WHEN other_better THEN 'LINKED_TO_OTHER_PERSON'
       ELSE 'WEAK_LINK' END AS reason,
  best_pid AS suggested_number, link_ev, best_ev AS suggested_ev,
  link_prob AS score, best_prob AS suggested_score
FROM j
WHERE linked_number IS NULL OR NOT in_register OR other_better
   OR link_ev IS NULL OR link_ev < {min_ev}
"""


def evaluate(con: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    con.execute(f"""CREATE OR REPLACE TABLE ev AS
      SELECT a.category, a.record_id, a.error_type, a.owner_number,
             f.rid IS NOT NULL AS flagged, f.reason, f.suggested_number
      FROM read_parquet('{data_dir}/answer_key/**/*.parquet') a
      LEFT JOIN flagged f ON f.category = a.category AND f.record_id = a.record_id""")
    neutral = ",".join(f"'{x}'" for x in EVAL_NEUTRAL)
    wrong = ",".join(f"'{x}'" for x in EVAL_WRONG_PERSON)
    is_err = f"error_type IS NOT NULL AND error_type NOT IN ({neutral})"
    print("\n== quality vs answer_key (definitions of jobs/evaluate.py) ==")
    for et, n, hit in con.sql(f"""SELECT error_type, count(*), sum(flagged::int) FROM ev
                                  WHERE {is_err} GROUP BY 1 ORDER BY 1""").fetchall():
        print(f"  recall {et:<24} {100 * hit / n:6.2f}%  ({hit}/{n})")
    (n_err, err_hit, n_corr, fp, n_flag, neu_hit, wp_n, wp_right, wpl_n, wpl_hit) = con.execute(f"""
      SELECT count(*) FILTER ({is_err}), count(*) FILTER ({is_err} AND flagged),
             count(*) FILTER (error_type IS NULL), count(*) FILTER (error_type IS NULL AND flagged),
             count(*) FILTER (flagged), count(*) FILTER (flagged AND error_type IN ({neutral})),
             count(*) FILTER (error_type IN ({wrong}) AND owner_number IS NOT NULL),
             count(*) FILTER (error_type IN ({wrong}) AND owner_number IS NOT NULL
                              AND suggested_number = owner_number),
             count(*) FILTER (error_type IN ({wrong})),
             count(*) FILTER (error_type IN ({wrong}) AND flagged)
      FROM ev""").fetchall()[0]
    print(f"  recall overall          {100 * err_hit / n_err:6.2f}%  ({err_hit}/{n_err})")
    print(f"  recall wrong-person     {100 * wpl_hit / wpl_n:6.2f}%  ({wpl_hit}/{wpl_n})")
    print(f"  false positives         {fp} of {n_corr} correct records ({100 * fp / n_corr:.2f}%)")
    print(f"  review-queue precision  {100 * (err_hit + neu_hit) / n_flag:6.2f}% of {n_flag} suspects")
    print(f"  right person suggested  {100 * wp_right / wp_n:6.2f}%  ({wp_right}/{wp_n} wrong-person links)")
    print("  false positives by reason: " + ", ".join(
        f"{r}={n}" for r, n in con.sql("""SELECT reason, count(*) FROM ev WHERE error_type IS NULL
                                          AND flagged GROUP BY 1 ORDER BY 1""").fetchall()))


# ---------------------------------------------------------------- main
def run(con, data_dir: Path, u_max_pairs: float, out: Path | None = None):
    """The timed part: Parquet in, flagged list out."""
    phases = {}
    t0 = t = time.perf_counter()

    preprocess(con, data_dir)
    n_res, n_rec = con.execute("SELECT (SELECT count(*) FROM residents), (SELECT count(*) FROM records)").fetchall()[0]
    phases["preprocess"] = time.perf_counter() - t
    t = time.perf_counter()

    db_api = DuckDBAPI(connection=con)
    linker = Linker(["records", "residents"], settings(n_res), db_api,
                    input_table_aliases=["records", "residents"], set_up_basic_logging=False)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=13)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("nk_full", "nr_full"))
    phases["training"] = time.perf_counter() - t
    t = time.perf_counter()

    prior_w = math.log2(1.0 / (n_res - 1))  # match weight of a pair with no evidence either way
    pred = linker.inference.predict(threshold_match_weight=prior_w + PREDICT_MIN_EVIDENCE)
    con.execute(f"CREATE OR REPLACE VIEW pred AS SELECT * FROM {pred.physical_name}")
    n_pairs = con.execute("SELECT count(*) FROM pred").fetchall()[0][0]
    phases["predict"] = time.perf_counter() - t
    t = time.perf_counter()

    con.execute(FLAG_SQL.format(prior_w=prior_w, better=BETTER_BY_WEIGHT, min_ev=LINK_MIN_EVIDENCE))
    if out:
        out.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY flagged TO '{out}/flagged.parquet' (FORMAT parquet)")
    n_flag = con.execute("SELECT count(*) FROM flagged").fetchall()[0][0]
    phases["flagging"] = time.perf_counter() - t
    return phases, time.perf_counter() - t0, n_res, n_rec, n_pairs, n_flag


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="6GB")
    ap.add_argument("--out", type=Path, default=None, help="write the flagged list as Parquet here")
    ap.add_argument("--u-max-pairs", type=float, default=5e6)
    ap.add_argument("--no-eval", action="store_true")
    args = ap.parse_args()
    data_dir = args.data_dir.resolve()
    logging.getLogger("splink").setLevel(logging.WARNING)

    pa.set_cpu_count(args.threads)
    pa.set_io_thread_count(args.threads)
    tmp = Path(tempfile.gettempdir()) / "tenken-splink-duckdb"   # DuckDB spills here
    tmp.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads={args.threads}; SET memory_limit='{args.memory_limit}'; "
                f"SET temp_directory='{tmp}'; SET preserve_insertion_order=false")
    phases, total, n_res, n_rec, n_pairs, n_flag = run(con, data_dir, args.u_max_pairs, args.out)
    print(f"splink {splink.__version__}, duckdb {duckdb.__version__}, threads={args.threads}")
    print(f"{n_res} residents, {n_rec} records, {n_pairs} scored pairs kept, {n_flag} flagged")
    for k, v in phases.items():
        print(f"  {k:<11} {v:8.1f} s")
    print(f"  TOTAL       {total:8.1f} s")
    if not args.no_eval:
        evaluate(con, data_dir)


if __name__ == "__main__":
    main()
