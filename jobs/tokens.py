"""My Number check digits and tokens, as Spark-native expressions.

A person is named by ``token = hex(HMAC-SHA256(key, number))`` (the contract's Tokens
section).  Spark has SHA-256 (``sha2``) but no HMAC, so HMAC is built from its
definition, ``H((K ^ opad) || H((K ^ ipad) || m))``.  The two padded keys are derived on
the driver and enter the plan as the columns of a one-row DataFrame joined by broadcast,
never as literals: a literal would print in ``explain()``, the SQL tab and event logs,
and ``K ^ ipad`` gives the key back.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_PAD_COLS = ("__tk_ipad", "__tk_opad")


def check_digit(first11: str) -> int:
    """The check digit of an 11-digit prefix (contract: 11 - sum mod 11, 0 for remainders 0 and 1)."""
    rem = sum(int(d) * w for d, w in zip(first11, WEIGHTS)) % 11
    return 0 if rem <= 1 else 11 - rem


def is_valid_number(value: str | None) -> bool:
    """True when `value` is 12 ASCII digits with a correct check digit."""
    return (
        value is not None and len(value) == 12 and value.isascii() and value.isdigit()
        and check_digit(value[:11]) == int(value[11])
    )


def token_of(key: bytes, number: str) -> str:
    """Reference token in plain Python (tests, tools): lowercase hex HMAC-SHA256."""
    return hmac.new(key, number.encode("utf-8"), hashlib.sha256).hexdigest()


def well_formed(col: Column | str) -> Column:
    """True when the value is exactly 12 ASCII digits."""
    c = F.col(col) if isinstance(col, str) else col
    return F.coalesce(c.rlike(r"^[0-9]{12}$"), F.lit(False))


def check_digit_ok(col: Column | str) -> Column:
    """True when the value is well formed and its last digit is the check digit.

    The digits are taken arithmetically from the number as a long (one parse, then
    division and remainder), which is several times cheaper than twelve substrings.
    """
    c = F.col(col) if isinstance(col, str) else col
    n = c.try_cast("long")  # guarded by well_formed below, so no per-digit test
    total = None
    for i, w in enumerate(WEIGHTS):
        digit = F.floor(n / F.lit(10 ** (11 - i))) % 10
        term = digit * F.lit(w)
        total = term if total is None else total + term
    rem = total % 11
    expected = F.when(rem <= 1, F.lit(0)).otherwise(F.lit(11) - rem)
    return F.when(well_formed(c), expected == n % 10).otherwise(F.lit(False))


def number_key(col: Column | str) -> Column:
    """Compact join key: the 12-digit number as a long (null when not well formed)."""
    c = F.col(col) if isinstance(col, str) else col
    return F.when(well_formed(c), c.cast("long"))


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def key_frame(spark: SparkSession, key: bytes) -> DataFrame:
    """A one-row DataFrame holding the HMAC pads (not a literal; see the module docstring)."""
    ipad, opad = _pads(key)
    return spark.createDataFrame([(bytearray(ipad), bytearray(opad))], "__tk_ipad binary, __tk_opad binary")


def with_tokens(df: DataFrame, keys: DataFrame, columns: dict[str, str]) -> DataFrame:
    """Add token columns: ``columns`` maps a new column name to the number column it hashes.

    Numbers that are not 12 digits give a null token.  ``keys`` comes from `key_frame`.
    """
    joined = df.crossJoin(F.broadcast(keys))
    for out, src in columns.items():
        msg = F.encode(F.col(src), "UTF-8")
        inner = F.unhex(F.sha2(F.concat(F.col("__tk_ipad"), msg), 256))
        token = F.sha2(F.concat(F.col("__tk_opad"), inner), 256)
        joined = joined.withColumn(out, F.when(well_formed(src), token))
    return joined.drop(*_PAD_COLS)


MASKED_COUNT = "__masked"
"""The column `mask_numbers` adds: how many of the row's identifying cells it replaced."""
_FW_DIGITS = "０１２３４５６７８９"


def mask_numbers(df: DataFrame, keys: DataFrame, columns: tuple[str, ...] | list[str]) -> DataFrame:
    """Replace each cell of ``columns`` that is itself a valid individual number (12 digits with
    the right check digit; holders do key records by it) with its token, so that no output
    can carry it through a column that is not the number's (record ids in suspects,
    corrections, quarantine, changes and exports; account keys).  The token is the
    contract's, of the trimmed, digit-folded number: equal values stay equal, so record-id
    uniqueness and shared accounts are judged as before.  Adds `MASKED_COUNT` (the cells
    replaced in the row).  Spark expressions only, the key as in `with_tokens`."""
    present = [c for c in columns if c in df.columns]
    if not present:
        return df.withColumn(MASKED_COUNT, F.lit(0))
    folded = {c: F.trim(F.translate(F.col(c).cast("string"), _FW_DIGITS, "0123456789")) for c in present}
    staged = df.select("*", *[folded[c].alias(f"__mk_v_{c}") for c in present])
    staged = staged.select("*", *[check_digit_ok(f"__mk_v_{c}").alias(f"__mk_hit_{c}") for c in present])
    tokened = with_tokens(staged, keys, {f"__mk_t_{c}": f"__mk_v_{c}" for c in present})
    count = reduce(lambda a, b: a + b, [F.col(f"__mk_hit_{c}").cast("int") for c in present])
    out = tokened.select(
        *[F.when(F.col(f"__mk_hit_{c}"), F.col(f"__mk_t_{c}")).otherwise(F.col(c)).alias(c) if c in present
          else F.col(c) for c in df.columns],
        count.alias(MASKED_COUNT))
    return out
