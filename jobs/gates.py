"""Validation gates: Great Expectations suites run on the data a run already holds.

Two gates guard a run (issue 4):

- the **input gate**, after normalisation, on the checkpointed ``residents`` frame (suite
  ``expectations/residents.json``, run by GE on Spark) and on a per-category metrics frame
  (suite ``expectations/records.json``): one row per category with the rates of the
  problems `jobs.clean` found, computed in one aggregation over the checkpointed
  ``records``.  The per-category expectations (the fields each holder keeps, from
  ``conf/categories.yaml``) are added to that suite with a ``row_condition`` on the
  category, so a failure names the category.
- the **output gate**, on the staged suspects (``expectations/suspects.json``, GE on
  Spark) and on a per-category suspects-share frame (``expectations/suspect_rates.json``).

Thresholds are not in the JSON files: a value written ``"${records.invalid_number_max}"``
is taken from the ``gates:`` section of ``conf/thresholds.yaml``.

Results keep counts and rates only: GE runs with ``partial_unexpected_count: 0`` on the
frames that hold personal data, and `compact` keeps an allow-list of result fields, so no
raw value (a number, a name) reaches ``OUTPUT/gates/<run_id>/``.  The metrics frames hold
category ids and rates, which are not personal; their failing rows are kept to name the
category.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.config import BASIC_FIELDS
from jobs.errors import UsageError

log = logging.getLogger("tenken")

SUITE_DIR = Path(__file__).resolve().parent.parent / "expectations"
REASON_CODES = (
    "INVALID_NUMBER", "UNKNOWN_NUMBER", "RESIDENT_DECEASED", "RESIDENT_REMOVED", "LINKED_TO_OTHER_PERSON",
    "LINKED_TO_HOUSEHOLD_MEMBER", "ATTRIBUTE_MISMATCH", "AMBIGUOUS_IDENTITY", "DUPLICATE_LINK",
    "SHARED_ACCOUNT", "ACCOUNT_HOLDER_MISMATCH", "AGE_INELIGIBLE", "UNLINKED_RECORD",
)
# result fields that are counts or rates (everything else GE returns is dropped)
_KEEP_RESULT = ("element_count", "unexpected_count", "unexpected_percent", "missing_count",
                "missing_percent", "unexpected_percent_nonmissing")
_KEEP_KWARGS = ("column", "column_list", "mostly", "min_value", "max_value", "value_set", "regex",
                "row_condition", "strict_min", "strict_max")
_PLACEHOLDER = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")
_EMBEDDED = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")


@dataclass
class GateResult:
    """The outcome of one gate (one or more suites)."""

    gate: str
    success: bool = True
    failures: list[str] = field(default_factory=list)
    suites: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict:
        exps = [x for s in self.suites for x in s["expectations"]]
        ok = sum(1 for x in exps if x["success"])
        stats = {"evaluated_expectations": len(exps), "successful_expectations": ok,
                 "unsuccessful_expectations": len(exps) - ok,
                 "success_percent": round(100 * ok / len(exps), 2) if exps else None}
        return {"gate": self.gate, "success": self.success, "seconds": round(self.seconds, 2),
                "statistics": stats, "failures": self.failures, "suites": self.suites}


# --- suites -----------------------------------------------------------------------------

def gate_config(cfg: dict) -> dict:
    gates = (cfg.get("thresholds") or {}).get("gates")
    if not isinstance(gates, dict):
        raise UsageError("thresholds.yaml has no 'gates:' section (the gate thresholds)")
    return gates


def _lookup(params: dict, dotted: str) -> Any:
    cur: Any = params
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise UsageError(f"gate threshold {dotted} is not set in the 'gates:' section of thresholds.yaml")
        cur = cur[part]
    return cur


def _fill(obj: Any, params: dict) -> Any:
    """Replace every ``"${a.b}"`` string in a suite with the configured value."""
    if isinstance(obj, dict):
        return {k: _fill(v, params) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill(v, params) for v in obj]
    if isinstance(obj, str):
        m = _PLACEHOLDER.match(obj)
        if m:
            return _lookup(params, m.group(1))
        return _EMBEDDED.sub(lambda m: str(_lookup(params, m.group(1))), obj)
    return obj


def load_suite(name: str, params: dict) -> dict:
    """expectations/<name>.json with its thresholds filled from ``params``."""
    path = SUITE_DIR / f"{name}.json"
    if not path.exists():
        path = Path(__file__).resolve().parent / "expectations" / f"{name}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"expectation suite not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"expectation suite {path} is not valid JSON: {exc}") from None
    return _fill(raw, params)


def records_suite(cfg: dict, categories: list[str]) -> dict:
    """records.json (common expectations, applied to every category's row) plus the
    per-category expectations generated from categories.yaml."""
    gates = gate_config(cfg)
    suite = load_suite("records", gates)
    template = (suite.get("meta") or {}).get("per_category_kept_field")
    min_rows = int(gates["records"]["min_rows_for_rates"])
    for exp in suite["expectations"]:   # common: every category with enough rows for a rate
        if exp["type"].startswith("expect_column_") and "row_condition" not in exp["kwargs"]:
            exp["kwargs"]["row_condition"] = f"rows>={min_rows}"
            exp["kwargs"]["condition_parser"] = "pandas"
    for cid in categories:
        spec = cfg["categories"][cid]
        over = spec.get("gates") or {}
        for fld in spec.get("fields", []):
            if template is None or fld not in BASIC_FIELDS:
                continue
            exp = json.loads(json.dumps(template).replace("{field}", fld))
            if "kept_field_fill_min" in over:
                exp["kwargs"]["min_value"] = over["kept_field_fill_min"]
            exp["kwargs"]["row_condition"] = f'category=="{cid}" and rows>={min_rows}'
            exp["kwargs"]["condition_parser"] = "pandas"
            suite["expectations"].append(exp)
    return suite


# --- metrics frames (one row per category; ids and rates, nothing personal) ----------------

def records_metrics(records: DataFrame) -> DataFrame:
    """One row per category: row count, quarantined (unusable) rows and the rates of the
    problems found by `jobs.clean`.  The pipeline aggregates it once, in normalisation, and
    takes its per-category counts from it too."""
    def share(cond):
        return F.sum(F.when(cond, 1).otherwise(0)).cast("double") / F.count(F.lit(1))

    field_problem = F.exists("problems", lambda p: p["action"] != "row_quarantined")
    aggs = [
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(~F.col("usable"), 1).otherwise(0)).alias("quarantined"),
        share(~F.col("usable")).alias("quarantined_rate"),
        share(F.col("number_state").isin("malformed", "check_digit")).alias("invalid_number_rate"),
        share(F.col("number_state") == "absent").alias("absent_number_rate"),
        share(F.exists("problems", lambda p: p["reason"] == "duplicate_record_id")).alias("duplicate_record_id_rate"),
        share(F.exists("problems", lambda p: p["reason"] == "empty_record_id")).alias("empty_record_id_rate"),
        share(field_problem).alias("field_problem_rate"),
    ]
    aggs += [share(F.col(f).isNotNull()).alias(f"fill_{f}") for f in BASIC_FIELDS]
    return records.groupBy("category").agg(*aggs)


def suspect_metrics(suspects: DataFrame, records_per_category: dict[str, int]) -> list[dict]:
    counts = {r["category"]: r["n"] for r in suspects.groupBy("category").agg(F.count(F.lit(1)).alias("n")).collect()}
    return [{"category": c, "records": int(n), "suspects": int(counts.get(c, 0)),
             "suspect_share": (counts.get(c, 0) / n) if n else 0.0}
            for c, n in sorted(records_per_category.items())]


def suspects_frame(suspects: DataFrame) -> DataFrame:
    """The columns the suspects suite reads, plus the evidence's text parts as JSON
    (levels, judgement, states, record ids; the numeric weights are left out)."""
    ev = F.col("evidence")
    text = F.to_json(F.struct(ev["linked_levels"], ev["suggested_levels"], ev["name_judgement"],
                              ev["number_state"], ev["resident_status"], ev["duplicate_records"],
                              ev["shared_account_records"]))
    return suspects.select("run_id", "category", "record_id", "reason", "reasons", "severity", "resident_token",
                           "suggested_token", "score", "suggested_score", text.alias("evidence_text"))


# --- running suites -------------------------------------------------------------------

_CTX: list = []   # one ephemeral GE context per process (each one makes a temporary docs folder)


def _context():
    """The process's ephemeral GE context (nothing written to disk), progress bars off."""
    if not _CTX:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        _CTX.append(ctx)
    return _CTX[0]


def _validate(frame, suite_json: dict, kind: str, result_format: dict) -> list:
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite

    ctx = _context()
    tag = f"{suite_json['name']}_{uuid.uuid4().hex[:12]}"
    ds = ctx.data_sources.add_spark(f"spark_{tag}") if kind == "spark" else ctx.data_sources.add_pandas(f"pandas_{tag}")
    bd = ds.add_dataframe_asset(suite_json["name"]).add_batch_definition_whole_dataframe("whole")
    body = {k: v for k, v in suite_json.items() if k in ("expectations", "meta")}
    suite = ctx.suites.add(ExpectationSuite(name=tag, **body))
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=tag, data=bd, suite=suite))
    try:
        res = vd.run(batch_parameters={"dataframe": frame}, result_format=result_format)
    finally:   # keep the long-lived context small
        ctx.validation_definitions.delete(tag)
        ctx.suites.delete(tag)
        ctx.data_sources.delete(ds.name)
    return list(res.results)


def _pct(x) -> str:
    return f"{x * 100:.4g}%"


def _raised(info) -> str | None:
    """The first line of the exception an expectation raised, or None.

    GE puts it at the top of ``exception_info`` when the expectation itself raised, and
    under one key per metric when a metric's Spark query failed (a missing column, a bad
    regex, an engine error): both must reach the gate's failure line."""
    if not isinstance(info, dict):
        return None
    found = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for one in found:
        if one.get("raised_exception"):
            return _cause(one.get("exception_message") or "")
    return None


_EXC = re.compile(r"\b([A-Za-z_$][\w$]*(?:Exception|Error))\b:?\s*")


def _cause(message: str) -> str:
    """The innermost cause of an exception message, on one line of at most 200 characters.

    A failed Spark query reaches Python as "An error occurred while calling o475.collect...",
    with the Java causes chained after it (SparkException: Job aborted ...:
    java.util.regex.PatternSyntaxException: Unclosed group ...): the last one says why.
    Digit runs of 8 or more are masked: an engine error may quote a value."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip() and not ln.lstrip().startswith("at ")]
    text = " ".join(lines[:6])
    causes = list(_EXC.finditer(text))
    if causes:
        last = causes[-1]
        text = f"{last.group(1)}: {text[last.end():]}".rstrip(": ")
    text = re.sub(r"\d{8,}", "<digits>", text)
    return text[:200] or "exception"


def compact(r, where: str, index_col: str | None) -> tuple[dict, list[str]]:
    """One expectation result as counts and rates, and its failure lines."""
    d = r.to_json_dict()
    cfgd = d["expectation_config"]
    kw = {k: v for k, v in cfgd["kwargs"].items() if k in _KEEP_KWARGS}
    if isinstance(kw.get("row_condition"), dict):
        kw["row_condition"] = kw["row_condition"].get("pass_through_filter")
    res = d.get("result") or {}
    out = {"expectation": cfgd["type"], "kwargs": kw, "success": bool(d["success"]),
           "result": {k: res[k] for k in _KEEP_RESULT if k in res}}
    if cfgd["type"].startswith("expect_table_") and isinstance(res.get("observed_value"), (int, float)):
        out["result"]["observed_value"] = res["observed_value"]   # a row count
    error = _raised(d.get("exception_info"))
    if error is not None:
        out["error"] = error
    failures = []
    if out["success"]:
        return out, failures
    col = kw.get("column") or ",".join(kw.get("column_list") or [])
    name = f"{cfgd['type']}({col})"
    if index_col and res.get("unexpected_index_list"):
        rows = []
        for row in res["unexpected_index_list"]:
            value = row.get(col)
            rows.append({index_col: row.get(index_col), "value": value})
            bound = (f"> {_pct(kw['max_value'])}" if kw.get("max_value") is not None and value is not None
                     and value > kw["max_value"] else f"< {_pct(kw['min_value'])}" if kw.get("min_value") is not None
                     else "")
            failures.append(f"{index_col} {row.get(index_col)}: {name} {_pct(value) if value is not None else 'null'} {bound}".rstrip())
        out["failing"] = rows
    elif "error" in out:
        failures.append(f"{where}: {name} could not be evaluated: {out['error']}")
    else:
        pct = res.get("unexpected_percent")
        allowed = ""
        if kw.get("mostly") is not None:
            allowed = f" > {_pct(1 - kw['mostly'])}"
        if pct is not None:
            failures.append(f"{where}: {name} unexpected {pct:.4g}%{allowed}")
        elif cfgd["type"].startswith("expect_table_"):
            failures.append(f"{where}: {name} observed {res.get('observed_value')}")
        else:
            failures.append(f"{where}: {name} failed")
    return out, failures


def run_suite(gate: GateResult, frame, suite_json: dict, kind: str, where: str, index_col: str | None = None) -> None:
    """Validate ``frame`` (a Spark frame, or a small pandas metrics frame) and add the
    compact results and failures to ``gate``."""
    t0 = time.perf_counter()
    if kind == "spark":
        fmt = {"result_format": "BASIC", "partial_unexpected_count": 0}
    else:   # metrics frame: ids and rates only; keep the failing rows to name the category
        fmt = {"result_format": "COMPLETE", "unexpected_index_column_names": [index_col]}
    results = _validate(frame, suite_json, kind, fmt)
    items = []
    for r in results:
        item, fails = compact(r, where, index_col)
        items.append(item)
        gate.failures += fails
    ok = all(i["success"] for i in items)
    gate.success = gate.success and ok
    took = time.perf_counter() - t0
    gate.suites.append({"suite": suite_json["name"], "frame": where, "success": ok,
                        "seconds": round(took, 2), "expectations": items})
    log.info("gate %s: suite %s on %s %s in %.1f s", gate.gate, suite_json["name"], where,
             "passed" if ok else f"FAILED ({sum(not i['success'] for i in items)} expectation(s))", took)


def input_gate(cfg: dict, residents: DataFrame, record_metrics: list[dict], categories: list[str]) -> GateResult:
    """Validate the normalised (checkpointed) residents, and the records through their
    per-category metrics (the collected rows of `records_metrics`)."""
    import pandas as pd

    gate = GateResult("input")
    t0 = time.perf_counter()
    gates = gate_config(cfg)
    run_suite(gate, residents, load_suite("residents", gates), "spark", "residents")
    metrics = pd.DataFrame(record_metrics)
    run_suite(gate, metrics, records_suite(cfg, categories), "pandas", "records", index_col="category")
    gate.seconds = time.perf_counter() - t0
    return gate


def output_gate(cfg: dict, suspects: DataFrame, records_per_category: dict[str, int], run_id: str) -> GateResult:
    """Validate the staged suspects of run ``run_id``."""
    import pandas as pd

    gate = GateResult("output")
    t0 = time.perf_counter()
    gates = gate_config(cfg)
    params = {**gates, "run_id": run_id, "reason_codes": list(REASON_CODES)}
    run_suite(gate, suspects_frame(suspects), load_suite("suspects", params), "spark", "suspects")
    rates = pd.DataFrame(suspect_metrics(suspects, records_per_category))
    run_suite(gate, rates, load_suite("suspect_rates", params), "pandas", "suspects per category",
              index_col="category")
    gate.seconds = time.perf_counter() - t0
    return gate


# --- results on disk -------------------------------------------------------------------

def write_results(output: str, run_id: str, gates: list[GateResult], run_seconds: float | None = None) -> Path:
    """OUTPUT/gates/<run_id>/{input,output}.json and an offline index.html (no CDN, no raw values)."""
    folder = Path(output) / "gates" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    for g in gates:
        (folder / f"{g.gate}.json").write_text(
            json.dumps({"run_id": run_id, **g.to_json()}, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    (folder / "index.html").write_text(render_html(run_id, gates, run_seconds), encoding="utf-8")
    return folder


def _fmt_val(v) -> str:
    if isinstance(v, float):
        return _pct(v) if 0 <= v <= 1 else f"{v:.4g}"
    return str(v)


def render_html(run_id: str, gates: list[GateResult], run_seconds: float | None = None) -> str:
    """A self-contained page in the spirit of GE Data Docs: one table per suite."""
    e = html.escape
    total = sum(g.seconds for g in gates)
    share = (f" · gates {total:.1f} s of {run_seconds:.1f} s run ({total / run_seconds:.1%})"
             if run_seconds else f" · gates {total:.1f} s")
    parts = [
        "<!doctype html><html lang='ja'><head><meta charset='utf-8'>",
        f"<title>Tenken gates {e(run_id)}</title><style>",
        "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}th{background:#f2f2f2}"
        ".ok{color:#176f2c;font-weight:bold}.ng{color:#b00020;font-weight:bold}code{font-size:12px}",
        "</style></head><body>",
        f"<h1>Validation results 検証結果 · run <code>{e(run_id)}</code></h1>",
        f"<p>{' · '.join(f'{g.gate}: ' + ('passed' if g.success else 'FAILED') for g in gates)}{e(share)}</p>",
    ]
    for g in gates:
        cls = "ok" if g.success else "ng"
        parts.append(f"<h2>{e(g.gate)} gate <span class='{cls}'>{'passed 合格' if g.success else 'failed 不合格'}</span>"
                     f" ({g.seconds:.1f} s)</h2>")
        if g.failures:
            parts.append("<ul>" + "".join(f"<li class='ng'>{e(f)}</li>" for f in g.failures) + "</ul>")
        for s in g.suites:
            parts.append(f"<h3>suite {e(s['suite'])} on {e(s['frame'])} ({s['seconds']:.1f} s)</h3>")
            parts.append("<table><tr><th>status</th><th>expectation</th><th>arguments</th>"
                         "<th>rows</th><th>unexpected</th><th>unexpected %</th><th>failing</th></tr>")
            for x in s["expectations"]:
                kw = ", ".join(f"{k}={_fmt_val(v) if k in ('mostly', 'min_value', 'max_value') else v}"
                               for k, v in x["kwargs"].items())
                res = x["result"]
                failing = ", ".join(f"{r.get('category')} {_fmt_val(r.get('value'))}" for r in x.get("failing", []))
                pct = res.get("unexpected_percent")
                parts.append(
                    f"<tr><td class='{'ok' if x['success'] else 'ng'}'>{'✓' if x['success'] else '✗'}</td>"
                    f"<td><code>{e(x['expectation'])}</code></td><td>{e(kw)}</td>"
                    f"<td>{e(str(res.get('element_count', res.get('observed_value', ''))))}</td>"
                    f"<td>{e(str(res.get('unexpected_count', '')))}</td>"
                    f"<td>{'' if pct is None else f'{pct:.3g}'}</td><td>{e(failing or x.get('error', ''))}</td></tr>")
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
