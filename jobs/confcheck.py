"""Strict checks of the YAML configuration: unknown keys, wrong types, values out of range.

Each file is checked against a small declarative schema before any Spark session starts; a
problem is a `UsageError` (exit status 2) naming the file and the dotted key, and an unknown
key names the nearest known one (``difflib``), e.g.

    config local.yaml: unknown key run.broadcast_value_row (did you mean broadcast_value_rows?)
    config over.yaml: run.broadcast_value_rows: 'lots' is not an integer

Plain Python on purpose: the schemas are a few dozen keys, and the messages are the point.
Sections whose checks live with their code (``comparisons``: `jobs.compare.validate_comparisons`;
``model``: `jobs.model.model_settings`; ``decision``: `jobs.config.validate_decision`) are
left to those functions here (``Any``).
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from typing import Any as _Any

from jobs.errors import UsageError

BASIC_FIELDS = ("name_kanji", "name_kana", "birth_date", "sex", "address")
SEVERITIES = ("high", "medium", "low")
REASON_CODES = (
    "INVALID_NUMBER", "UNKNOWN_NUMBER", "RESIDENT_DECEASED", "RESIDENT_REMOVED", "LINKED_TO_OTHER_PERSON",
    "LINKED_TO_HOUSEHOLD_MEMBER", "ATTRIBUTE_MISMATCH", "AMBIGUOUS_IDENTITY", "DUPLICATE_LINK",
    "SHARED_ACCOUNT", "ACCOUNT_HOLDER_MISMATCH", "AGE_INELIGIBLE", "UNLINKED_RECORD",
)


class ConfigError(Exception):
    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}" if where else message)


def _path(where: str, key: _Any) -> str:
    return f"{where}.{key}" if where else str(key)


class Node:
    nullable = False

    def check(self, value: _Any, where: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, value: _Any, where: str) -> None:
        if value is None:
            if not self.nullable:
                raise ConfigError(where, "must not be empty")
            return
        self.check(value, where)


class Any(Node):
    nullable = True

    def check(self, value, where):
        pass


@dataclass
class Num(Node):
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    integer: bool = False
    nullable: bool = False

    def check(self, value, where):
        kind = "an integer" if self.integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(where, f"{value!r} is not {kind}")
        if self.integer and not float(value).is_integer():
            raise ConfigError(where, f"{value!r} is not {kind}")
        low_bad = self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo)
        if low_bad or (self.hi is not None and value > self.hi):
            lo = "" if self.lo is None else (f"> {self.lo}" if self.lo_open else f">= {self.lo}")
            hi = "" if self.hi is None else f"<= {self.hi}"
            raise ConfigError(where, f"{value!r} is out of range (must be {' and '.join(x for x in (lo, hi) if x)})")


def Int(lo=None, hi=None, nullable=False) -> Num:
    return Num(lo, hi, integer=True, nullable=nullable)


def Share(nullable=False) -> Num:
    return Num(0, 1, nullable=nullable)


@dataclass
class Bool(Node):
    nullable: bool = False

    def check(self, value, where):
        if not isinstance(value, bool):
            raise ConfigError(where, f"{value!r} is not true or false")


@dataclass
class Str(Node):
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    fold_case: bool = False

    def check(self, value, where):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(where, f"{value!r} is not a non-empty text")
        if self.choices is not None:
            v = value.lower() if self.fold_case else value
            allowed = [c.lower() for c in self.choices] if self.fold_case else list(self.choices)
            if v not in allowed:
                near = difflib.get_close_matches(value, self.choices, n=1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                raise ConfigError(where, f"{value!r} is not one of {', '.join(self.choices)}{hint}")


@dataclass
class Scalar(Node):
    """A Spark setting: text, number or boolean."""

    def check(self, value, where):
        if not isinstance(value, (str, int, float, bool)):
            raise ConfigError(where, f"{value!r} is not a text, number or boolean")


@dataclass
class Date(Node):
    nullable: bool = True

    def check(self, value, where):
        if isinstance(value, dt.date):
            return
        try:
            dt.date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(where, f"{value!r} is not a date (YYYY-MM-DD)") from None


@dataclass
class Size(Node):
    nullable: bool = True

    def check(self, value, where):
        from jobs.config import parse_size

        try:
            parse_size(value, where)
        except UsageError as exc:
            raise ConfigError("", str(exc)) from None


@dataclass
class List(Node):
    item: Node = field(default_factory=Any)
    min_len: int = 0
    nullable: bool = False

    def check(self, value, where):
        if not isinstance(value, list):
            raise ConfigError(where, f"{value!r} is not a list")
        if len(value) < self.min_len:
            raise ConfigError(where, f"needs at least {self.min_len} item(s)")
        for i, v in enumerate(value):
            self.item(v, f"{where}[{i}]")


@dataclass
class Map(Node):
    """A mapping with known keys; ``required`` keys must be present (checked only when
    ``complete`` is asked for: an override file may hold a part of a section)."""

    keys: dict[str, Node]
    required: tuple[str, ...] = ()
    nullable: bool = False

    def check(self, value, where, complete: bool = True):
        if not isinstance(value, dict):
            raise ConfigError(where, f"expected a mapping, got {value!r}")
        for k, v in value.items():
            if k not in self.keys:
                near = difflib.get_close_matches(str(k), list(self.keys), n=1, cutoff=0.6)
                hint = f"did you mean {near[0]}?" if near else f"known keys: {', '.join(self.keys)}"
                raise ConfigError("", f"unknown key {_path(where, k)} ({hint})")
            node = self.keys[k]
            if isinstance(node, Map) and v is not None:
                node.check(v, _path(where, k), complete)
            else:
                node(v, _path(where, k))
        if complete:
            missing = [k for k in self.required if k not in value]
            if missing:
                raise ConfigError(where, f"missing key(s) {', '.join(_path(where, k) for k in missing)}")


@dataclass
class Dict(Node):
    """A mapping of free keys (from ``names`` when given) to values of one kind."""

    value: Node = field(default_factory=Any)
    names: tuple[str, ...] | None = None
    what: str = "key"
    nullable: bool = False

    def check(self, value, where):
        if not isinstance(value, dict):
            raise ConfigError(where, f"expected a mapping, got {value!r}")
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(where, f"{self.what} {k!r} is not a text")
            if self.names is not None and k not in self.names:
                near = difflib.get_close_matches(k, list(self.names), n=1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                raise ConfigError("", f"unknown {self.what} {_path(where, k)}{hint}")
            self.value(v, _path(where, k))


# --- the schemas -----------------------------------------------------------------------

LOCAL = Map({
    "spark": Map({
        "master": Str(nullable=True),
        "app_name": Str(nullable=True),
        "driver_memory": Size(),
        "driver_memory_overhead": Size(),
        "conf": Dict(Scalar(), what="Spark setting", nullable=True),
    }, nullable=True),
    "input": Map({"csv_encoding": Str(("UTF-8", "CP932", "Shift_JIS", "MS932", "windows-31j"), fold_case=True)},
                 nullable=True),
    "tokens": Map({"key_env": Str(), "key_file": Str(nullable=True)}, nullable=True),
    "run": Map({
        "reference_date": Date(),
        "broadcast_value_rows": Int(0),
        "broadcast_register_rows": Int(0),
        "checkpoint": Str(("local", "reliable")),
        "checkpoint_dir": Str(nullable=True),
    }, nullable=True),
    "categories_file": Str(),
    "thresholds_file": Str(),
    "blocking_file": Str(),
    "readings": Map({"cache_dir": Str(nullable=True)}, nullable=True),
}, required=("categories_file", "thresholds_file", "blocking_file"))

AGE = Int(0, 150, nullable=True)
CATEGORY = Map({
    "name_ja": Str(nullable=True),
    "holder": Str(nullable=True),
    "holder_id": Str(),
    "fields": List(Str(BASIC_FIELDS), min_len=1),
    "one_active": Bool(),
    "min_age": AGE,
    "max_age": AGE,
    "account": Bool(),   # the category holds accounts (account_holder_kana, account_key)
    "gates": Map({"kept_field_fill_min": Share()}, nullable=True),
}, required=("holder_id", "fields"))


def _categories_schema() -> Map:
    from jobs.config import CATEGORY_IDS

    return Map({"defaults": Any(), "categories": Dict(CATEGORY, CATEGORY_IDS, what="category")},
               required=("categories",))


THRESHOLDS = Map({
    "prior_match_log2": Num(),
    "comparisons": Any(),   # jobs.compare.validate_comparisons
    "model": Any(),         # jobs.model.model_settings
    "decision": Any(),      # jobs.config.validate_decision
    "reasons": List(Map({"code": Str(REASON_CODES), "severity": Str(SEVERITIES)}, required=("code", "severity")),
                    min_len=1),
    "gates": Map({
        "residents": Map({"min_rows": Int(0), "valid_number_min": Share(), "usable_min": Share(),
                          "known_status_min": Share(), "known_birth_date_min": Share(),
                          "known_name_min": Share()}),
        "records": Map({"min_rows_for_rates": Int(0), "invalid_number_max": Share(), "absent_number_max": Share(),
                        "quarantined_max": Share(), "duplicate_record_id_max": Share(),
                        "empty_record_id_max": Share(), "field_problem_max": Share(),
                        "kept_field_fill_min": Share()}),
        "suspects": Map({"share_max": Share(), "min_records_for_share": Int(0)}),
    }),
}, required=("prior_match_log2", "comparisons", "decision", "reasons", "gates"))

PASS = Map({
    "name": Str(),
    "keys": List(Str(), min_len=1),
    "split_by": List(Str(), nullable=True),
    "max_block": Int(1, nullable=True),
}, required=("name", "keys"))

BLOCKING = Map({
    "max_block": Int(1),
    "passes": List(PASS, min_len=1),
    "unconfirmed_passes": List(Str(), nullable=True),
    "classify": Map({
        "accept_probability": Num(0, 1, lo_open=True),
        "min_margin_log2": Num(0),
        "tie_margin_log2": Num(0),
        "flag_verified_ties": Bool(),
        "tf_adjust": List(Str(BASIC_FIELDS)),
        "tf_floor": Num(0, 1, lo_open=True),
        "owner_absent_share": Num(0, 0.5),
        "miss_prior": Num(0, 1),
        "miss_prior_pairs": Num(0),
        "miss_sample_links": Int(1),
    }),
}, required=("passes",))


def check(data: dict, schema: Map, name: str, complete: bool = True) -> None:
    """Check one file's mapping against its schema; UsageError ``config <name>: <problem>``."""
    try:
        schema.check(data, "", complete)
        if schema is BLOCKING:
            _check_blocking(data)
        if "categories" in data and isinstance(data.get("categories"), dict):
            _check_ages(data["categories"])
    except ConfigError as exc:
        raise UsageError(f"config {name}: {exc}") from None


def check_categories(data: dict, name: str) -> None:
    check(data, _categories_schema(), name)


def _check_blocking(data: dict) -> None:
    names = [p["name"] for p in data.get("passes") or []]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError("passes", f"pass name(s) repeated: {', '.join(dup)}")
    for i, n in enumerate(data.get("unconfirmed_passes") or []):
        if n not in names:
            near = difflib.get_close_matches(n, names, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise ConfigError(f"unconfirmed_passes[{i}]", f"no pass named {n!r}{hint}")


def _check_ages(cats: dict) -> None:
    for cid, spec in cats.items():
        lo, hi = (spec or {}).get("min_age"), (spec or {}).get("max_age")
        if lo is not None and hi is not None and lo > hi:
            raise ConfigError(f"categories.{cid}", f"min_age {lo} is above max_age {hi}")
