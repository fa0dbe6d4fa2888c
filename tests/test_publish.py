"""Publication (issue 23): the reader rule, kills at every step boundary, one writer per
OUTPUT, faults.

Every published state is read back with ``deltalake`` (delta-rs, not Spark) following the
contract's rule: a run-keyed row counts when the runs table has a row with its run_id,
status ``published`` and the same ``attempt``.

Kills: a child process republishes run ``p1`` with other content (``p2``'s rows) and
exits hard (``os._exit``, as a kill) at one step boundary of `publish.commit`; the rule's
view must be exactly the previous state (rows and hash) before the runs commit and exactly
the new one after it, and the same run then publishes again.  Subprocesses cost a Spark
start each: only the kills and the concurrent runs use them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs import lock as L
from jobs import publish
from jobs.errors import UsageError
from jobs.pipeline import run
from tests.helpers import number, record_from, write_category, write_residents

deltalake = pytest.importorskip("deltalake")

ROOT = Path(__file__).resolve().parent.parent
REF = dt.date(2026, 11, 26)


# --- inputs -----------------------------------------------------------------------------

def _res():
    names = ["山田 太郎", "山田 花子", "佐藤 美咲", "鈴木 一郎", "高橋 次郎", "田中 直樹"]
    kana = ["ヤマダ タロウ", "ヤマダ ハナコ", "サトウ ミサキ", "スズキ イチロウ", "タカハシ ジロウ", "タナカ ナオキ"]
    return {i + 1: {"individual_number": number(i + 1), "name_kanji": n, "name_kana": k,
                    "birth_date": f"19{60 + i}-0{1 + i}-1{i}", "sex": "1" if i % 2 == 0 else "2",
                    "address": f"東京都千代田区丸の内1丁目{i + 1}番3号", "municipality_code": "131016",
                    "household_id": f"H{i + 1}"}
            for i, (n, k) in enumerate(zip(names, kana))}


def write_input(root: Path, extra: bool) -> Path:
    """A small input; ``extra`` adds two more suspects (so two runs differ in content)."""
    r = _res()
    write_residents(root, list(r.values()))
    bad = number(2)[:-1] + str((int(number(2)[-1]) + 1) % 10)
    recs = [record_from(r[i], f"HI{i}") for i in range(1, 7)]
    recs.append(record_from(r[3], "HI-BAD", individual_number=bad))          # INVALID_NUMBER
    if extra:
        recs.append(record_from(r[4], "HI-UNK", individual_number=number(99)))  # UNKNOWN_NUMBER
        recs.append(record_from(r[5], "HI-NONE", individual_number=None))       # UNLINKED_RECORD
    write_category(root, "health_insurance", recs)
    write_category(root, "national_tax", [record_from(r[i], f"NT{i}") for i in range(1, 7)])
    return root


# --- the reader rule, with deltalake ------------------------------------------------------

def _rows(path: Path) -> list[dict] | None:
    if not (path / "_delta_log").is_dir():
        return None
    return deltalake.DeltaTable(str(path)).to_pyarrow_table().to_pylist()


def _j(row: dict) -> str:
    return json.dumps(row, sort_keys=True, default=str, ensure_ascii=False)


def rule_view(out: Path) -> dict:
    """What a reader following the contract's rule sees: every runs row, and the rows of the
    run-keyed tables whose (run_id, attempt) is a published runs row's."""
    runs = _rows(out / "runs") or []
    published = {(r["run_id"], r.get("attempt")) for r in runs if r["status"] == "published"}
    view = {"runs": sorted(_j(r) for r in runs)}
    for t in publish.DATA_TABLES:
        rows = _rows(out / t)
        if rows is not None:
            view[t] = sorted(_j(r) for r in rows if (r["run_id"], r.get("attempt")) in published)
    return view


def raw_view(out: Path) -> dict:
    view = {"runs": sorted(_j(r) for r in _rows(out / "runs") or [])}
    for t in publish.DATA_TABLES:
        rows = _rows(out / t)
        if rows is not None:
            view[t] = sorted(_j(r) for r in rows)
    return view


def digest(view: dict) -> str:
    return hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()


def _count(view: dict, table: str, run_id: str) -> int:
    return sum(1 for r in view.get(table, []) if json.loads(r)["run_id"] == run_id)


@pytest.fixture(scope="module")
def base(spark, cfg, tmp_path_factory):
    """OUTPUT with two published runs: p1 (3 suspects' input) and p2 (more suspects)."""
    root = tmp_path_factory.mktemp("publish")
    inp1, inp2, out = write_input(root / "in1", False), write_input(root / "in2", True), root / "out"
    run_cfg = {**cfg, "run": {"reference_date": REF}}
    s1 = run(run_cfg, str(inp1), str(out), "p1")
    s2 = run(run_cfg, str(inp2), str(out), "p2")
    assert s1["status"] == s2["status"] == "published"
    return {"root": root, "inp1": inp1, "inp2": inp2, "out": out, "cfg": run_cfg}


def test_every_reader_sees_the_same_published_rows(base, spark):
    """deltalake with the rule, Spark raw and Tenken's read_table agree; every row carries
    its attempt, and each run's rows are one attempt: the runs row's."""
    out = base["out"]
    view = rule_view(out)
    assert view == raw_view(out)        # nothing that does not count is left after a publication
    runs = {json.loads(r)["run_id"]: json.loads(r) for r in view["runs"]}
    assert set(runs) == {"p1", "p2"} and all(r["status"] == "published" and r["attempt"] for r in runs.values())
    assert _count(view, "suspects", "p2") > _count(view, "suspects", "p1") > 0
    for t in ("suspects", "quarantine", "models"):
        for row in map(json.loads, view[t]):
            assert row["attempt"] == runs[row["run_id"]]["attempt"], t
    ours = sorted(publish.read_table(spark, str(out), "suspects").toJSON().collect())
    assert len(ours) == len(view["suspects"])
    assert not (out / L.LOCK_NAME).exists() and not (out / publish.STAGING).exists()


# --- kills at every step boundary ----------------------------------------------------------

REPUBLISH = """
import sys
from pyspark.sql import functions as F
from jobs import publish
from jobs.config import load_config
from jobs.lock import OutputLock
from jobs.session import get_spark

out, run_id, source, attempt = sys.argv[1:5]
spark = get_spark(load_config())
tables = []
for name in ("suspects", "quarantine", "corrections", "models"):
    df = publish.read_table(spark, out, name)
    if df is not None:
        df = df.where(F.col("run_id") == source).drop("attempt").withColumn("run_id", F.lit(run_id))
        tables.append((name, df.localCheckpoint()))
runs = (publish.read_table(spark, out, "runs").where(F.col("run_id") == source)
        .withColumn("run_id", F.lit(run_id)).localCheckpoint())
with OutputLock(out, run_id, spark) as lock:
    publish.commit(spark, out, run_id, tables, runs, attempt, lock)
"""


def republish(out: Path, attempt: str, exit_at: str | None = None, timeout: int = 300):
    """Republish run p1 with p2's rows in a child process (optionally exiting at ``exit_at``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(publish.EXIT_AT_ENV, None)
    if exit_at:
        env[publish.EXIT_AT_ENV] = exit_at
    return subprocess.run([sys.executable, "-c", REPUBLISH, str(out), "p1", "p2", attempt], cwd=str(ROOT),
                          env=env, capture_output=True, text=True, timeout=timeout)


def republish_here(spark, out: Path, attempt: str) -> None:
    from pyspark.sql import functions as F

    tables = []
    for name in ("suspects", "quarantine", "corrections", "models"):
        df = publish.read_table(spark, str(out), name)
        if df is not None:
            tables.append((name, df.where(F.col("run_id") == "p2").drop("attempt")
                           .withColumn("run_id", F.lit("p1")).localCheckpoint()))
    runs = (publish.read_table(spark, str(out), "runs").where(F.col("run_id") == "p2")
            .withColumn("run_id", F.lit("p1")).localCheckpoint())
    with L.OutputLock(str(out), "p1", spark) as lk:
        publish.commit(spark, str(out), "p1", tables, runs, attempt, lk)


@pytest.fixture(scope="module")
def expected(base, spark):
    """The state after republishing p1 (attempt 'killed' and 'rerun'), computed in-process on copies."""
    views = {}
    for attempt in ("killed", "rerun"):
        copy = base["root"] / f"expected-{attempt}"
        shutil.copytree(base["out"], copy)
        republish_here(spark, copy, attempt)
        views[attempt] = rule_view(copy)
    return views


@pytest.mark.parametrize("step", publish.PUBLISH_STEPS)
def test_kill_at_every_step_boundary(base, spark, expected, step, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(base["out"], out)
    before = rule_view(out)
    h_before = digest(before)
    done = republish(out, "killed", exit_at=step)
    assert done.returncode == 137, done.stderr[-2000:]
    assert f"exiting at {step}" in done.stderr
    assert (out / L.LOCK_NAME).exists()          # a kill leaves its lock behind
    seen = rule_view(out)
    if publish.PUBLISH_STEPS.index(step) < publish.PUBLISH_STEPS.index("after:runs"):
        assert seen == before and digest(seen) == h_before, step         # exactly the previous state
        assert json.loads(next(r for r in seen["runs"] if '"run_id": "p1"' in r))["attempt"] != "killed"
    else:
        assert seen == expected["killed"], step                         # exactly the new state
    # never a mix of two attempts of one run id
    runs = {json.loads(r)["run_id"]: json.loads(r)["attempt"] for r in seen["runs"]}
    for t in publish.DATA_TABLES:
        assert all(json.loads(r)["attempt"] == runs[json.loads(r)["run_id"]] for r in seen.get(t, [])), t
    # the same run publishes again (the dead process's lock is stale: its pid is gone)
    republish_here(spark, out, "rerun")
    assert rule_view(out) == expected["rerun"]
    assert raw_view(out) == expected["rerun"]     # the killed attempt's rows were swept
    assert not (out / L.LOCK_NAME).exists()


def test_kill_a_real_reconcile_mid_publication_then_rerun(base, spark, tmp_path):
    """`tenken reconcile` killed after two of its four table commits: deltalake sees the
    previous state exactly; the same run id, run again by the pipeline, completes."""
    out = tmp_path / "out"
    shutil.copytree(base["out"], out)
    before = rule_view(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT), publish.EXIT_AT_ENV: "after:quarantine"}
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "reconcile", "--input", str(base["inp2"]),
                           "--output", str(out), "--run-id", "p1"],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 137, done.stderr[-2000:]
    assert "publish: committed quarantine" in done.stderr
    assert digest(rule_view(out)) == digest(before)
    raw = raw_view(out)
    assert len(raw["suspects"]) > len(before["suspects"])     # the killed attempt's rows are there, not counted
    summary = run(base["cfg"], str(base["inp2"]), str(out), "p1")
    assert summary["status"] == "published"
    after = rule_view(out)
    assert after == raw_view(out)
    assert _count(after, "suspects", "p1") == _count(after, "suspects", "p2")
    assert [r for r in after["suspects"] if '"run_id": "p2"' in r] == \
        [r for r in before["suspects"] if '"run_id": "p2"' in r]


# --- one writer per OUTPUT ---------------------------------------------------------------

def _reconcile(inp: Path, out: Path, run_id: str, **env_over) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_over}
    env.pop(publish.EXIT_AT_ENV, None)
    return subprocess.Popen([sys.executable, "-m", "jobs.cli", "reconcile", "--input", str(inp), "--output",
                             str(out), "--run-id", run_id], cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _refused(proc: subprocess.Popen, out: Path) -> str:
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err[-2000:]
    line = [ln for ln in err.splitlines() if ln.startswith("tenken: error:")]
    assert len(line) == 1 and f"output {out} is in use by run" in line[0], err[-2000:]
    assert "An error occurred while calling" not in err
    return line[0]


def test_two_concurrent_runs_one_publishes_the_other_is_refused(base, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(base["out"], out)
    before = rule_view(out)
    # two runs started together: exactly one takes the lock
    a = _reconcile(base["inp2"], out, "c1", **{publish.PAUSE_ENV: "8"})
    b = _reconcile(base["inp1"], out, "c2", **{publish.PAUSE_ENV: "8"})
    procs = {"c1": a, "c2": b}
    try:
        loser = None
        deadline = time.monotonic() + 120
        while loser is None and time.monotonic() < deadline:
            for rid, p in procs.items():
                if p.poll() is not None:
                    loser = rid
            time.sleep(0.2)
        assert loser is not None, "neither run was refused"
        _refused(procs[loser], out)
        winner_id = "c2" if loser == "c1" else "c1"
        winner = procs[winner_id]
        # a third run while the winner is inside its publication: refused, the publication untouched
        seen = []
        for line in winner.stderr:
            seen.append(line)
            if "publish: committed suspects" in line:
                break
        assert any("publish: committed suspects" in ln for ln in seen), "".join(seen[-30:])
        c = _reconcile(base["inp1"], out, "p1")
        _refused(c, out)
        rest = winner.stderr.read()
        winner.wait(timeout=300)
        assert winner.returncode == 0, "".join(seen[-20:]) + rest[-2000:]
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
    after = rule_view(out)
    runs = {json.loads(r)["run_id"]: json.loads(r) for r in after["runs"]}
    assert set(runs) == {"p1", "p2", winner_id} and runs[winner_id]["status"] == "published"
    assert _count(after, "suspects", winner_id) == runs[winner_id]["suspects"] > 0
    for t in ("suspects", "quarantine", "corrections", "models"):   # nothing of before lost
        assert set(before.get(t, [])) <= set(after.get(t, [])), t
    assert not (out / L.LOCK_NAME).exists()


def _lock_file(out: Path, **info) -> None:
    out.mkdir(parents=True, exist_ok=True)
    body = {"run_id": "old", "host": socket.gethostname(), "pid": os.getpid(), "token": "t",
            "started_at": "2026-01-01T00:00:00Z", "heartbeat": time.time(), **info}
    (out / L.LOCK_NAME).write_text(json.dumps(body))


def test_lock_refuses_a_live_holder_and_takes_over_a_stale_one(tmp_path):
    out = tmp_path / "o"
    with L.OutputLock(str(out), "r1") as held:
        info = json.loads((out / L.LOCK_NAME).read_text())
        assert info["run_id"] == "r1" and info["pid"] == os.getpid() and info["host"] == socket.gethostname()
        with pytest.raises(UsageError, match=r"is in use by run r1 \(host .*, pid \d+, started .*heartbeat"):
            L.OutputLock(str(out), "r2").acquire()
        held.verify()
    assert not (out / L.LOCK_NAME).exists()
    # a dead process on this host
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _lock_file(out, pid=dead.pid)
    with L.OutputLock(str(out), "r3"):
        assert json.loads((out / L.LOCK_NAME).read_text())["run_id"] == "r3"
    # a live pid that now belongs to another process (started at another time)
    _lock_file(out, pid=os.getpid(), proc_start="1")
    with L.OutputLock(str(out), "r4"):
        pass
    # another host: live while its heartbeat is fresh, stale after the timeout
    _lock_file(out, host="elsewhere", pid=1)
    with pytest.raises(UsageError, match="host elsewhere"):
        L.OutputLock(str(out), "r5", timeout_s=60).acquire()
    _lock_file(out, host="elsewhere", pid=1, heartbeat=time.time() - 120)
    with L.OutputLock(str(out), "r6", timeout_s=60):
        pass
    # a lock file that cannot be parsed: refused while fresh, taken over when old
    (out / L.LOCK_NAME).write_text("{")
    with pytest.raises(UsageError):
        L.OutputLock(str(out), "r7", timeout_s=60).acquire()
    os.utime(out / L.LOCK_NAME, (time.time() - 120, time.time() - 120))
    with L.OutputLock(str(out), "r8", timeout_s=60):
        pass
    assert not any(p.name.startswith(L.LOCK_NAME) for p in out.iterdir())


def test_heartbeat_and_a_lost_lock(tmp_path):
    out = tmp_path / "o"
    lk = L.OutputLock(str(out), "r1", timeout_s=2, heartbeat_s=0.2).acquire()
    try:
        first = json.loads((out / L.LOCK_NAME).read_text())["heartbeat"]
        time.sleep(0.8)
        assert json.loads((out / L.LOCK_NAME).read_text())["heartbeat"] > first
        # another run takes over (as after a stalled heartbeat): this one must not commit
        _lock_file(out, run_id="thief", token="other")
        with pytest.raises(L.LockLost):
            lk.verify()
    finally:
        lk.release()
    assert json.loads((out / L.LOCK_NAME).read_text())["run_id"] == "thief"   # not removed: not ours


# --- faults --------------------------------------------------------------------------------

def _fails(cfg: dict, inp: Path, out: Path, run_id: str) -> tuple[int, str]:
    """Run the pipeline as `tenken reconcile` would and return its exit status and the one
    line it would print (jobs.cli._fail: the first line of the error)."""
    from jobs.errors import TenkenError

    with pytest.raises(TenkenError) as info:
        run(cfg, str(inp), str(out), run_id)
    text = str(info.value)
    assert "\n" not in text.strip(), text
    assert "An error occurred while calling" not in text and "Py4J" not in text, text
    return info.value.exit_code, text


def test_output_under_a_file_is_exit_2_naming_the_path(base, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, line = _fails(base["cfg"], base["inp1"], blocker / "out", "f1")
    assert code == 2
    assert f"output {blocker / 'out'} is not writable" in line and "Not a directory" in line, line


@pytest.fixture
def small_fs(tmp_path):
    """A 24 MB tmpfs (root only; skipped elsewhere)."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_and_read_only_storage(base, spark, small_fs):
    out = small_fs / "out"
    shutil.copytree(base["out"], out)
    before = rule_view(out)
    # fill the file system
    filler = small_fs / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 16))
                fh.flush()
        except OSError:
            pass
    # full before the run starts: the lock cannot be written
    code, line = _fails(base["cfg"], base["inp2"], out, "f2")
    assert code == 1 and f"cannot write {out / L.LOCK_NAME}: No space left on device" in line, line
    # 16 KB left: the run gets going and a later write fails
    os.truncate(filler, filler.stat().st_size - (16 << 10))
    code, line = _fails(base["cfg"], base["inp2"], out, "f2")
    print("storage full:", code, line)   # shown by pytest -rP
    assert code == 1, line
    assert f"cannot write {out}/" in line and "No space left on device" in line, line
    assert not (out / L.LOCK_NAME).exists()
    assert rule_view(out) == before
    # space again
    filler.unlink()
    # a read-only file system: exit 2 before anything starts
    ro = small_fs.parent / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)],
                      capture_output=True).returncode == 0:
        try:
            code, line = _fails(base["cfg"], base["inp2"], ro / "out", "f2")
            assert code == 2
            assert f"output {ro / 'out'} is not writable" in line and "Read-only file system" in line, line
        finally:
            subprocess.run(["umount", "-l", str(ro)], capture_output=True)
    assert rule_view(out) == before
    # the same run completes
    summary = run(base["cfg"], str(base["inp2"]), str(out), "f2")
    assert summary["status"] == "published"
    after = rule_view(out)
    assert after == raw_view(out) and _count(after, "suspects", "f2") == _count(after, "suspects", "p2")
