import os

from pyspark.sql import functions as F

from jobs.tokens import check_digit, check_digit_ok, is_valid_number, key_frame, token_of, with_tokens

KEY = os.environ["TENKEN_TOKEN_KEY"].encode()


def _valid(first11):
    return first11 + str(check_digit(first11))


def test_check_digit_known_values():
    # remainders 0 and 1 give 0; otherwise 11 - remainder
    assert check_digit("00000000000") == 0
    assert check_digit("10000000000") == 11 - (6 % 11)
    assert is_valid_number(_valid("12345678901"))
    bad = _valid("12345678901")
    bad = bad[:-1] + str((int(bad[-1]) + 1) % 10)
    assert not is_valid_number(bad)
    assert not is_valid_number("１２３４５６７８９０１２")


def test_spark_check_digit_matches_python(spark):
    import random

    rnd = random.Random(1)
    values = [_valid("".join(rnd.choice("0123456789") for _ in range(11))) for _ in range(300)]
    values += [v[:-1] + str((int(v[-1]) + 3) % 10) for v in values[:50]]
    values += ["12345", "abcdefghijkl", None, "１２３４５６７８９０１２", "1234 5678 901"]
    df = spark.createDataFrame([(v,) for v in values], "n string")
    got = {r.n: r.ok for r in df.select("n", check_digit_ok("n").alias("ok")).collect()}
    for v in values:
        assert got[v] == is_valid_number(v), v


def test_tokens_equal_python_hmac_and_key_not_in_plan(spark):
    numbers = [_valid(f"{i:011d}") for i in range(1, 40)]
    df = spark.createDataFrame([(n,) for n in numbers] + [("bad",), (None,)], "n string")
    out = with_tokens(df, key_frame(spark, KEY), {"tok": "n"})
    rows = {r.n: r.tok for r in out.collect()}
    for n in numbers:
        assert rows[n] == token_of(KEY, n)
    assert rows["bad"] is None and rows[None] is None
    plan = out._jdf.queryExecution().toString()
    ipad_hex = bytes(b ^ 0x36 for b in KEY.ljust(64, b"\0")).hex()
    for secret in (KEY.decode(), KEY.hex(), ipad_hex[:16], ipad_hex.upper()[:16]):
        assert secret not in plan
    assert "BatchEvalPython" not in plan and "ArrowEvalPython" not in plan


def test_long_key_is_hashed_first(spark):
    key = b"k" * 100
    n = _valid("98765432109")
    out = with_tokens(spark.createDataFrame([(n,)], "n string"), key_frame(spark, key), {"t": "n"})
    assert out.first().t == token_of(key, n)
