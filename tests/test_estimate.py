"""u estimated from random pairs of residents."""

import datetime as dt

from pyspark.sql import functions as F

from jobs import estimate
from jobs.features import resident_features


def test_u_from_random_pairs(spark, names):
    fam = ["佐藤", "鈴木", "高橋", "田中"]
    giv = ["太郎", "花子", "健一", "陽子", "翔太"]
    rows = [(i, f"{fam[i % 4]} {giv[i % 5]}", None, dt.date(1950 + i % 40, 1 + i % 12, 1 + i % 28),
             str(1 + i % 2), f"千代田区丸の内{i % 3}-{i % 7}-1") for i in range(400)]
    res = (spark.createDataFrame(rows, "num long, name_kanji string, name_kana string, birth_date date, "
                                       "sex string, address string")
           .transform(resident_features, readings=names)
           .withColumnRenamed("birth_date", "bd").withColumnRenamed("sex", "sx"))
    pairs = estimate.random_pairs(res, 20000, seed=3)
    n = pairs.count()
    assert 12000 < n < 30000                                       # about what was asked
    assert pairs.where(F.col("lnum") == F.col("rnum")).count() == 0
    u = estimate.u_by_level(pairs)
    assert 0.4 < u["sex"]["exact"] < 0.6                           # two sexes, evenly spread
    # 20 distinct names: a random pair shares one about 1 time in 20
    assert 0.02 < u["name_kanji"]["exact"] < 0.09
    assert u["birth_date"].get("exact", 0.0) < 0.01               # 400 distinct birth dates
    assert abs(sum(u["sex"].values()) - 1.0) < 1e-9
    text = estimate.as_yaml(u, {"sex": {"exact": {"m": 0.995, "u": 0.5}}})
    assert "sex:" in text and "configured u 0.5" in text
