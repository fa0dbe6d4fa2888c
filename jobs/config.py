"""Configuration: YAML files under conf/, merged over the packaged defaults.

Operators tune behaviour here (categories, field weights, blocking keys, thresholds),
not in code.  `load_config(path)` returns a plain dict with the categories and the
thresholds already loaded.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import yaml

from jobs.errors import UsageError

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
BASIC_FIELDS = ("name_kanji", "name_kana", "birth_date", "sex", "address")

CATEGORY_IDS = (
    "health_insurance", "national_health_insurance", "late_elderly_medical",
    "medical_claims", "medical_expenses", "specific_health_checkup", "cancer_screening",
    "vaccination", "school_health", "intractable_disease", "pediatric_chronic_disease",
    "public_pension", "mutual_aid_pension", "national_tax", "resident_tax",
    "public_benefit_account", "child_allowance", "child_rearing_allowance",
    "maternal_child_health", "school_attendance_support", "disability_certificate",
    "disability_welfare_services", "public_assistance", "china_returnee_support",
    "long_term_care_insurance", "employment_insurance", "workers_compensation",
    "mynapoint", "individual_number_card",
)


def _conf_dir() -> Path:
    """conf/ next to the package (source checkout) or shipped beside it (spark-submit)."""
    env = os.environ.get("TENKEN_CONF_DIR")
    if env:
        return Path(env)
    if CONF_DIR.is_dir():
        return CONF_DIR
    return Path(__file__).resolve().parent / "conf"


def deep_merge(base: dict, over: dict) -> dict:
    """Return base with over merged in (dicts recursively, everything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must hold a mapping at the top level")
    return data


def validate_categories(cats: dict) -> None:
    """Check the category table against the contract's 29 ids and field names."""
    unknown = sorted(set(cats) - set(CATEGORY_IDS))
    if unknown:
        raise UsageError(f"categories.yaml names categories not in the contract: {', '.join(unknown)}")
    for cid, spec in cats.items():
        bad = [f for f in spec.get("fields", []) if f not in BASIC_FIELDS]
        if bad:
            raise UsageError(f"category {cid}: unknown fields {bad} (allowed: {', '.join(BASIC_FIELDS)})")
        if not spec.get("fields"):
            raise UsageError(f"category {cid}: no fields configured")


_SIZE_UNITS = {"b": 0, "k": 10, "kb": 10, "m": 20, "mb": 20, "g": 30, "gb": 30,
               "t": 40, "tb": 40, "p": 50, "pb": 50}
# Spark's memory settings, in spark.* form; the YAML's own two keys are checked as these
SIZE_SETTINGS = ("spark.driver.memory", "spark.driver.memoryOverhead", "spark.driver.minMemoryOverhead",
                 "spark.executor.memory", "spark.executor.memoryOverhead", "spark.executor.pyspark.memory")


def parse_size(text: str | int | None, what: str = "size") -> int | None:
    """Bytes of a size written as Spark reads its memory settings (``JavaUtils.byteStringAs``):
    digits with an optional unit b, k, m, g, t or p (also kb ... pb), any case; a bare number
    is MiB.  None or empty gives None; anything else, fractions included (``1.5g``, which Spark
    refuses), raises UsageError naming ``what``."""
    if text is None or str(text).strip() == "":
        return None
    m = re.fullmatch(r"([0-9]+)([a-z]*)", str(text).strip().lower())
    if not m or (m.group(2) and m.group(2) not in _SIZE_UNITS):
        raise UsageError(f"{what}: {str(text)!r} is not a size Spark reads "
                         "(whole digits with an optional unit b, k, m, g, t or p, e.g. 6g or 1536m)")
    return int(m.group(1)) << _SIZE_UNITS[m.group(2) or "m"]


def validate_spark_sizes(spark_cfg: dict) -> None:
    """Check the memory sizes of a config's ``spark`` section before any JVM starts: Spark itself
    accepts a malformed overhead silently in local mode and reports a malformed driver memory
    as a multi-line launcher error."""
    named = {"spark.driver_memory": spark_cfg.get("driver_memory"),
             "spark.driver_memory_overhead": spark_cfg.get("driver_memory_overhead")}
    conf = spark_cfg.get("conf") or {}
    named.update({f"spark.conf {k}": conf[k] for k in SIZE_SETTINGS if k in conf})
    for what, value in named.items():
        parse_size(value, what)


def load_config(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load conf/local.yaml, merge the file at `path` over it, and attach categories and thresholds."""
    from jobs import confcheck

    conf_dir = _conf_dir()
    cfg = _read_yaml(conf_dir / "local.yaml")
    confcheck.check(cfg, confcheck.LOCAL, "local.yaml", complete=False)
    base_dir = conf_dir
    if path is not None:
        path = Path(path)
        over = _read_yaml(path)
        confcheck.check(over, confcheck.LOCAL, path.name, complete=False)
        cfg = deep_merge(cfg, over)
        base_dir = path.parent
    confcheck.check(cfg, confcheck.LOCAL, "local.yaml" if path is None else f"local.yaml + {path.name}")

    def _side(name: str) -> Path:
        p = Path(cfg[name])
        if p.is_absolute():
            return p
        return base_dir / p if (base_dir / p).exists() else conf_dir / p

    validate_spark_sizes(cfg.get("spark") or {})
    cats_file = _side("categories_file")
    cats_yaml = _read_yaml(cats_file)
    confcheck.check_categories(cats_yaml, cats_file.name)
    cats = cats_yaml.get("categories") or {}
    validate_categories(cats)
    cfg["categories"] = cats
    th_file = _side("thresholds_file")
    cfg["thresholds"] = _read_yaml(th_file)
    confcheck.check(cfg["thresholds"], confcheck.THRESHOLDS, th_file.name)
    from jobs.compare import validate_comparisons
    from jobs.model import model_settings

    try:
        validate_comparisons(cfg["thresholds"].get("comparisons"), f"{Path(cfg['thresholds_file']).name} comparisons")
        model_settings(cfg["thresholds"])
        validate_decision(cfg["thresholds"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    bl_file = _side("blocking_file")
    cfg["blocking"] = _read_yaml(bl_file)
    confcheck.check(cfg["blocking"], confcheck.BLOCKING, bl_file.name)
    return cfg


DECISION_KEYS = {"match_threshold": float, "search_fields": list, "correction_fields": list}


def validate_decision(thresholds: dict) -> None:
    """The ``decision`` section: every key present, of its type, fields known."""
    dec = thresholds.get("decision")
    if not isinstance(dec, dict):
        raise ValueError("thresholds.yaml decision: missing (match_threshold, search_fields, correction_fields)")
    unknown = sorted(set(dec) - set(DECISION_KEYS))
    if unknown:
        raise ValueError(f"thresholds.yaml decision: unknown key {', '.join(unknown)} (keys: {', '.join(DECISION_KEYS)})")
    for k, kind in DECISION_KEYS.items():
        if k not in dec:
            raise ValueError(f"thresholds.yaml decision.{k}: missing")
    t = dec["match_threshold"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 1:
        raise ValueError(f"thresholds.yaml decision.match_threshold: {t!r} is not a probability between 0 and 1")
    for k in ("search_fields", "correction_fields"):
        if not isinstance(dec[k], list) or any(f not in BASIC_FIELDS for f in dec[k]):
            raise ValueError(f"thresholds.yaml decision.{k}: {dec[k]!r} is not a list of fields of {', '.join(BASIC_FIELDS)}")


MIN_KEY_BYTES = 32
"""The token key's least length in UTF-8 bytes (HMAC-SHA256's output size: a shorter key
is guessable and gives every number's token away)."""


def token_key(cfg: dict) -> bytes:
    """The HMAC key's bytes, from the environment (or a key file), at least `MIN_KEY_BYTES`
    long (UsageError, exit 2, otherwise).  Never logged: messages give its length only."""
    tok = cfg.get("tokens") or {}
    key_file = tok.get("key_file")
    if key_file:
        try:
            key = Path(key_file).expanduser().read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            raise UsageError(f"token key file {key_file} is not UTF-8 text") from None
        except OSError as exc:
            raise UsageError(f"token key file {key_file} cannot be read: {exc.strerror}") from None
        where = f"the token key file {key_file}"
    else:
        env = tok.get("key_env", "TENKEN_TOKEN_KEY")
        key = os.environ.get(env, "")
        if not key:
            raise UsageError(f"no token key: set the environment variable {env}")
        where = f"the environment variable {env}"
    n = len(key.encode("utf-8"))
    if n < MIN_KEY_BYTES:
        raise UsageError(f"token key too short: {where} holds {n} byte(s), at least {MIN_KEY_BYTES} are needed "
                         "(e.g. the output of `openssl rand -hex 32`)")
    return key.encode("utf-8")


RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RUN_ID_RULE = "1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"


def validate_run_id(run_id: str | None) -> str | None:
    """A run id names folders (gates/<run_id>, reports/<run_id>, exports/<run_id>) and rows:
    `RUN_ID_RULE`, so it is never a path (no separator, no ``..``), never holds a newline or
    a control character.  None passes (the default id is made later); anything else is a
    UsageError (exit 2)."""
    if run_id is None:
        return None
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id) or ".." in run_id:
        shown = repr(run_id if len(str(run_id)) <= 40 else str(run_id)[:40] + "…")
        raise UsageError(f"invalid run id {shown}: a run id is {RUN_ID_RULE}, without '..'")
    return run_id
