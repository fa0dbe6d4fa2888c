"""Reading the run's input folder and checking its layout against schemas/.

This is one of the two I/O ends of a run (the other is `jobs.publish`).  Every problem
with the layout is a `UsageError`: one line, exit status 2.
"""

from __future__ import annotations

import json
import logging
from functools import reduce
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.errors import UsageError

log = logging.getLogger("tenken")
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
_STRINGY = (T.StringType, T.VarcharType, T.CharType)


def load_schema(name: str) -> dict:
    """The column list of schemas/<name>.json."""
    path = SCHEMA_DIR / f"{name}.json"
    if not path.exists():
        path = Path(__file__).resolve().parent / "schemas" / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def skipped(path: Path, folder: Path) -> bool:
    """True for what Spark skips when it lists a folder: any name under ``folder`` starting
    with ``_`` or ``.`` (``_SUCCESS``, ``_delta_log``, ``.part-0.parquet.crc``, ``.DS_Store``)."""
    return any(part.startswith(("_", ".")) for part in path.relative_to(folder).parts)


def data_files(folder: Path) -> list[Path]:
    """The files Spark reads in ``folder`` (recursively, skipping `skipped` names), broken
    symbolic links included (they are unreadable files, not absent ones)."""
    return sorted(p for p in folder.rglob("*") if (p.is_file() or p.is_symlink() and not p.exists())
                  and not skipped(p, folder))


PARQUET_MAGIC = b"PAR1"
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2")


def _is_parquet(path: Path) -> bool:
    """Parquet's magic at both ends; an OSError (unreadable file) is a UsageError naming it."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            if len(head) < 4:
                return False
            fh.seek(-4, 2)
            tail = fh.read(4)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    return head == PARQUET_MAGIC and tail == PARQUET_MAGIC


def check_files(folder: Path, fmt: str) -> None:
    """Every file Spark would read in a Parquet or CSV folder is one of its kind: a stray
    non-data file (README.txt, a spreadsheet beside the CSV files) or an unreadable one is a
    UsageError naming it, before Spark reads it (as Parquet, a stray file fails the read with
    a Py4J error; as CSV it would be read as rows)."""
    for path in data_files(folder):
        if fmt == "parquet":
            if not _is_parquet(path):
                raise UsageError(f"{path}: not a Parquet file (a stray non-data file in a Parquet folder: "
                                 "remove it, or prefix its name with _ or .)")
        elif fmt == "csv":
            if not path.name.lower().endswith(CSV_SUFFIXES):
                raise UsageError(f"{path}: not a CSV file (a stray non-data file in a CSV folder: "
                                 "remove it, or prefix its name with _ or .)")
            try:
                with open(path, "rb") as fh:
                    fh.read(1)
            except OSError as exc:
                raise UsageError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None


def detect_format(folder: Path) -> str:
    """'delta', 'parquet' or 'csv' from the folder's files; UsageError when there is no data."""
    if (folder / "_delta_log").is_dir():
        return "delta"
    files = data_files(folder)
    if any(p.suffix.lower() == ".parquet" for p in files):
        return "parquet"
    if any(p.name.lower().endswith(CSV_SUFFIXES) for p in files):
        return "csv"
    if not files:
        raise UsageError(f"input folder {folder} is empty")
    raise UsageError(f"input folder {folder} holds no Parquet, CSV or Delta data")


def _check_csv_encoding(folder: Path, encoding: str) -> None:
    """Decode the head of each CSV file with the configured encoding; a failure is a layout error."""
    for path in data_files(folder):
        if not path.name.lower().endswith(".csv"):
            continue
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
        # cut at the last newline so a multi-byte character is not split
        cut = head.rfind(b"\n")
        head = head[: cut + 1] if cut > 0 else head
        try:
            head.decode(encoding)
        except UnicodeDecodeError:
            raise UsageError(
                f"{path} is not valid {encoding} (set input.csv_encoding in the config to the file's encoding)"
            ) from None


def _csv_encoding(cfg: dict) -> str:
    return (cfg.get("input") or {}).get("csv_encoding", "UTF-8")


def _csv_reader(spark: SparkSession, cfg: dict):
    """The reader of input CSV files: header line, configured encoding, every value text.

    CP932 is Java's ``windows-31j`` (Microsoft's Shift_JIS with the NEC and IBM extensions:
    髙, ①); Java's own ``CP932`` name decodes those characters wrongly."""
    encoding = _csv_encoding(cfg)
    if encoding.lower().replace("_", "-") in ("cp932", "ms932", "windows-31j"):
        encoding = "windows-31j"
    return (spark.read.option("header", True).option("encoding", encoding)
            .option("inferSchema", False).option("mode", "PERMISSIVE"))


def read_folder(spark: SparkSession, folder: Path, cfg: dict, fmt: str | None = None) -> DataFrame:
    """Read one input folder (Parquet, CSV or Delta; ``fmt`` from `detect_format` when not
    given); column names lower-cased."""
    fmt = fmt or detect_format(folder)
    check_files(folder, fmt)
    try:
        if fmt == "delta":
            df = spark.read.format("delta").load(str(folder))
        elif fmt == "parquet":
            df = spark.read.parquet(str(folder))
        else:
            _check_csv_encoding(folder, _csv_encoding(cfg))
            df = _csv_reader(spark, cfg).csv(str(folder))
        cols = df.columns
    except UsageError:
        raise
    except Exception as exc:  # corrupt file, unreadable footer ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot read {folder}: {first[:300]}") from None
    return df.toDF(*[c.strip().lower() for c in cols])


def conform(df: DataFrame, schema_name: str, where: str, keep: tuple[str, ...] = ()) -> DataFrame:
    """Select the schema's columns in order; raw values stay text so bad fields can be quarantined.

    ``keep`` names columns passed through as they are.  Missing required columns and wrong
    types are UsageErrors.  Dates may arrive as date,
    timestamp or text; booleans as boolean or text; everything else must be text.  A column
    of another type that holds no value at all (pandas and pyarrow write an all-null column
    as Parquet type null, which Spark reads as int) loses nothing: it is an absent column.
    """
    schema = load_schema(schema_name)
    types = {f.name: f.dataType for f in df.schema.fields}
    wanted = {c["name"]: c["type"] for c in schema["columns"]}
    for name in [n for n in wanted if n in types and not _type_ok(types[n], wanted[n])]:
        if _all_null(df, name):
            log.warning("%s: column %s (type %s) holds no value: read as an absent column", where, name,
                        types[name].simpleString())
            del types[name]
    missing = [c["name"] for c in schema["columns"] if c.get("required") and c["name"] not in types]
    if missing:
        raise UsageError(f"{where}: missing required column(s) {', '.join(missing)}")
    exprs = []
    for col in schema["columns"]:
        name, want = col["name"], col["type"]
        if name not in types:
            exprs.append(F.lit(None).cast("string").alias(name))
            continue
        have = types[name]
        if not _type_ok(have, want):
            raise UsageError(
                f"{where}: column {name} has type {have.simpleString()}, expected {want}"
                + (" as text (a number type loses leading zeros)" if name == "individual_number" else "")
            )
        if isinstance(have, (T.DateType, T.TimestampType, T.TimestampNTZType)):
            exprs.append(F.date_format(F.col(name), "yyyy-MM-dd").alias(name))
        else:
            exprs.append(F.col(name).cast("string").alias(name))
    return df.select(*exprs, *keep)


def _type_ok(have: T.DataType, want: str) -> bool:
    ok = isinstance(have, _STRINGY) or isinstance(have, T.NullType)
    if want == "date":
        ok = ok or isinstance(have, (T.DateType, T.TimestampType, T.TimestampNTZType))
    if want == "boolean":
        ok = ok or isinstance(have, T.BooleanType)
    return ok


def _all_null(df: DataFrame, name: str) -> bool:
    """True when column ``name`` holds no value (one narrow scan, only for a column whose type
    would otherwise be refused)."""
    return not df.select(name).where(F.col(name).isNotNull()).limit(1).collect()


def read_inputs(spark: SparkSession, input_dir: str, cfg: dict, only: list[str] | None = None):
    """Read INPUT/residents and INPUT/categories/<id>.

    Returns (residents, records, counts) where records is the union of all categories
    with a ``category`` column, and counts maps category -> folder path.
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise UsageError(f"input folder not found: {input_dir}")
    res_dir, cat_root = root / "residents", root / "categories"
    if not res_dir.is_dir():
        raise UsageError(f"missing folder {res_dir} (the resident register extract)")
    if not cat_root.is_dir():
        raise UsageError(f"missing folder {cat_root} (one folder per linked category)")
    configured = cfg["categories"]
    # folders Spark would skip (_temporary, .ipynb_checkpoints) are no categories
    present = sorted(p.name for p in cat_root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    unknown = [c for c in present if c not in configured]
    if unknown:
        raise UsageError(f"category folder(s) not configured in categories.yaml: {', '.join(unknown)}")
    if only:
        bad = [c for c in only if c not in configured]
        if bad:
            raise UsageError(f"--categories names unknown categories: {', '.join(bad)}")
        absent = [c for c in only if c not in present]
        if absent:
            raise UsageError(f"--categories names categories with no input folder: {', '.join(absent)}")
        present = [c for c in present if c in only]
    if not present:
        raise UsageError(f"no category folders under {cat_root}")

    residents = conform(read_folder(spark, res_dir, cfg), "residents", "residents")
    parts, raw = [], []
    formats = {cid: detect_format(cat_root / cid) for cid in present}
    for cid in present:
        folder_df = read_folder(spark, cat_root / cid, cfg, formats[cid])
        df = conform(folder_df, "category", f"categories/{cid}")   # each folder's layout checked
        raw.append(folder_df)
        parts.append(df.withColumn("category", F.lit(cid)))
    one = _one_scan(spark, cat_root, present, [formats[c] for c in present], raw, cfg)
    records = one if one is not None else reduce(lambda a, b: a.unionByName(b), parts)
    return residents, records, present


def _one_scan(spark: SparkSession, cat_root: Path, present: list[str], formats: list[str],
              raw: list[DataFrame], cfg: dict) -> DataFrame | None:
    """All category folders as one file scan, ``category`` taken from each file's folder;
    None when they cannot be read so (Delta tables, sub-folders, a column typed differently
    in two folders, CSV folders with different headers).

    The union of one scan per folder is what the checks above read; as the run's input it
    is slow: Spark pushes every projection over a union into each branch, so the cleaning
    and normalisation code would be generated, compiled and warmed up once per category
    (29 times; 200k sample: cleaning 53 s from the union, 30 s from one scan)."""
    folders = [cat_root / cid for cid in present]
    kinds = set(formats)
    if len(kinds) != 1 or kinds & {"delta"}:
        return None
    if any(p.is_dir() and not p.name.startswith((".", "_")) for f in folders for p in f.iterdir()):
        return None   # partitioned or nested folders: read one by one
    fmt = kinds.pop()
    if fmt == "parquet":
        # a column some folders lack is read as null from their files (as in the union)
        fields: dict[str, T.StructField] = {}
        for df in raw:
            for f in df.schema.fields:
                if fields.setdefault(f.name, f).dataType != f.dataType:
                    return None
        schema = T.StructType(list(fields.values()))
        reader = spark.read
    else:
        # CSV columns are positional: the folders must have the same header
        if len({tuple(df.columns) for df in raw}) != 1:
            return None
        schema = raw[0].schema
        reader = _csv_reader(spark, cfg)
    df = reader.schema(schema).format(fmt).load([str(f) for f in folders])
    # the folder of each file is its category (ids are plain names, never escaped in the path)
    category = F.regexp_extract(F.col("_metadata.file_path"), r".*/categories/([^/]+)/[^/]*$", 1)
    return conform(df.withColumn("category", category), "category", "categories", keep=("category",))
