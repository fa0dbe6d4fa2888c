"""Readings of kanji names from the dictionary, and blocking keys that are arrays."""

from pyspark.sql import functions as F

from jobs import candidates
from jobs.readings import add_readings, reading_keys


def _parts(spark, rows):
    return spark.createDataFrame(rows, "id int, nfam string, ngiv string, kfam string, kgiv string, kk string")


def test_readings_of_known_and_compound_words(spark, names):
    df = _parts(spark, [
        (1, "佐藤", "陽子", None, None, None),
        (2, "小鳥遊", "陽向", None, None, None),    # 陽向 is not in the dictionary: 陽 + 向
        (3, "SMITH", None, None, None, None),
        (4, "佐藤", "陽子", "サトウ", "ヨウコ", "サトウヨウコ"),
        (5, None, None, "コバヤシサクラ", None, "コバヤシサクラ"),   # a reading written without a space
    ])
    out = {r.id: r for r in df.transform(add_readings, names).transform(reading_keys).collect()}
    assert out[1].rfam == ["サトウ"]
    assert "ヨウコ" in out[1].rgiv
    assert "サトウヨウコ" in out[1].rk and out[1].rkf == ["サトウ"]
    assert out[2].rfam == ["タカナシ"]
    assert "ヒムカイ" in out[2].rgiv              # one of the combined readings
    assert out[3].rfam is None and out[3].rk is None
    # a record with its own reading is keyed by it, not by the dictionary's guesses
    assert out[4].rk == ["サトウヨウコ"] and out[4].rkf == ["サトウ"]
    # ... also when it has no space (it is still the whole reading, so the full-reading pass finds it)
    assert out[5].rk == ["コバヤシサクラ"]


def test_array_blocking_key_gives_a_block_per_reading(spark, names):
    doubt = (_parts(spark, [(1, "山田", "陽子", None, None, None)])
             .select(F.lit("c").alias("category"), F.col("id").cast("string").alias("record_id"), "*")
             .transform(add_readings, names).transform(reading_keys))
    cands = (_parts(spark, [(7, "山田", "陽子", "ヤマダ", "ヨウコ", "ヤマダヨウコ"),
                            (8, "山田", "花子", "ヤマダ", "ハナコ", "ヤマダハナコ")])
             .withColumnRenamed("id", "num").transform(add_readings, names).transform(reading_keys))
    passes = [{"name": "full_reading", "keys": ["rk"]}]
    d = candidates._pass_keys(doubt, passes, ["record_id"])
    assert d.count() == len(doubt.first().rk) > 1      # one key per possible reading
    r = candidates._pass_keys(cands, passes, ["num"])
    found = d.join(r, "bk").select("num").distinct().collect()
    assert [x.num for x in found] == [7]                # ヤマダヨウコ, not ヤマダハナコ


def test_pathological_block_is_split_or_skipped_and_counted(spark):
    """A very common name with a very common birth date: 600 residents called 佐藤花子, 300
    of them born on one day.  The pair count stays capped and the figures say so."""
    import datetime as dt

    rows = [(i, "佐藤花子", "佐藤", "花子", dt.date(1980 + (i % 2) * (1 + i % 20), 1, 1)) for i in range(600)]
    cands = (spark.createDataFrame(rows, "num long, nk string, nfam string, ngiv string, bd date")
             .withColumn("by", F.year("bd")))
    doubt = (spark.createDataFrame([(1, None, "佐藤花子", "佐藤", "花子", dt.date(1980, 1, 1))],
                                   "row_id long, num long, nk string, nfam string, ngiv string, bd date")
             .withColumn("by", F.year("bd")))
    blocking = {"max_block": 100, "passes": [
        {"name": "full_name_kanji", "keys": ["nk"], "split_by": ["by"]},   # 600 -> split by year
        {"name": "bd_family_kanji", "keys": ["bd", "nfam"]},               # 300 on one day: skipped
    ]}
    pairs, figures = candidates.candidate_pairs(doubt, cands, blocking)
    fig = {r["pass"]: r for r in figures.collect()}
    assert fig["full_name_kanji"].largest_block == 600 and fig["full_name_kanji"].oversized_blocks == 1
    assert fig["bd_family_kanji"].largest_block == 300 and fig["bd_family_kanji"].skipped_blocks == 1
    # the split block (same name, born 1980) still exceeds the cap: skipped as well, no pairs
    assert fig["full_name_kanji"].skipped_blocks == 1
    assert pairs.count() == 0
    # with a higher cap the split block is used: only the 300 born in 1980, not all 600
    pairs2, _ = candidates.candidate_pairs(doubt, cands, {**blocking, "max_block": 400})
    assert pairs2.count() == 300


def test_a_pass_can_cap_its_own_blocks(spark):
    """A pass's own ``max_block`` overrides the global one for that pass only: a coarse pass
    (given name reading, birth year and sex) whose block of 150 exceeds its cap of 100 is
    skipped and counted, while a finer pass keeps the global cap of 200."""
    import datetime as dt

    rows = [(i, "ハナコ", "サトウ", 1980, "F", dt.date(1980, 1, 1 + i % 28)) for i in range(150)]
    cands = spark.createDataFrame(rows, "num long, kgiv string, kfam string, by int, sx string, bd date")
    doubt = spark.createDataFrame([(1, None, "ハナコ", "サトウ", 1980, "F", dt.date(1980, 1, 1))],
                                  "row_id long, num long, kgiv string, kfam string, by int, sx string, bd date")
    passes = [{"name": "given_reading_year", "keys": ["by", "kgiv", "sx"]},
              {"name": "family_reading_year", "keys": ["by", "kfam"]}]
    blocking = {"max_block": 200, "passes": passes}
    pairs, figures = candidates.candidate_pairs(doubt, cands, blocking)
    fig = {r["pass"]: r for r in figures.collect()}
    assert fig["given_reading_year"].pairs == fig["family_reading_year"].pairs == 150
    capped = {**blocking, "passes": [{**passes[0], "max_block": 100}, passes[1]]}
    pairs2, figures2 = candidates.candidate_pairs(doubt, cands, capped)
    fig2 = {r["pass"]: r for r in figures2.collect()}
    assert fig2["given_reading_year"].pairs is None          # all its blocks skipped: no pairs
    assert fig2["given_reading_year"].oversized_blocks == fig2["given_reading_year"].skipped_blocks == 1
    assert fig2["family_reading_year"].pairs == 150 and fig2["family_reading_year"].skipped_blocks == 0
    assert pairs2.count() == 150
