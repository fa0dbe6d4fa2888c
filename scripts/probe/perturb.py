"""Build perturbed copies of s20k: only answer-key-correct records get notation noise.

usage: .venv/bin/python scripts/probe/perturb.py FAMILY OUTDIR [--errors N] [--data SAMPLE]
(SAMPLE: a generated sample with its answer key, default sample/s20k.)
Kept from session 10's probe of notation the generator never writes (see scripts/probe/README.md).
FAMILY in names, readings, addresses, invisible.  Each perturbed record gets exactly one
sub-family; the log (OUTDIR.log.parquet, beside the copy) has category, record_id, family, sub,
field, before, after, register value.  With --errors N, N erroneous records (error_type
among wrong-person types) get the same noise too (logged with erroneous=True).
"""
import os, re, sys, shutil, random, unicodedata
from pathlib import Path
import pandas as pd, yaml

ROOT = Path(__file__).resolve().parents[2]
SRC = sys.argv[sys.argv.index("--data") + 1] if "--data" in sys.argv else str(ROOT / "sample" / "s20k")
FAM, OUT = sys.argv[1], sys.argv[2]
NERR = int(sys.argv[sys.argv.index("--errors") + 1]) if "--errors" in sys.argv else 0
RATE = 0.03
import zlib; rng = random.Random(zlib.crc32(FAM.encode()) + 7)

cats = yaml.safe_load(open(ROOT / "conf" / "categories.yaml"))["categories"]
res = pd.read_parquet(f"{SRC}/residents").set_index("individual_number")
ak = pd.read_parquet(f"{SRC}/answer_key")
ak_idx = ak.set_index(["category", "record_id"])

# ---------------------------------------------------------------- helpers
FW = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
FW[" "] = "\u3000"
def to_fw(s): return "".join(FW.get(c, c) for c in s)
def hw_kana(s):  # katakana -> half-width
    out = []
    for ch in s:
        if ch == "\u3000": out.append(" "); continue
        d = unicodedata.normalize("NFD", ch)
        base = d[0]
        # half-width via NFKC inverse: build table
        out.append(_HW.get(base, base) + ("ﾞ" if "\u3099" in d else "ﾟ" if "\u309a" in d else ""))
    return "".join(out)
_HW = {}
for cp in range(0xFF61, 0xFFA0):
    f = unicodedata.normalize("NFKC", chr(cp))
    if len(f) == 1: _HW.setdefault(f, chr(cp))
def to_hira(s): return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in s)
SPLIT = re.compile(r"[ \u3000]+")
def is_alpha(s): return bool(re.fullmatch(r"[A-Za-z][A-Za-z .,'\-]*", s or ""))

# vowel rows for long-vowel detection
ROW_O = set("オコゴソゾトドノホボポモヨョロヲ")
ROW_U = set("ウクグスズツヅヌフブプムユュルヴ")
ROW_E = set("エケゲセゼテデネヘベペメレ")
def long_vowels(s, all_=True):
    """ou/oo/uu/ei -> ー (one or all occurrences)."""
    out, i, done = [], 0, False
    while i < len(s):
        c = s[i]
        n = s[i + 1] if i + 1 < len(s) else ""
        if not (done and not all_) and n and ((c in ROW_O and n in "ウオ") or (c in ROW_U and n == "ウ")):
            out.append(c + "ー"); i += 2; done = True; continue
        out.append(c); i += 1
    return "".join(out)

VARIANT_TSV = {}
for line in open(ROOT / "jobs" / "data" / "kanji_variants.tsv", encoding="utf-8"):
    if line.strip() and not line.startswith("#"):
        v, s = line.rstrip("\n").split("\t")[:2]
        VARIANT_TSV.setdefault(s, v)
# variants NOT in kanji_variants.tsv (checked) and not NFKC-folded
VARIANT_OTHER = {"穂": "穗", "橋": "槗", "寛": "寬", "博": "愽", "崎": "𥔎", "土": "𡈽", "船": "舩",
                 "薮": "藪", "斎": "齋", "辺": "邉"}  # last two are in the tsv (control)
VARIANT_OTHER = {k: v for k, v in VARIANT_OTHER.items() if k not in VARIANT_TSV or VARIANT_TSV.get(k) != v}
COMPAT = {"塚": "\ufa10", "隆": "\uf9dc", "福": "\ufa1b", "祐": "\ufa4f", "晴": "\ufa12", "神": "\ufa19"}
LOOKALIKE = {"カ": "力", "ロ": "口", "エ": "工", "ニ": "二", "タ": "夕", "ハ": "八", "ト": "卜", "ー": "一"}
BUILDINGS = ["サンハイツ", "グリーンコーポ", "メゾン・ド・ソレイユ", "パークマンション", "第二ビル"]
KNUM = "〇一二三四五六七八九"
def kanji_num(n):
    n = int(n)
    if n < 10: return KNUM[n]
    t, o = divmod(n, 10)
    return ("" if t == 1 else KNUM[t]) + "十" + (KNUM[o] if o else "") if n < 100 else "".join(KNUM[int(d)] for d in str(n))

# ---------------------------------------------------------------- sub-families
# each: (name, field, fn(value, ctx) -> new value or None if not applicable)
def sub_names():
    def alpha(fn):
        return lambda v, c: fn(v) if is_alpha(v) and len(SPLIT.split(v.strip())) >= 2 else None
    def fw(v): return to_fw(v)
    def title(v): return " ".join(w.capitalize() for w in SPLIT.split(v.strip()))
    def comma(v): p = SPLIT.split(v.strip()); return f"{p[0]}, {' '.join(p[1:])}"
    def given_first(v): p = SPLIT.split(v.strip()); return " ".join(p[1:] + p[:1])
    def hyphen(v):
        p = SPLIT.split(v.strip()); g = p[-1]
        if len(g) < 4: return None
        k = len(g) // 2; return " ".join(p[:-1] + [g[:k] + "-" + g[k:]])
    def split_given(v):
        p = SPLIT.split(v.strip()); g = p[-1]
        if len(g) < 4: return None
        k = len(g) // 2; return " ".join(p[:-1] + [g[:k], g[k:]])
    def kata_for_alpha(v, c):
        if not is_alpha(v) or not isinstance(c["reg_kana"], str): return None
        return "・".join(SPLIT.split(c["reg_kana"].strip()))
    def kana_sep(sep):
        def f(v, c):
            if not c["reg_alpha"] or not isinstance(v, str) or len(SPLIT.split(v.strip())) < 2: return None
            return sep.join(SPLIT.split(v.strip()))
        return f
    def jp(fn):
        return lambda v, c: None if not isinstance(v, str) or is_alpha(v) or len(SPLIT.split(v.strip())) != 2 else fn(v)
    def nospace(v): return "".join(SPLIT.split(v.strip()))
    def dblspace(v): p = SPLIT.split(v.strip()); return p[0] + "\u3000\u3000" + p[1]
    def padded(v): p = SPLIT.split(v.strip()); return (p[0] + "\u3000" + p[1]).ljust(10, "\u3000")
    def space_in_family(v):
        p = SPLIT.split(v.strip())
        if len(p[0]) < 2: return None
        return p[0][0] + " " + p[0][1:] + " " + p[1]
    def variant(table):
        def f(v):
            idx = [i for i, ch in enumerate(v) if ch in table]
            if not idx: return None
            i = rng.choice(idx); return v[:i] + table[v[i]] + v[i + 1:]
        return f
    def maiden_bracket(v, c):
        if not isinstance(v, str) or is_alpha(v) or c["reg_sex"] != "2" or c["age"] < 25: return None
        p = SPLIT.split(v.strip())
        if len(p) != 2: return None
        return f"{p[0]}　{p[1]}（旧姓：{rng.choice(['鈴木', '田中', '伊藤', '中島', '松本'])}）"
    def kana(fn):
        return lambda v, c: fn(v) if isinstance(v, str) and re.search("[ァ-ヶ]", v) and not c["reg_alpha"] else None
    return [
        ("alpha_fullwidth", "name_kanji", alpha(fw)),
        ("alpha_titlecase", "name_kanji", alpha(title)),
        ("alpha_comma_order", "name_kanji", alpha(comma)),
        ("alpha_given_first", "name_kanji", alpha(given_first)),
        ("alpha_hyphen_given", "name_kanji", alpha(hyphen)),
        ("alpha_split_given", "name_kanji", alpha(split_given)),
        ("alpha_as_katakana", "name_kanji", kata_for_alpha),
        ("foreign_kana_nakaguro", "name_kana", kana_sep("・")),
        ("foreign_kana_equals", "name_kana", kana_sep("＝")),
        ("foreign_kana_nosep", "name_kana", kana_sep("")),
        ("jp_no_space", "name_kanji", jp(nospace)),
        ("jp_double_space", "name_kanji", jp(dblspace)),
        ("jp_padded_fixed_width", "name_kanji", jp(padded)),
        ("jp_space_inside_family", "name_kanji", jp(space_in_family)),
        ("kana_halfwidth", "name_kana", kana(hw_kana)),
        ("kana_hiragana", "name_kana", kana(to_hira)),
        ("variant_in_tsv", "name_kanji", jp(variant(VARIANT_TSV))),
        ("variant_not_in_tsv", "name_kanji", jp(variant(VARIANT_OTHER))),
        ("variant_compat_ideograph", "name_kanji", jp(variant(COMPAT))),
        ("maiden_name_bracket", "name_kanji", maiden_bracket),
    ]

def sub_readings():
    def jk(fn):
        def f(v, c):
            if not isinstance(v, str) or c["reg_alpha"] or not re.search("[ァ-ヶ]", v): return None
            out = fn(v)
            return out if out != v else None
        return f
    def oo_ou(v):
        if "オオ" in v: return v.replace("オオ", "オウ", 1)
        if "オウ" in v: return v.replace("オウ", "オオ", 1)
        return v
    def small_large(v): return v.translate(str.maketrans("ャュョッァィゥェォ", "ヤユヨツアイウエオ"))
    def wi_we(v): return v.replace("イ", "ヰ", 1) if "イ" in v else v.replace("エ", "ヱ", 1)
    def zu_ji(v): return v.replace("ズ", "ヅ").replace("ジ", "ヂ")
    def holder_lv(v, c):
        if c["category"] != "public_benefit_account" or not isinstance(v, str): return None
        # bank writes long vowel (ｻﾄｰ ﾕｰｺ) instead of bank-standard ｻﾄｳ ﾕｳｺ
        full = unicodedata.normalize("NFKC", v)
        out = long_vowels(full, True)
        return hw_kana(out) if out != full else None
    return [
        ("longvowel_one", "name_kana", jk(lambda v: long_vowels(v, False))),
        ("longvowel_all", "name_kana", jk(lambda v: long_vowels(v, True))),
        ("oo_vs_ou", "name_kana", jk(oo_ou)),
        ("small_kana_large_fw", "name_kana", jk(small_large)),
        ("small_kana_large_hw", "name_kana", jk(lambda v: hw_kana(small_large(v)))),
        ("wi_we", "name_kana", jk(wi_we)),
        ("du_di", "name_kana", jk(zu_ji)),
        ("holder_longvowel", "account_holder_kana", holder_lv),
    ]

def sub_addresses():
    def a(fn):
        def f(v, c):
            if not isinstance(v, str): return None
            out = fn(v)
            return out if out and out != v else None
        return f
    M = re.compile(r"(\d+)丁目(\d+)番(?:地)?(\d+)号?")
    def hyphen_fw(v): return M.sub(lambda m: to_fw(f"{m[1]}-{m[2]}-{m[3]}"), v)
    def kanji_num_(v): return M.sub(lambda m: f"{kanji_num(m[1])}丁目{kanji_num(m[2])}番{kanji_num(m[3])}号", v)
    def banchi_no(v): return M.sub(lambda m: f"{m[1]}丁目{m[2]}番地の{m[3]}", v)
    def no_pref(v): return re.sub(r"^(東京都|北海道|(?:京都|大阪)府|.{2,3}県)", "", v)
    def ke(v):
        for a_, b_ in (("ケ", "ヶ"), ("ヶ", "が"), ("が", "ケ")):
            m = re.search(f"(?<=[一-龥]){a_}(?=[一-龥])", v)
            if m: return v[:m.start()] + b_ + v[m.end():]
        return None
    def building(v):
        if re.search(r"[ァ-ヶ]{3,}", v): return None
        return v + rng.choice(["　", " ", ""]) + rng.choice(BUILDINGS) + to_fw(str(rng.randint(101, 905))) + rng.choice(["号室", ""])
    def room_as_number(v):
        m = M.search(v)
        if not m or re.search(r"[ァ-ヶ]{3,}", v): return None
        return v[:m.start()] + f"{m[1]}-{m[2]}-{m[3]}-{rng.randint(101, 905)}" + v[m.end():]
    def postal(v): return f"〒{rng.randint(100, 999)}-{rng.randint(0, 9999):04d} " + v
    def postal_nospace(v): return f"{rng.randint(100, 999)}{rng.randint(0, 9999):04d}" + v
    def jo(v):
        m = re.search(f"([{KNUM}十]+)条", v)
        if not m or not v.startswith("北海道"): return None
        s = "10" if m[1] == "十" else re.sub("^十", "1", m[1]).replace("十", "")
        n = "".join(str(KNUM.index(ch)) if ch in KNUM else ch for ch in s)
        return v[:m.start()] + n + "条" + v[m.end():]
    def chome_hyphen_mixed(v): return M.sub(lambda m: f"{m[1]}丁目{m[2]}-{m[3]}", v)
    def paren_building(v):
        if re.search(r"[ァ-ヶ]{3,}", v): return None
        return v + "（" + rng.choice(BUILDINGS) + str(rng.randint(101, 905)) + "）"
    return [(n, "address", a(fn)) for n, fn in [
        ("hyphen_fullwidth", hyphen_fw), ("kanji_numerals", kanji_num_), ("banchi_no", banchi_no),
        ("no_prefecture", no_pref), ("ke_ga", ke), ("building_room", building),
        ("room_as_4th_number", room_as_number), ("postal_prefix", postal),
        ("postal_no_mark", postal_nospace), ("jo_arabic", jo), ("chome_hyphen_mixed", chome_hyphen_mixed),
        ("paren_building", paren_building)]]

def sub_invisible():
    def ins(field, ch, where="mid"):
        def f(v, c):
            if not isinstance(v, str) or len(v) < 2: return None
            if where == "end": return v + ch
            if where == "start": return ch + v
            i = rng.randint(1, len(v) - 1); return v[:i] + ch + v[i:]
        return (field, f)
    def combining(v, c):
        if not isinstance(v, str): return None
        d = unicodedata.normalize("NFD", v)
        return d if d != v else None
    def spacing_daku(v, c):
        if not isinstance(v, str): return None
        d = unicodedata.normalize("NFD", v).replace("\u3099", "\u309b").replace("\u309a", "\u309c")
        return d if d != v else None
    def diacritic(nfd):
        def f(v, c):
            if not is_alpha(v): return None
            m = re.search(r"[AEOU]", v.upper()[1:])
            if not m: return None
            i = m.start() + 1
            ch = unicodedata.normalize("NFC", v[i] + "\u0301")
            if nfd: ch = v[i] + "\u0301"
            return v[:i] + ch + v[i + 1:]
        return f
    def geta(sym):
        def f(v, c):
            if not isinstance(v, str) or is_alpha(v): return None
            idx = [i for i, ch in enumerate(v) if "\u4e00" <= ch <= "\u9fff"]
            if not idx: return None
            i = rng.choice(idx); return v[:i] + sym + v[i + 1:]
        return f
    def lookalike(v, c):
        if not isinstance(v, str): return None
        idx = [i for i, ch in enumerate(v) if ch in LOOKALIKE]
        if not idx: return None
        i = rng.choice(idx); return v[:i] + LOOKALIKE[v[i]] + v[i + 1:]
    def kangxi(v, c):
        if not isinstance(v, str): return None
        t = {unicodedata.normalize("NFKC", chr(cp)): chr(cp) for cp in range(0x2F00, 0x2FD6)}
        idx = [i for i, ch in enumerate(v) if ch in t]
        if not idx: return None
        i = rng.choice(idx); return v[:i] + t[v[i]] + v[i + 1:]
    def ivs(v, c):
        if not isinstance(v, str) or is_alpha(v): return None
        idx = [i for i, ch in enumerate(v) if "\u4e00" <= ch <= "\u9fff"]
        if not idx: return None
        i = rng.choice(idx); return v[:i + 1] + "\U000E0100" + v[i + 1:]
    L = []
    for fld in ("name_kanji", "name_kana", "address"):
        L += [(f"nbsp_{fld}", *ins(fld, "\u00a0", "end")), (f"zwsp_{fld}", *ins(fld, "\u200b")),
              (f"softhyphen_{fld}", *ins(fld, "\u00ad")), (f"trailing_cr_{fld}", *ins(fld, "\r", "end")),
              (f"tab_{fld}", *ins(fld, "\t", "start"))]
    L += [("combining_dakuten_kana", "name_kana", combining), ("spacing_dakuten_kana", "name_kana", spacing_daku),
          ("diacritic_nfc_alpha", "name_kanji", diacritic(False)), ("diacritic_nfd_alpha", "name_kanji", diacritic(True)),
          ("geta_gaiji_name", "name_kanji", geta("〓")), ("qmark_gaiji_name", "name_kanji", geta("？")),
          ("lookalike_kanji_in_kana", "name_kana", lookalike), ("kangxi_radical_name", "name_kanji", kangxi),
          ("ivs_selector_name", "name_kanji", ivs)]
    return L

SUBS = {"names": sub_names, "readings": sub_readings, "addresses": sub_addresses, "invisible": sub_invisible}[FAM]()

# ---------------------------------------------------------------- apply
if os.path.exists(OUT): shutil.rmtree(OUT)
shutil.copytree(SRC, OUT, ignore=shutil.ignore_patterns("categories"))
ref = pd.Timestamp("2026-11-27")
RES = {k: v for k, v in res.iterrows()}
frames = {}
for cat in sorted(os.listdir(f"{SRC}/categories")):
    df = pd.read_parquet(f"{SRC}/categories/{cat}")
    df["category"] = cat
    frames[cat] = df
allrec = pd.concat(frames.values(), ignore_index=True)
allrec = allrec.merge(ak[["category", "record_id", "error_type", "owner_number", "noise"]], on=["category", "record_id"], how="left")
allrec["correct"] = allrec.error_type.isna()
WRONG = {"wrong_random", "same_name_person", "household_member"}
n_correct = allrec.correct.sum()
quota = int(RATE * n_correct / len(SUBS)) + 1
print(f"{FAM}: {len(SUBS)} sub-families, quota {quota} each of {n_correct} correct records")

def ctx_of(row):
    reg = RES.get(row['owner_number']) if isinstance(row['owner_number'], str) else None
    bd = reg.birth_date if reg is not None else None
    age = (ref.year - bd.year) if bd is not None and not pd.isna(bd) else 0
    return {"category": row['category'], "reg_kana": reg.name_kana if reg is not None else None,
            "reg_alpha": bool(reg is not None and is_alpha(reg.name_kanji)),
            "reg_sex": reg.sex if reg is not None else None, "age": age, "reg": reg}

used = set()
log = []
order = list(range(len(allrec)))
rng.shuffle(order)
for pool_name, pool_mask, per_sub in (("correct", allrec.correct, quota), ("error", allrec.error_type.isin(WRONG), max(1, NERR // len(SUBS)) if NERR else 0)):
    if not per_sub: continue
    pool = [i for i in order if pool_mask.iat[i]]
    recs = allrec.to_dict("records")
    for name, field, fn in SUBS:
        got = 0
        for i in pool:
            if got >= per_sub: break
            if i in used: continue
            row = recs[i]
            if field not in cats[row['category']]["fields"] and field != "account_holder_kana": continue
            if field not in allrec.columns: continue
            before = row[field]
            ctx = ctx_of(row)
            try:
                after = fn(before, ctx)
            except Exception as e:
                after = None
            if after is None or after == before: continue
            used.add(i); got += 1
            allrec.at[allrec.index[i], field] = after; recs[i][field] = after
            reg = ctx["reg"]
            regval = reg[field] if reg is not None and field in reg.index else (reg["name_kana"] if reg is not None else None)
            log.append(dict(category=row['category'], record_id=row['record_id'], family=FAM, sub=name, field=field,
                            before=before, after=after, register=regval, erroneous=pool_name == "error",
                            error_type=row['error_type'], prior_noise=",".join(row['noise']) if row['noise'] is not None else ""))
        print(f"  {pool_name:7s} {name:28s} {got}")

os.makedirs(f"{OUT}/categories")
for cat, df in frames.items():
    part = allrec[allrec.category == cat][df.columns.drop("category")]
    os.makedirs(f"{OUT}/categories/{cat}")
    # written with the source's Arrow schema: a column that is null throughout (a field the
    # holder does not keep) would otherwise be written as Parquet type null, read as int
    import pyarrow as pa
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq
    schema = pads.dataset(f"{SRC}/categories/{cat}", format="parquet").schema
    table = pa.Table.from_pandas(part.astype(df.drop(columns="category").dtypes.to_dict()), preserve_index=False)
    pq.write_table(table.cast(pa.schema([schema.field(n) for n in table.column_names])),
                   f"{OUT}/categories/{cat}/part-0.parquet")
pd.DataFrame(log).to_parquet(OUT.rstrip("/") + ".log.parquet", index=False)
print("logged", len(log))
