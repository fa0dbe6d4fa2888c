"""The reconcile job: read -> gate inputs -> normalise and tokenise -> verify links ->
search candidates -> classify -> gate outputs -> publish -> report.

Only `run` does I/O; the steps in between are DataFrame -> DataFrame functions from the
step modules, chained with `DataFrame.transform`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import functions as F

from jobs import candidates, classify, clean, estimate, features, gates, publish, readings, verify
from jobs import compare as C
from jobs import model as M
from jobs.config import token_key, validate_run_id
from jobs.errors import GateFailed, UsageError
from jobs.io import read_inputs
from jobs.joins import broadcast_if_small
from jobs.lock import OutputLock, has_scheme
from jobs.session import get_spark
from jobs.tokens import MASKED_COUNT, key_frame, mask_numbers, with_tokens

log = logging.getLogger("tenken")


class Stages:
    """Per-stage wall time and row counts, logged as each stage starts and ends.

    ``with stages.stage("verify") as rows: rows["records checked"] = n`` ends with the line
    ``stage verify: done in 30.2 s; records checked 1,225,226``.  Only counts the run needs
    anyway (or that cost a scan of a checkpoint) are logged: progress must not add work.
    """

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        log.info("stage %s: start", name)
        t0 = time.perf_counter()
        rows: dict[str, int] = {}
        ok = False
        try:
            yield rows
            ok = True
        finally:
            took = time.perf_counter() - t0
            self.seconds[name] = self.seconds.get(name, 0.0) + took
            counts = "; " + ", ".join(f"{k} {int(v):,}" for k, v in rows.items()) if rows else ""
            log.info("stage %s: %s in %.1f s%s", name, "done" if ok else "failed", took, counts)


def materialise(df, cfg: dict):
    """Compute ``df`` once and cut its lineage.

    The normalisation expressions are large; with plain ``persist`` every later query
    would re-canonicalise that plan to find the cached data, which costs more than the
    work itself.  A checkpoint leaves a plan of one node.  ``run.checkpoint: reliable``
    (cluster) writes to ``run.checkpoint_dir`` so a lost executor does not lose it.
    """
    run_cfg = cfg.get("run") or {}
    if run_cfg.get("checkpoint", "local") == "reliable":
        sc = df.sparkSession.sparkContext
        if sc.getCheckpointDir() is None:
            if not run_cfg.get("checkpoint_dir"):
                raise UsageError("run.checkpoint is 'reliable' but run.checkpoint_dir is not set")
            sc.setCheckpointDir(run_cfg["checkpoint_dir"])
        return df.checkpoint(eager=True)
    return df.localCheckpoint(eager=True)


def default_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def reference_date(cfg: dict) -> dt.date:
    ref = (cfg.get("run") or {}).get("reference_date")
    if ref:
        return ref if isinstance(ref, dt.date) else dt.date.fromisoformat(str(ref))
    return dt.datetime.now(dt.timezone.utc).date()


def _gate_failed(spark, output_dir: str, run_id: str, gate: "gates.GateResult", done: list, base: dict,
                 t_start: float, stages: Stages) -> None:
    """Record a failed gate (runs row ``gate_failed``, gate results) and stop the run: exit 3."""
    first = gate.failures[0] if gate.failures else "no detail"
    more = f" (and {len(gate.failures) - 1} more)" if len(gate.failures) > 1 else ""
    where = f"{output_dir}/gates/{run_id}/index.html"
    message = f"{gate.gate} gate failed: {first}{more}; nothing published; see {where}"
    duration = time.perf_counter() - t_start
    with publish.writing(f"{output_dir}/gates/{run_id}"):
        gates.write_results(output_dir, run_id, done, duration)
    row = {**base, "status": "gate_failed", "finished_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
           "duration_s": round(duration, 2), "stage_seconds": {k: round(v, 2) for k, v in stages.seconds.items()},
           "gate_failures": gate.failures, "message": message}
    publish.replace_run(publish.runs_row(spark, row), output_dir, "runs", run_id)
    publish.drop_staging(output_dir, run_id)
    log.error("run %s: %s", run_id, message)
    raise GateFailed(message)


def learn_model(cfg: dict, records, register, per_cat: dict, broadcast: bool) -> M.Model:
    """The run's identity model (`jobs.model`): the configured parameters when
    ``model.learn`` is false, else u from random pairs of the register and m per category by
    EM over a bounded sample of each category's linked records."""
    thresholds = cfg["thresholds"]
    settings = M.model_settings(thresholds)
    if not settings["learn"]:
        return M.fixed_model(thresholds)
    seed = settings["seed"]
    sample = M.sample_links(records.where(F.col("num").isNotNull()), settings["em_pairs_per_category"],
                            {c: v[0] for c, v in per_cat.items()}, seed)
    compared = (sample.transform(verify.link_residents, register, broadcast)
                .select("category", "r_num", *[v.alias(f"lv_{k}") for k, v in C.levels("", "r_").items()]))
    side = register.withColumnRenamed("birth_date", "bd").withColumnRenamed("sex", "sx")
    pairs = estimate.random_pairs(side, settings["u_pairs"], seed)
    return M.learn_from(compared, pairs, thresholds)


def run(cfg: dict, input_dir: str, output_dir: str, run_id: str | None = None,
        categories: list[str] | None = None) -> dict:
    """Reconcile INPUT into OUTPUT and return the run's summary (the runs row as a dict).

    The run holds OUTPUT's lock (`jobs.lock`) from before it writes anything to its end: a
    second run on the same OUTPUT is refused at once (exit 2)."""
    run_id = validate_run_id(run_id) or default_run_id()   # never a path (exit 2)
    key = token_key(cfg)  # fail early (exit 2) when there is no key
    # a local OUTPUT is locked before Spark starts (refused at once); object storage needs the JVM
    spark = get_spark(cfg) if has_scheme(output_dir) else None
    with OutputLock(output_dir, run_id, spark) as lock:
        return _run(cfg, input_dir, output_dir, run_id, categories, key, lock)


def _run(cfg: dict, input_dir: str, output_dir: str, run_id: str, categories: list[str] | None, key: bytes,
         lock: OutputLock) -> dict:
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    # this attempt's rows count once the runs row names it (the reader rule, jobs.publish)
    attempt = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
    t_start = time.perf_counter()
    stages = Stages()
    spark = get_spark(cfg)
    ref = reference_date(cfg)
    today = F.lit(ref.isoformat()).cast("date")
    cats = cfg["categories"]
    run_cfg = cfg.get("run") or {}
    log.info("run %s: input %s, output %s, reference date %s, attempt %s", run_id, input_dir, output_dir, ref,
             attempt)
    publish.recover(spark, output_dir)   # staging left by a killed run (we hold the lock: none is running)

    with stages.stage("read") as rows:
        residents_raw, records_raw, present = read_inputs(spark, input_dir, cfg, categories)
        cfg = {**cfg, "categories": {c: cats[c] for c in present}}
        rows["categories"] = len(present)

    keys = key_frame(spark, key)
    # no number through another column: a record id or account key that is a valid number is its token
    records_raw = mask_numbers(records_raw, keys, ("record_id", "account_key"))
    with stages.stage("normalise") as rows:
        names = readings.configured_table(spark, cfg)
        # cleaned once: the value tables and the feature joins both read them
        residents_clean = materialise(residents_raw.transform(clean.clean_residents, today), cfg)
        records_clean = materialise(records_raw.transform(clean.clean_records, today), cfg)
        n_masked = int(records_clean.agg(F.sum(MASKED_COUNT)).first()[0] or 0)   # cells replaced by a token
        # every distinct name, reading and address is normalised once (see jobs.features)
        value_rows = int(run_cfg.get("broadcast_value_rows", features.BROADCAST_VALUE_ROWS))
        tables = features.broadcast_small(features.ValueTables(*[
            materialise(t, cfg) for t in
            features.value_tables(residents_clean, records_clean, cfg["categories"], names)]), value_rows)
        # the features below are left joins on unique keys: the register keeps this count
        n_residents = residents_clean.count()
        # a register of at most value_rows rows has no more distinct values (names, birth
        # dates) than that: its term frequencies and 同姓同名 groups are broadcast
        residents_small = n_residents <= value_rows
        residents = (
            residents_clean.transform(features.resident_features, tables)
            .transform(candidates.flag_ambiguous, residents_small)
            .transform(lambda d: with_tokens(d, keys, {"token": "individual_number"}))
            .transform(materialise, cfg)
        )
        records = (
            records_clean.transform(features.record_features, cfg["categories"], tables)
            # a compact row key, fixed by the checkpoint: the searched records get their
            # comparison keys back on it (verify.with_record_keys)
            .withColumn("row_id", F.monotonically_increasing_id())
            .transform(materialise, cfg)
        )
        # one aggregate over the records gives the per-category counts and the input gate's
        # metrics frame
        record_metrics = [r.asDict() for r in gates.records_metrics(records).collect()]
        per_cat = {m["category"]: (m["rows"], m["quarantined"]) for m in record_metrics}
        empty = [c for c in present if per_cat.get(c, (0, 0))[0] == 0]
        if empty:
            raise UsageError(f"category folder(s) with no rows: {', '.join(empty)}")
        n_records = sum(v[0] for v in per_cat.values())
        rows.update({"resident rows": n_residents, "records": n_records,
                     "quarantined records": sum(v[1] for v in per_cat.values())})

    cat_rows = [
        {"category": c, "input_rows": int(per_cat[c][0]), "checked_rows": int(per_cat[c][0] - per_cat[c][1]),
         "quarantined_rows": int(per_cat[c][1]), "suspects": 0}
        for c in present
    ]
    base = {"run_id": run_id, "attempt": attempt, "started_at": started, "input_path": str(Path(input_dir).resolve()),
            "residents": int(n_residents), "records": int(n_records),
            "categories": cat_rows, "gate_failures": []}
    with stages.stage("input_gate") as rows:
        rows.update({"resident rows": n_residents, "records": n_records})
        in_gate = gates.input_gate(cfg, residents, record_metrics, present)
    if not in_gate.success:
        _gate_failed(spark, output_dir, run_id, in_gate, [in_gate], base, t_start, stages)

    # the raw text and the field problems are not needed after the input gate: the
    # linked rows (shuffled once, to meet their resident) carry keys only
    to_verify = (records.where(F.col("usable"))
                 .drop("name_kanji", "name_kana", "address", "account_holder_kana", "birth_date", "sex",
                       "problems", "usable"))
    register = residents.where(F.col("usable"))
    # a register that fits in memory is broadcast to the records (200k sample: verify's
    # CPU -20%), a national one is a shuffle join
    small_register = n_residents <= int(run_cfg.get("broadcast_register_rows", 0))
    with stages.stage("model") as rows:
        model = learn_model(cfg, to_verify, register, per_cat, small_register)
        rows.update({"linked pairs sampled": model.pooled.pairs, "random pairs": model.u_pairs})
    for line in model.describe().splitlines():
        log.info("%s", line)

    with stages.stage("verify") as rows:
        duplicates = verify.duplicate_links(to_verify, register, cfg["categories"], cfg["thresholds"], model)
        linked = (
            to_verify
            .transform(verify.link_residents, register, small_register)
            .transform(verify.compare_links, cfg["thresholds"], model)
            .transform(verify.link_reasons, cfg["categories"], cfg["thresholds"], today, duplicates)
            .transform(verify.account_reasons, register, to_verify)
            .transform(verify.drop_compared)
        )
        linked = (linked.withColumn("in_ambiguous_group", F.coalesce(F.col("r_amb"), F.lit(False)))
                  .transform(materialise, cfg))
        rows["records checked"] = linked.count()

    with stages.stage("search") as rows:
        blocking = cfg["blocking"]
        # only the questioned records are searched (and joined with what the search found);
        # the others go straight on, so the wide linked rows are never shuffled here
        questioned = candidates.needs_search(linked, residents)
        if (cfg["blocking"].get("classify") or {}).get("flag_verified_ties", False):
            questioned = questioned | F.col("in_ambiguous_group")
        questioned = F.coalesce(questioned, F.lit(True))
        questioned_rows, few = broadcast_if_small(linked.where(questioned), verify.MAX_BROADCAST_SEARCHED)
        doubt = (verify.with_record_keys(questioned_rows, records, few)
                 .transform(candidates.blocking_keys)
                 .transform(materialise, cfg))
        n_doubt = doubt.count()
        # the candidates (with their reading keys) and the sized blocks are each read several times
        cands = materialise(candidates.resident_candidates(residents.where(F.col("usable")))
                            .transform(candidates.with_term_frequencies, blocking, residents_small), cfg)
        sized, r_keys = (materialise(d, cfg) for d in candidates.block_keys(doubt, cands, blocking))
        pairs = materialise(candidates.pairs_in_blocks(sized, r_keys, doubt, blocking), cfg)
        pass_figures = candidates.block_figures(sized, pairs, blocking)
        n_pairs = pairs.count()
        # how often the passes miss a record's own person, on a sample of the run's links
        sample_n = int((blocking.get("classify") or {}).get("miss_sample_links", 20000))
        links = linked.where(F.col("r_num").isNotNull()).sample(min(1.0, sample_n / max(1, n_records)), seed=7)
        links = verify.with_record_keys(links.select("row_id", "num", "score"), records, True).transform(
            candidates.blocking_keys)
        miss, miss_links = candidates.blocking_miss(links, cands, blocking)
        outside = candidates.outside_log2(n_residents, miss, blocking)
        scored = materialise(candidates.score_pairs(pairs, doubt, cands, cfg["thresholds"], blocking, n_residents,
                                                    model, outside), cfg)
        best = materialise(candidates.best_candidates(scored, cfg["thresholds"], outside), cfg)
        searched = linked.where(~questioned).unionByName(
            candidates.apply_candidates(doubt.select(*linked.columns), best, blocking), allowMissingColumns=True)
        log.info("search: passes miss %.2f%% of %d sampled links; outside the candidates %.1f bits",
                 100 * miss, miss_links, outside)
        figures = {"doubtful_records": int(n_doubt), "candidate_pairs": int(n_pairs),
                   # figures are integers: the share in parts per million, the bits in thousandths
                   "search.blocking_miss_ppm": round(1e6 * miss), "search.outside_millibits": round(1e3 * outside),
                   "ambiguous_residents": int(residents.where(F.col("amb")).count())}
        for r in pass_figures.collect():
            for k in ("pairs", "largest_block", "oversized_blocks", "skipped_blocks"):
                figures[f"pass.{r['pass']}.{k}"] = int(r[k] or 0)
        # how many best candidates only one pass found: what each pass is worth (tuning aid)
        for r in (best.where(F.size("s_passes") == 1).groupBy(F.col("s_passes")[0].alias("pass"))
                  .agg(F.count(F.lit(1)).alias("n")).collect()):
            figures[f"pass.{r['pass']}.sole_finds"] = int(r["n"])
        figures["largest_block"] = max([v for k, v in figures.items() if k.endswith(".largest_block")] or [0])
        figures["oversized_blocks"] = sum(v for k, v in figures.items() if k.endswith(".oversized_blocks"))
        rows.update({"doubtful records": n_doubt, "candidate pairs": n_pairs,
                     "largest block": figures["largest_block"]})

    with stages.stage("classify") as rows:
        # an account holder mismatch carries its evidence (holder_in_household) from verification
        flagged = searched.where(F.size("reasons") > 0)
        flagged = with_tokens(flagged, keys, {"__tok": "individual_number"}).withColumn(
            "resident_token", F.when(F.col("number_state") == "ok", F.col("__tok"))).drop("__tok")
        suspects = materialise(classify.suspects(flagged, run_id, cfg), cfg)
        n_suspects = suspects.count()
        rows["suspects"] = n_suspects
        reason_counts = {r["reason"]: r["n"] for r in suspects.groupBy("reason").agg(F.count(F.lit(1)).alias("n")).collect()}
        sus_per_cat = {r["category"]: r["n"] for r in suspects.groupBy("category").agg(F.count(F.lit(1)).alias("n")).collect()}
        # same person, wrong data: corrections for the holders, not suspects
        fix = with_tokens(searched.where(F.col("r_num").isNotNull()), keys, {"resident_token": "individual_number"})
        corrections = classify.corrections(fix, run_id, cfg)

    with stages.stage("stage_outputs") as rows:
        quarantine = (
            clean.quarantine_rows(residents, "residents")
            .unionByName(clean.quarantine_rows(records, "records"))
            .withColumn("run_id", F.lit(run_id))
            .select("run_id", "source", "category", "record_id", "resident_token", "column", "reason", "action")
        )
        staged_suspects = publish.stage(suspects, output_dir, run_id, "suspects")
        staged_quarantine = publish.stage(quarantine, output_dir, run_id, "quarantine")
        n_quarantined = staged_quarantine.count()
        staged_corrections = publish.stage(corrections, output_dir, run_id, "corrections")
        n_corrections = staged_corrections.count()
        staged_models = publish.stage(spark.createDataFrame(model.rows(run_id), M.MODELS_SCHEMA), output_dir, run_id,
                                      "models")
        figures["corrections"] = int(n_corrections)
        figures["replaced_identifiers"] = n_masked
        figures["corrected_records"] = int(staged_corrections.select("category", "record_id").distinct().count())
        rows.update({"suspects": n_suspects, "quarantine rows": n_quarantined, "corrections": n_corrections})

    for c in cat_rows:
        c["suspects"] = int(sus_per_cat.get(c["category"], 0))
    base.update({"suspects": int(n_suspects), "quarantined": int(n_quarantined),
                 "reason_counts": {k: int(v) for k, v in reason_counts.items()}, "figures": figures})
    with stages.stage("output_gate") as rows:
        rows["suspects"] = n_suspects
        out_gate = gates.output_gate(cfg, staged_suspects, {c: per_cat[c][0] for c in present}, run_id)
    if not out_gate.success:
        _gate_failed(spark, output_dir, run_id, out_gate, [in_gate, out_gate], base, t_start, stages)

    gate_s = in_gate.seconds + out_gate.seconds
    duration = time.perf_counter() - t_start
    log.info("gates: %.1f s of %.1f s so far (%.1f%%)", gate_s, duration, 100 * gate_s / duration)
    with publish.writing(f"{output_dir}/gates/{run_id}"):
        gates.write_results(output_dir, run_id, [in_gate, out_gate], duration)
    summary = {
        **base, "status": "published",
        "finished_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
        "duration_s": round(duration, 2),
        "stage_seconds": {k: round(v, 2) for k, v in stages.seconds.items()},
        "message": None,
    }
    with stages.stage("publish") as rows:
        rows.update({"suspects": n_suspects, "quarantine rows": n_quarantined, "runs": 1})
        publish.commit(spark, output_dir, run_id, [("suspects", staged_suspects), ("quarantine", staged_quarantine),
                                                   ("corrections", staged_corrections), ("models", staged_models)],
                       publish.runs_row(spark, summary), attempt, lock)
    # the runs row cannot hold its own commit time: the returned summary does
    summary["stage_seconds"] = {k: round(v, 2) for k, v in stages.seconds.items()}
    summary["duration_s"] = round(time.perf_counter() - t_start, 2)
    summary["suspects_by_category_reason"] = [
        (r["category"], r["reason"], r["n"]) for r in
        suspects.groupBy("category", "reason").agg(F.count(F.lit(1)).alias("n")).orderBy("category", "reason").collect()
    ]
    return summary
