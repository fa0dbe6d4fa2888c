"""Join helpers shared by the steps."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def at_most(df: DataFrame, max_rows: int) -> bool:
    """True when ``df`` has at most ``max_rows`` rows (counted with a limit: no more than
    ``max_rows + 1`` rows are produced)."""
    return df.limit(max_rows + 1).count() <= max_rows


def broadcast_if_small(df: DataFrame, max_rows: int) -> tuple[DataFrame, bool]:
    """``(df marked for a broadcast join, True)`` when it has at most ``max_rows`` rows,
    else ``(df, False)``: a small side is broadcast so the wide side of the join is not
    shuffled; a large one stays a shuffle join rather than filling the driver."""
    small = at_most(df, max_rows)
    return (F.broadcast(df) if small else df), small
