"""attribute.py SAMPLE PERTURBED BASE_OUT BASE_RUN OUT RUN: new false alarms (correct records
flagged in the run on the perturbed copy, not in the baseline run on SAMPLE), attributed to
sub-families through PERTURBED.log.parquet (written by perturb.py); recall check for perturbed erroneous ones.

    .venv/bin/python scripts/probe/attribute.py sample/s20k /tmp/p_names out/base base out/names names
"""
import sys
import pandas as pd

from jobs.config import load_config
from jobs.session import get_spark

sample, perturbed, base_out, base_rid, out, rid = sys.argv[1:7]
spark = get_spark(load_config())
ak = pd.read_parquet(f"{sample}/answer_key")
def sus(path, run):
    return spark.read.format("delta").load(f"{path}/suspects").where(f"run_id = '{run}'").toPandas()
b = sus(base_out, base_rid)
s = sus(out, rid)
log = pd.read_parquet(perturbed.rstrip("/") + ".log.parquet")
fam = perturbed.rstrip("/").rsplit("/", 1)[-1]
correct = ak[ak.error_type.isna()][["category", "record_id"]]
fp = s.merge(correct, on=["category", "record_id"])
bfp = b.merge(correct, on=["category", "record_id"])
new = fp.merge(bfp[["category", "record_id"]], on=["category", "record_id"], how="left", indicator=True)
new = new[new._merge == "left_only"].drop(columns="_merge")
print(f"{fam}: suspects {len(s)} (base {len(b)}); FP on correct {len(fp)} (base {len(bfp)}); new FP {len(new)}")
lc = log[~log.erroneous]
j = new.merge(lc, on=["category", "record_id"], how="left")
print("unattributed new FP:", j["sub"].isna().sum())
cnt = lc.groupby("sub").size().rename("perturbed").to_frame()
cnt["new_fp"] = j.groupby("sub").size()
cnt = cnt.fillna(0).astype(int)
cnt["reasons"] = j.groupby("sub").reason.agg(lambda x: dict(x.value_counts()))
print(cnt.sort_values("new_fp", ascending=False).to_string())
pd.set_option("display.max_colwidth", 200)
def ev(e):
    if isinstance(e, dict): return {k: v for k, v in e.items() if v is not None}
    return e
for sub, g in j.groupby("sub"):
    print(f"\n== {sub}")
    for _, r in g.head(3).iterrows():
        print(f"  {r.category}/{r.record_id} [{r.prior_noise}] {r.field}: {r.before!r} -> {r.after!r}  register={r.register!r}")
        print(f"    reason={r.reason} reasons={list(r.reasons)} score={r.score:.3f} sugg={r.suggested_score} evidence={ev(r.evidence)}")
# unattributed
if j["sub"].isna().any():
    print("\n== unattributed"); print(j[j["sub"].isna()][["category", "record_id", "reason"]].head(10).to_string())
# erroneous perturbed: still caught?
le = log[log.erroneous]
if len(le):
    caught = le.merge(s[["category", "record_id", "reason"]], on=["category", "record_id"], how="left")
    print(f"\nerroneous perturbed: {len(le)}, still flagged {caught.reason.notna().sum()}")
    print(caught[caught.reason.isna()][["category", "record_id", "sub", "error_type", "before", "after"]].to_string())
