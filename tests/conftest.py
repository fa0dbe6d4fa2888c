"""One real local Spark session (with real Delta) shared by the whole test run."""

import os

import pytest

os.environ.setdefault("TENKEN_TOKEN_KEY", "test-key-not-secret-0123456789abcdef")   # >= 32 bytes

from jobs.config import load_config  # noqa: E402
from jobs.session import get_spark  # noqa: E402


@pytest.fixture(scope="session")
def cfg():
    """The shipped configuration with fixed model parameters (``model.learn: false``): the
    hand-made inputs are far too small to learn from, and a fixed model reproduces exactly.
    Tests of the learning itself (tests/test_model.py) switch it back on."""
    c = load_config()
    c["thresholds"]["model"]["learn"] = False
    return c


@pytest.fixture(scope="session")
def spark(cfg):
    session = get_spark(cfg)
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def names(spark, cfg):
    """The kanji-name reading table (jobs.readings), built once per machine and cached."""
    from jobs.readings import configured_table

    return configured_table(spark, cfg)
