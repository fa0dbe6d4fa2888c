"""Score a run against a generated sample's answer key (development and acceptance checks)."""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import publish
from jobs.errors import UsageError
from jobs.tokens import key_frame, with_tokens

# error types whose record belongs to someone other than the linked resident
WRONG_PERSON = ("wrong_random", "same_name_person", "household_member", "digit_typo",
                "unknown_number", "unlinked", "owner_not_in_register")


# records that belong to an error without being its error record: the record a duplicate
# duplicates.  Flagging them is not a false alarm, missing them is not a miss.
NEUTRAL = ("duplicate_original",)


def evaluate(spark: SparkSession, data_dir: str, output_dir: str, run_id: str | None, key: bytes) -> dict:
    """Recall per error type, false positives among correct records, queue precision, and
    how often the suggested person is the record's real owner."""
    key_path = Path(data_dir) / "answer_key"
    if not key_path.is_dir():
        raise UsageError(f"no answer key at {key_path} (evaluate needs a generated sample)")
    run_id = run_id or publish.latest_published(spark, output_dir)
    if run_id is None:
        raise UsageError(f"no published run in {output_dir}")
    suspects = publish.read_table(spark, output_dir, "suspects")
    if suspects is None:
        raise UsageError(f"no suspects table in {output_dir}")
    suspects = suspects.where(F.col("run_id") == run_id).select(
        "category", "record_id", "reason", "suggested_token", F.lit(True).alias("flagged"))
    answers = spark.read.parquet(str(key_path))
    answers = with_tokens(answers, key_frame(spark, key), {"owner_token": "owner_number"}).drop("owner_number")
    joined = answers.join(suspects, ["category", "record_id"], "left").withColumn(
        "flagged", F.coalesce(F.col("flagged"), F.lit(False)))
    joined = joined.cache()

    per_type = {}
    for r in (joined.where(F.col("error_type").isNotNull() & ~F.col("error_type").isin(*NEUTRAL))
              .groupBy("error_type")
              .agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("flagged").cast("int")).alias("hit"))
              .orderBy("error_type").collect()):
        per_type[r["error_type"]] = {"records": r["n"], "flagged": r["hit"], "recall": r["hit"] / r["n"]}
    correct = joined.where(F.col("error_type").isNull())
    n_correct = correct.count()
    fp = correct.where(F.col("flagged")).count()
    fp_by_noise = {r["noise"]: r["n"] for r in (
        correct.where(F.col("flagged")).select(F.explode_outer("noise").alias("noise"))
        .groupBy("noise").agg(F.count(F.lit(1)).alias("n")).collect())}
    fp_by_reason = {r["reason"]: r["n"] for r in (
        correct.where(F.col("flagged")).groupBy("reason").agg(F.count(F.lit(1)).alias("n")).collect())}
    n_flagged = joined.where(F.col("flagged")).count()
    is_err = F.col("error_type").isNotNull() & ~F.col("error_type").isin(*NEUTRAL)
    n_err = joined.where(is_err).count()
    n_err_flagged = joined.where(F.col("flagged") & is_err).count()
    n_neutral_flagged = joined.where(F.col("flagged") & F.col("error_type").isin(*NEUTRAL)).count()
    wp = joined.where(F.col("error_type").isin(*WRONG_PERSON) & F.col("owner_token").isNotNull())
    wp_n = wp.count()
    wp_right = wp.where(F.col("suggested_token") == F.col("owner_token")).count()
    joined.unpersist()
    result = {
        "run_id": run_id,
        "records": joined.count(),
        "error_records": n_err,
        "recall_overall": n_err_flagged / n_err if n_err else None,
        "recall_by_error_type": per_type,
        "correct_records": n_correct,
        "false_positives": fp,
        "false_positive_rate": fp / n_correct if n_correct else None,
        "false_positives_by_noise": fp_by_noise,
        "false_positives_by_reason": fp_by_reason,
        "queue_size": n_flagged,
        "queue_precision": (n_err_flagged + n_neutral_flagged) / n_flagged if n_flagged else None,
        "duplicate_originals_flagged": n_neutral_flagged,
        "wrong_person_links_with_owner": wp_n,
        "right_person_suggested": wp_right,
        "suggestion_accuracy": wp_right / wp_n if wp_n else None,
    }
    out = Path(output_dir) / "reports" / run_id
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return result


def format_result(res: dict) -> str:
    pct = lambda x: "n/a" if x is None else f"{100 * x:.2f}%"  # noqa: E731
    lines = [f"evaluation of run {res['run_id']}: {res['records']} records, {res['error_records']} with errors",
             f"  recall overall          {pct(res['recall_overall'])}"]
    for et, v in res["recall_by_error_type"].items():
        lines.append(f"  recall {et:<24} {pct(v['recall']):>8}  ({v['flagged']}/{v['records']})")
    lines += [
        f"  false positives         {res['false_positives']} of {res['correct_records']} correct records"
        f" ({pct(res['false_positive_rate'])})",
        f"  review-queue precision  {pct(res['queue_precision'])} of {res['queue_size']} suspects",
        f"  right person suggested  {pct(res['suggestion_accuracy'])}"
        f" ({res['right_person_suggested']}/{res['wrong_person_links_with_owner']} wrong-person links)",
    ]
    if res["false_positives_by_reason"]:
        lines.append("  false positives by reason: " + ", ".join(f"{k}={v}" for k, v in sorted(res["false_positives_by_reason"].items())))
    if res["false_positives_by_noise"]:
        lines.append("  false positives by noise:  " + ", ".join(f"{k}={v}" for k, v in sorted(res["false_positives_by_noise"].items(), key=str)))
    return "\n".join(lines)
