"""Per-holder review queues: one holder's suspects of one run, as Parquet and CSV.

Each of the data holders may see only its own records, so an export is selected by
``holder_id`` (``conf/categories.yaml``; several categories share one holder) and holds
nothing else.  Rows are ordered by severity (high first), then priority (descending),
and the evidence struct is flattened into plain columns a reviewer can read in a
spreadsheet: the comparison level of each basic item against the linked resident
(``linked_<field>``) and against the suggested resident (``suggested_<field>``), the name
judgement, the number's state, the resident's status and age, and the other records a
duplicate link or a shared account involves.

CSV is written as UTF-8 with a BOM (``utf-8-sig``, what spreadsheets recognise) or as
CP932 for older tools; characters CP932 cannot hold are replaced by ``?`` and counted
(the usual JIS mapping differences such as 〜/～ and −/－ are mapped, not replaced).  A CSV
cell that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return) is prefixed with ``'`` (`neutralise`).  The Parquet file keeps
every value as it is.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import publish
from jobs.errors import UsageError
from jobs.report import (PREFECTURES, REASON_JA, SEVERITY_JA, holder_categories, resolve_run)

log = logging.getLogger("tenken")

ENCODINGS = ("utf-8-sig", "cp932")
BATCH_ROWS = 20000

# Unicode code points whose usual Japanese rendering CP932 holds under another code point.
CP932_MAP = str.maketrans({
    "\u301c": "\uff5e",  # 〜 WAVE DASH -> ～
    "\u2016": "\u2225",  # ‖ -> ∥
    "\u2212": "\uff0d",  # − MINUS SIGN -> －
    "\u2014": "\u2015",  # — EM DASH -> ―
    "\u00a2": "\uffe0", "\u00a3": "\uffe1", "\u00ac": "\uffe2",
})


def _label(mapping: dict, col: Column) -> Column:
    return F.element_at(F.create_map(*[F.lit(x) for kv in mapping.items() for x in kv]), col)


def flatten_evidence(df: DataFrame) -> list[Column]:
    """Plain columns from the ``evidence`` struct: string maps become one column per key
    (``linked_levels`` -> ``linked_<field>``), arrays are joined with ``;``, numeric maps
    (the field weights) are left out.  Evidence of another shape is kept as JSON text."""
    from jobs.compare import FIELDS

    ev = df.schema["evidence"].dataType
    if not isinstance(ev, T.StructType):
        return [F.to_json("evidence").alias("evidence")]
    cols = []
    for f in ev.fields:
        c = F.col(f"evidence.{f.name}")
        dt = f.dataType
        if isinstance(dt, T.MapType):
            if isinstance(dt.valueType, T.StringType):
                prefix = f.name[:-len("_levels")] if f.name.endswith("_levels") else f.name
                cols += [c.getItem(k).alias(f"{prefix}_{k}") for k in FIELDS]
        elif isinstance(dt, T.ArrayType):
            cols.append(F.array_join(c.cast("array<string>"), ";").alias(f.name))
        elif isinstance(dt, T.StructType):
            cols.append(F.to_json(c).alias(f.name))
        else:
            cols.append(c.alias(f.name))
    return cols


def review_queue(spark: SparkSession, cfg: dict, output: str, holder: str, category: str | None = None,
                 run_id: str | None = None) -> tuple[DataFrame, dict]:
    """The ordered, flattened review queue of one holder (optionally one of its categories)."""
    cats = holder_categories(cfg, holder)
    if not cats:
        known = sorted({s.get("holder_id") for s in cfg["categories"].values() if s.get("holder_id")})
        raise UsageError(f"unknown holder {holder!r} (known: {', '.join(known)})")
    if category is not None:
        if category not in cfg["categories"]:
            raise UsageError(f"unknown category {category!r}")
        if category not in cats:
            raise UsageError(f"category {category} belongs to holder "
                             f"{cfg['categories'][category].get('holder_id')}, not {holder}")
        cats = [category]
    run = resolve_run(spark, output, run_id, published_only=True)
    sus = publish.read_table(spark, output, "suspects")
    if sus is None:
        raise UsageError(f"no suspects table under {output}")
    names_ja = {cid: cfg["categories"][cid].get("name_ja", "") for cid in cats}
    sev_rank = F.when(F.col("severity") == "high", 3).when(F.col("severity") == "medium", 2).otherwise(1)
    # both the configured categories and the stored holder id must say it is this holder's
    mine = sus.where((F.col("run_id") == run["run_id"]) & F.col("category").isin(cats)
                     & (F.coalesce(F.col("holder_id"), F.lit(holder)) == holder))
    queue = (
        mine.withColumn("_rank", sev_rank)
        .orderBy(F.col("_rank").desc(), F.col("priority").desc_nulls_last(), "category", "record_id")
        .select(
            F.col("run_id"),
            F.lit(holder).alias("holder_id"),
            F.col("category"),
            _label(names_ja, F.col("category")).alias("category_ja"),
            F.col("record_id"),
            F.col("severity"),
            _label(SEVERITY_JA, F.col("severity")).alias("severity_ja"),
            F.col("reason"),
            _label(REASON_JA, F.col("reason")).alias("reason_ja"),
            F.array_join("reasons", ";").alias("reasons"),
            F.round("priority", 3).alias("priority"),
            F.round("score", 3).alias("score"),
            F.round("suggested_score", 3).alias("suggested_score"),
            F.col("municipality_code"),
            _label(PREFECTURES, F.substring("municipality_code", 1, 2)).alias("prefecture"),
            F.col("resident_token"),
            F.col("suggested_token"),
            *flatten_evidence(sus),
        )
    )
    return queue, {"run_id": run["run_id"], "holder_id": holder, "categories": cats}


def _cp932_cell(value: str, counter: list[int]) -> str:
    try:
        value.encode("cp932")
        return value
    except UnicodeEncodeError:
        pass
    out = []
    for ch in value.translate(CP932_MAP):
        try:
            ch.encode("cp932")
            out.append(ch)
        except UnicodeEncodeError:
            out.append("?")
            counter[0] += 1
    return "".join(out)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
"""A CSV cell starting with one of these is read as a formula by a spreadsheet (OWASP's CSV
injection list, plus the full-width forms a Japanese spreadsheet may take as the same)."""


def neutralise(text: str) -> str:
    """OWASP's rule for CSV cells: one that a spreadsheet would read as a formula is prefixed
    with a single quote (``=HYPERLINK(…)`` -> ``'=HYPERLINK(…)``), so it is shown as text."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return neutralise(str(v))


def export_holder(spark: SparkSession, cfg: dict, output: str, holder: str, category: str | None = None,
                  run_id: str | None = None, dest: str | None = None, encoding: str = "utf-8-sig") -> dict:
    """Write the holder's queue as ``<name>.parquet`` and ``<name>.csv`` under ``dest``
    (default ``OUTPUT/exports/<run_id>/``).  Returns the paths, the row count and how many
    characters CP932 could not hold."""
    from pyspark.sql.pandas.types import to_arrow_schema

    enc = encoding.lower().replace("_", "-")
    if enc in ("shift-jis", "sjis", "windows-31j", "ms932"):
        enc = "cp932"
    if enc in ("utf-8", "utf8"):
        enc = "utf-8-sig"
    if enc not in ENCODINGS:
        raise UsageError(f"--encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    queue, ctx = review_queue(spark, cfg, output, holder, category, run_id)
    out_dir = Path(dest) if dest else Path(output) / "exports" / ctx["run_id"]
    out_dir.mkdir(parents=True, exist_ok=True)
    name = holder if category is None else f"{holder}__{category}"
    pq_path, csv_path = out_dir / f"{name}.parquet", out_dir / f"{name}.csv"
    schema = to_arrow_schema(queue.schema)
    columns = queue.columns
    replaced = [0]
    rows = 0
    tmp_pq, tmp_csv = pq_path.with_suffix(".parquet.tmp"), csv_path.with_suffix(".csv.tmp")
    with pq.ParquetWriter(tmp_pq, schema) as pw, \
            open(tmp_csv, "w", encoding=enc, newline="", errors="strict") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        batch: list[dict] = []

        def flush():
            if batch:
                pw.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch.clear()

        for r in queue.toLocalIterator():
            d = r.asDict()
            batch.append(d)
            cells = [_cell(d[c]) for c in columns]
            if enc == "cp932":
                cells = [neutralise(_cp932_cell(c, replaced)) for c in cells]
            w.writerow(cells)
            rows += 1
            if len(batch) >= BATCH_ROWS:
                flush()
        flush()
    tmp_pq.replace(pq_path)
    tmp_csv.replace(csv_path)
    if replaced[0]:
        log.warning("export %s: %d character(s) not in CP932 replaced with '?' in %s", name, replaced[0], csv_path)
    return {**ctx, "rows": rows, "parquet": str(pq_path), "csv": str(csv_path), "encoding": enc,
            "replaced_chars": replaced[0]}
