"""The identity model's parameters: EM per category, pooled for small ones, fixed for audits."""

import copy
import math
import random

import pytest
from pyspark.sql import functions as F

from jobs import compare as C
from jobs import model as M
from jobs.errors import UsageError
from jobs.pipeline import run
from tests.helpers import number, write_category, write_residents


def _pattern(**levels):
    """A level per field in COMPARISONS order (fields not given are missing)."""
    return tuple(levels.get(f, "missing") for f in C.FIELDS)


def _counts(cat, n, name_noise, rng, wrong=0.03):
    """Synthetic level counts of ``n`` linked pairs of one category: ``name_noise`` of the right
    links carry a name typo, ``wrong`` of the links are another person's."""
    rows = {}
    for _ in range(n):
        if rng.random() < wrong:
            p = _pattern(name_kanji="different", birth_date=rng.choice(["different", "different", "year_off"]),
                         sex=rng.choice(["exact", "different"]), address=rng.choice(["different", "area"]))
        else:
            name = "jw_high" if rng.random() < name_noise else "exact"
            bd = "slip" if rng.random() < 0.01 else "exact"
            p = _pattern(name_kanji=name, birth_date=bd, sex="exact", address="exact" if rng.random() < 0.9 else "different")
        rows[p] = rows.get(p, 0) + 1
    return [(cat, *k, v) for k, v in sorted(rows.items())]


def _random_counts(rng, n=20000):
    rows = {}
    for _ in range(n):
        p = _pattern(name_kanji="exact" if rng.random() < 0.001 else "different",
                     birth_date="exact" if rng.random() < 0.0001 else "different",
                     sex="exact" if rng.random() < 0.5 else "different",
                     address="exact" if rng.random() < 0.0005 else "different")
        rows[p] = rows.get(p, 0) + 1
    return [(*k, v) for k, v in sorted(rows.items())]


def test_em_learns_each_categorys_quality_and_pools_the_small_ones(cfg):
    rng = random.Random(5)
    th = copy.deepcopy(cfg["thresholds"])
    th["model"] = {**th["model"], "learn": True}
    linked = (_counts("health_insurance", 6000, 0.01, rng) + _counts("resident_tax", 6000, 0.30, rng)
              + _counts("mynapoint", 120, 0.30, rng))
    model = M.learn(linked, _random_counts(rng), th)
    clean, noisy = model.categories["health_insurance"], model.categories["resident_tax"]
    assert clean.source == M.LEARNED and noisy.source == M.LEARNED
    # the noisy holder's names agree exactly less often, and its typos are expected
    assert clean.m["name_kanji"]["exact"] > 0.95 > 0.80 > noisy.m["name_kanji"]["exact"]
    assert noisy.m["name_kanji"]["jw_high"] > 0.2 > 0.05 > clean.m["name_kanji"]["jw_high"]
    assert model.weight("resident_tax", "name_kanji", "jw_high") > model.weight("health_insurance", "name_kanji", "jw_high")
    # the share of matches among the links is learned as the prior (about 97%)
    assert 0.93 < 1 / (1 + 2 ** -clean.prior_log2) < 0.995
    # 120 links are too few: the category borrows the pooled m
    small = model.categories["mynapoint"]
    assert small.source == M.POOLED and small.m == model.pooled.m
    # u comes from the random pairs: about half of two random people share a sex
    assert 0.45 < model.u["sex"]["exact"] < 0.55
    # deterministic: the same counts give the same model
    assert M.learn(linked, _random_counts(random.Random(7)), th).categories["resident_tax"].m == \
        M.learn(linked, _random_counts(random.Random(7)), th).categories["resident_tax"].m
    for row in model.rows("r1"):
        assert math.isclose(row["weight"], math.log2(row["m"] / row["u"]), abs_tol=1e-3)


def test_model_settings_are_validated(cfg):
    th = copy.deepcopy(cfg["thresholds"])
    th["model"]["em_pairs"] = 10
    with pytest.raises(ValueError, match="unknown key em_pairs"):
        M.model_settings(th)
    th = copy.deepcopy(cfg["thresholds"])
    th["model"]["u_pairs"] = "lots"
    with pytest.raises(ValueError, match="u_pairs: 'lots'"):
        M.model_settings(th)


def test_a_typo_in_the_model_or_decision_section_is_exit_2(cfg, tmp_path):
    import yaml

    from jobs.config import load_config

    for section, key, value, message in [("model", "lern", True, "unknown key lern"),
                                         ("decision", "match_threshold", 1.5, "not a probability"),
                                         ("decision", "search_fields", ["name"], "not a list of fields")]:
        th = copy.deepcopy(cfg["thresholds"])
        th[section][key] = value
        (tmp_path / "th.yaml").write_text(yaml.safe_dump(th, allow_unicode=True), encoding="utf-8")
        (tmp_path / "over.yaml").write_text("thresholds_file: th.yaml\n", encoding="utf-8")
        with pytest.raises(UsageError, match=message):
            load_config(tmp_path / "over.yaml")


FAMILY = ["SMITH", "JONES", "TAYLOR", "BROWN", "WILSON", "EVANS", "THOMAS", "ROBERTS", "WALKER", "WRIGHT",
          "ROBINSON", "THOMPSON", "WHITE", "HUGHES", "EDWARDS", "GREEN", "HALL", "WOOD", "HARRIS", "MARTIN"]
GIVEN = ["OLIVER", "GEORGE", "HARRY", "JACK", "JACOB", "NOAH", "CHARLIE", "THOMAS", "OSCAR", "WILLIAM",
         "AMELIA", "OLIVIA", "ISLA", "EMILY", "POPPY", "AVA", "ISABELLA", "JESSICA", "LILY", "SOPHIE"]


def _typo(rng, s):
    i = rng.randrange(1, len(s) - 1)
    return s[:i] + s[i + 1] + s[i] + s[i + 2:]


@pytest.fixture(scope="module")
def clean_and_noisy(tmp_path_factory):
    """600 residents; a clean holder (exact copies) and a noisy one (a third of the names
    with two letters swapped), 600 records each, in two categories that keep the name, the
    birth date and the address."""
    rng = random.Random(11)
    root = tmp_path_factory.mktemp("model_in")
    res = []
    for i in range(600):
        res.append({"individual_number": number(50_000 + i), "name_kanji": f"{FAMILY[i % 20]} {GIVEN[(i * 7) % 20]}",
                    "birth_date": f"{1940 + i % 60}-{1 + i % 12:02d}-{1 + (i * 3) % 28:02d}", "sex": str(1 + i % 2),
                    "address": f"東京都千代田区丸の内{1 + i % 9}丁目{1 + i % 17}番{1 + i % 5}号",
                    "municipality_code": "131016", "household_id": f"H{i}"})
    write_residents(root, res)
    clean = [{"record_id": f"c{i}", "individual_number": r["individual_number"], "name_kanji": r["name_kanji"],
              "birth_date": r["birth_date"], "sex": r["sex"], "address": r["address"]} for i, r in enumerate(res)]
    noisy = []
    for i, r in enumerate(res):
        fam, giv = r["name_kanji"].split(" ")
        name = f"{_typo(rng, fam)} {giv}" if i % 3 == 0 else r["name_kanji"]
        noisy.append({"record_id": f"n{i}", "individual_number": r["individual_number"], "name_kanji": name,
                      "birth_date": r["birth_date"], "sex": r["sex"], "address": r["address"]})
    write_category(root, "resident_tax", clean)
    write_category(root, "national_tax", noisy)
    return root


def _learning(cfg):
    c = copy.deepcopy(cfg)
    c["thresholds"]["model"].update(learn=True, em_min_pairs=300, u_pairs=20000)
    return c


def test_a_run_learns_m_per_category_and_reproduces(spark, cfg, clean_and_noisy, tmp_path):
    out = str(tmp_path / "out")
    learned = _learning(cfg)
    run(learned, str(clean_and_noisy), out, run_id="learn-1")
    run(learned, str(clean_and_noisy), out, run_id="learn-2")
    run(cfg, str(clean_and_noisy), out, run_id="fixed-1")
    models = spark.read.format("delta").load(f"{out}/models")

    def m(run_id, cat, level):
        return models.where((F.col("run_id") == run_id) & (F.col("category") == cat)
                            & (F.col("field") == "name_kanji") & (F.col("level") == level)).first()

    clean, noisy = m("learn-1", "resident_tax", "exact"), m("learn-1", "national_tax", "exact")
    assert clean.source == noisy.source == M.LEARNED
    assert clean.m > noisy.m + 0.15, (clean.m, noisy.m)       # a third of the noisy holder's names are typos
    # the same data and seed give the same parameters and the same suspects
    cols = ["category", "field", "level", "m", "u", "weight", "prior_log2", "pairs", "source"]
    one = models.where(F.col("run_id") == "learn-1").select(*cols)
    two = models.where(F.col("run_id") == "learn-2").select(*cols)
    assert one.count() > 0 and one.exceptAll(two).count() == 0 and two.exceptAll(one).count() == 0
    sus = spark.read.format("delta").load(f"{out}/suspects")
    # (the evidence holds maps, which set operations refuse: compared as JSON)
    s1 = sus.where(F.col("run_id") == "learn-1").drop("run_id").withColumn("evidence", F.to_json("evidence"))
    s2 = sus.where(F.col("run_id") == "learn-2").drop("run_id").withColumn("evidence", F.to_json("evidence"))
    assert s1.exceptAll(s2).count() == 0 and s2.exceptAll(s1).count() == 0
    # fixed parameters: the configured m and u, one set for all, as they are
    fixed = models.where(F.col("run_id") == "fixed-1")
    assert {r.source for r in fixed.select("source").distinct().collect()} == {M.FIXED}
    exact = fixed.where((F.col("field") == "name_kanji") & (F.col("level") == "exact")).first()
    conf = cfg["thresholds"]["comparisons"]["name_kanji"]["exact"]
    assert exact.m == conf["m"] and exact.u == conf["u"]
    # the noisy holder's typos are corrections for the holder, not suspects
    corr = spark.read.format("delta").load(f"{out}/corrections").where(F.col("run_id") == "learn-1")
    assert corr.where(F.col("category") == "national_tax").count() >= 150
    assert sus.where((F.col("run_id") == "learn-1") & (F.col("category") == "national_tax")).count() <= 5
