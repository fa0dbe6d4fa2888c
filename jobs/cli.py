"""The `tenken` command line (click).  Exit status: 0 published, 2 bad usage/config/layout,
3 a gate failed and nothing was published, 1 anything else."""

from __future__ import annotations

import functools
import logging
import os
import sys

import click

from jobs.errors import TenkenError, UsageError, from_spark


def _fail(exc: BaseException) -> None:
    code = getattr(exc, "exit_code", 1)
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    click.echo(f"tenken: error: {msg}", err=True)
    sys.exit(code)


def _one_line_errors(fn):
    """Map errors to the contract's exit statuses with a one-line message (TenkenError: its
    own status; anything else: 1, with the traceback only in the debug log)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TenkenError as exc:
            _fail(exc)
        except Exception as exc:  # noqa: BLE001 - anything else is exit 1 with one line
            logging.getLogger("tenken").debug("failure", exc_info=True)
            # a Spark/Py4J failure names its cause (a file it could not read: exit 2), not Py4J's call
            _fail(from_spark(exc) or exc)
    return wrapper


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s [tenken] %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("py4j").setLevel(logging.ERROR)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


@click.group()
@click.option("-v", "--verbose", is_flag=True, default=True, help="Log each stage (default on).")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings only.")
def main(verbose: bool, quiet: bool) -> None:
    """Tenken (点検): check that linked records belong to the right person's My Number."""
    _setup_logging(verbose and not quiet)


@main.command()
@click.option("--input", "input_dir", required=True, help="Input folder: residents/ and categories/<id>/.")
@click.option("--output", "output_dir", required=True, help="Output folder for the Delta tables.")
@click.option("--conf", "conf_file", default=None, help="YAML merged over conf/local.yaml.")
@click.option("--run-id", default=None, help="Run id (default: UTC timestamp). A rerun replaces its rows.")
@click.option("--categories", default=None, help="Comma-separated subset of categories.")
@_one_line_errors
def reconcile(input_dir, output_dir, conf_file, run_id, categories):
    """Reconcile one input folder and publish the suspects."""
    from jobs.config import load_config, validate_run_id
    from jobs.pipeline import run
    from jobs.report import print_summary

    validate_run_id(run_id)   # before anything is read or written
    cfg = load_config(conf_file)
    only = [c.strip() for c in categories.split(",") if c.strip()] if categories else None
    summary = run(cfg, input_dir, output_dir, run_id, only)
    print_summary(summary, cfg)


@main.command()
@click.option("--output", "output_dir", required=True, help="Folder to write the sample into.")
@click.option("--residents", default=20000, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--encoding", default="UTF-8", show_default=True, help="CSV encoding (UTF-8 or CP932).")
@click.option("--rate", multiple=True, help="Override a rate, e.g. --rate wrong_random=0.002.")
@_one_line_errors
def generate(output_dir, residents, seed, fmt, encoding, rate):
    """Generate realistic sample input plus an answer key."""
    from jobs.generate import generate as gen

    rates = {}
    for item in rate:
        k, _, v = item.partition("=")
        if not v:
            raise UsageError(f"--rate takes NAME=VALUE, got {item!r}")
        rates[k.strip()] = float(v)
    summary = gen(output_dir, residents, seed, fmt=fmt, encoding=encoding, rates=rates or None)
    click.echo(f"wrote {summary.get('residents', residents)} residents and "
               f"{summary.get('records', '?')} records to {output_dir}")


@main.command()
@click.option("--data", "data_dir", required=True, help="The generated sample (with answer_key/).")
@click.option("--output", "output_dir", required=True, help="The output folder of the run.")
@click.option("--run-id", default=None, help="Run to evaluate (default: the newest published).")
@click.option("--conf", "conf_file", default=None)
@_one_line_errors
def evaluate(data_dir, output_dir, run_id, conf_file):
    """Compare a run's suspects with the sample's answer key."""
    from jobs.config import load_config, token_key, validate_run_id
    from jobs.evaluate import evaluate as ev
    from jobs.evaluate import format_result
    from jobs.session import get_spark

    validate_run_id(run_id)
    cfg = load_config(conf_file)
    res = ev(get_spark(cfg), data_dir, output_dir, run_id, token_key(cfg))
    click.echo(format_result(res))


@main.command("estimate-u")
@click.option("--input", "input_dir", required=True, help="Input folder whose residents/ are sampled.")
@click.option("--pairs", "n_pairs", default=1_000_000, show_default=True, type=int,
              help="About how many random pairs of residents to compare.")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--conf", "conf_file", default=None)
@_one_line_errors
def estimate_u(input_dir, n_pairs, seed, conf_file):
    """Estimate u per comparison level from random pairs of residents (prints YAML)."""
    import datetime as dt

    from pyspark.sql import functions as F

    from jobs import clean, estimate, features, readings
    from jobs.config import load_config
    from jobs.io import read_inputs
    from jobs.session import get_spark

    cfg = load_config(conf_file)
    spark = get_spark(cfg)
    residents, _, _ = read_inputs(spark, input_dir, cfg)
    names = readings.configured_table(spark, cfg)
    today = F.lit(dt.date.today().isoformat()).cast("date")
    feats = (residents.transform(clean.clean_residents, today).where(F.col("usable"))
             .transform(features.resident_features, readings=names)
             .withColumnRenamed("birth_date", "bd").withColumnRenamed("sex", "sx").localCheckpoint())
    est = estimate.u_by_level(estimate.random_pairs(feats, n_pairs, seed))
    click.echo(estimate.as_yaml(est, cfg["thresholds"]["comparisons"]))


# --- the headquarters' view: report, changes, export, runs (issue 6) ---------------------

def _spark_cfg(conf_file):
    from jobs.config import load_config
    from jobs.session import get_spark

    cfg = load_config(conf_file)
    return get_spark(cfg), cfg


@main.command()
@click.option("--output", "output_dir", required=True, help="The output folder of the runs.")
@click.option("--run-id", default=None, help="Run to report (default: the newest published).")
@click.option("--conf", "conf_file", default=None)
@_one_line_errors
def report(output_dir, run_id, conf_file):
    """Write OUTPUT/reports/<run_id>/index.html (and the run's rows of OUTPUT/changes)."""
    from jobs.config import validate_run_id
    from jobs.report_html import write_report

    validate_run_id(run_id)
    spark, cfg = _spark_cfg(conf_file)
    path = write_report(spark, cfg, output_dir, run_id)
    click.echo(f"wrote {path}")


@main.command()
@click.option("--output", "output_dir", required=True, help="The output folder of the runs.")
@click.option("--run-id", default=None, help="Run to compare with its previous published run (default: newest).")
@click.option("--conf", "conf_file", default=None)
@_one_line_errors
def changes(output_dir, run_id, conf_file):
    """New / persisting / resolved suspects against the previous published run; rows go to OUTPUT/changes."""
    from jobs.changes import build_changes, format_counts
    from jobs.config import validate_run_id

    validate_run_id(run_id)
    spark, cfg = _spark_cfg(conf_file)
    ctx, counts = build_changes(spark, output_dir, run_id)
    click.echo(format_counts(ctx, counts, cfg))


@main.command()
@click.option("--output", "output_dir", required=True, help="The output folder of the runs.")
@click.option("--holder", required=True, help="holder_id from conf/categories.yaml.")
@click.option("--category", default=None, help="Only this category of the holder.")
@click.option("--run-id", default=None, help="Run to export (default: the newest published).")
@click.option("--dest", default=None, help="Folder for the files (default: OUTPUT/exports/<run_id>).")
@click.option("--encoding", default="utf-8-sig", show_default=True,
              type=click.Choice(["utf-8-sig", "cp932"], case_sensitive=False), help="CSV encoding.")
@click.option("--conf", "conf_file", default=None)
@_one_line_errors
def export(output_dir, holder, category, run_id, dest, encoding, conf_file):
    """Write one holder's review queue as Parquet and CSV."""
    from jobs.config import validate_run_id
    from jobs.export import export_holder

    validate_run_id(run_id)
    spark, cfg = _spark_cfg(conf_file)
    res = export_holder(spark, cfg, output_dir, holder, category, run_id, dest, encoding)
    click.echo(f"run {res['run_id']}: {res['rows']:,} suspects of {res['holder_id']} "
               f"({', '.join(res['categories'])})")
    click.echo(f"  {res['parquet']}\n  {res['csv']} ({res['encoding']})")
    if res["replaced_chars"]:
        click.echo(f"  {res['replaced_chars']:,} character(s) not in CP932 replaced with '?' in the CSV "
                   f"(the Parquet file keeps them)")


@main.command()
@click.option("--output", "output_dir", required=True, help="The output folder of the runs.")
@click.option("--limit", default=50, show_default=True, type=int, help="Newest runs to list (0: all).")
@click.option("--conf", "conf_file", default=None)
@_one_line_errors
def runs(output_dir, limit, conf_file):
    """List past runs with status, counts and durations (newest first)."""
    from jobs.report import format_runs, runs_rows

    spark, _ = _spark_cfg(conf_file)
    rows = runs_rows(spark, output_dir)
    if not rows:
        raise UsageError(f"no runs table under {output_dir}")
    click.echo(format_runs(rows[:limit] if limit > 0 else rows))


if __name__ == "__main__":  # pragma: no cover
    main()
