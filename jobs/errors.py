"""Errors that map to the contract's exit statuses."""

from __future__ import annotations

import re


class TenkenError(Exception):
    """Anything else: exit status 1."""

    exit_code = 1


class UsageError(TenkenError):
    """Bad usage, configuration or input layout: exit status 2, one-line reason."""

    exit_code = 2


class GateFailed(TenkenError):
    """A validation gate failed and nothing was published: exit status 3."""

    exit_code = 3


_READ_FILE = re.compile(r"FAILED_READ_FILE[.\w]*\]\s*Encountered error while reading file (.+?)\.?\s+SQLSTATE")
_PY4J_CALL = re.compile(r"^An error occurred while calling [\w.$]+\.?\s*")
_NUMBER_LIKE = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


def _first_line(text: str | None) -> str:
    lines = [ln.strip() for ln in str(text or "").splitlines() if ln.strip()]
    return lines[0] if lines else ""


def _java_chain(exc: BaseException) -> list[str]:
    """``Class: message`` of a Py4J error's Java exception and each of its causes (first lines)."""
    out: list[str] = []
    t = getattr(exc, "java_exception", None)
    try:
        while t is not None and len(out) < 25:
            name = str(t.getClass().getName()).rsplit(".", 1)[-1]
            msg = _first_line(t.getMessage())
            out.append(f"{name}: {msg}" if msg else name)
            t = t.getCause()
    except Exception:  # noqa: BLE001 - the gateway may be gone: fall back to the text
        pass
    return out


def _scrub(text: str) -> str:
    """No full individual number in a message: a 12-digit run that passes the check digit is elided."""
    from jobs.tokens import is_valid_number

    return _NUMBER_LIKE.sub(lambda m: "<12-digit number>" if is_valid_number(m.group(0)) else m.group(0), text)


def from_spark(exc: BaseException) -> TenkenError | None:
    """A Spark or Py4J failure as one line naming its cause, never Py4J's ``An error occurred
    while calling o140.parquet``: a file Spark failed to read is a UsageError (exit 2)
    ``cannot read <path>: <root cause>``; anything else a TenkenError (exit 1) with the first
    Java message and its root cause.  None for an exception that is not Spark's."""
    mod = type(exc).__module__ or ""
    if not (mod.startswith("py4j") or mod.startswith("pyspark")):
        return None
    chain = _java_chain(exc)
    text = str(exc)
    if not chain:
        chain = [_PY4J_CALL.sub("", _first_line(text)) or type(exc).__name__]
    whole = "\n".join([text, *chain])
    root = chain[-1]
    m = _READ_FILE.search(whole)
    if m:
        path = m.group(1).strip()
        path = re.sub(r"^file:(//)?", "", path)
        cause = root if len(chain) > 1 and "FAILED_READ_FILE" not in root else "the file is corrupt or unreadable"
        cause = re.sub(r"\s*Struct: \S+$", "", cause)   # a Thrift object's hash says nothing
        return UsageError(_scrub(f"cannot read {path}: {cause[:300]}"))
    top = chain[0]
    top = re.sub(r"^(Py4JJavaError|SparkException|SparkRuntimeException):\s*", "", top)
    msg = top if root == chain[0] else f"{top[:300]} (cause: {root[:300]})"
    return TenkenError(_scrub(msg))
