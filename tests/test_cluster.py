"""A real Spark standalone cluster on 127.0.0.1: a master and a one-core worker from the Spark
that pyspark ships, a sample reconciliation submitted through scripts/submit.sh, and its
suspects compared with a local-mode run of the same input.

The submitted application is a separate process (its own driver JVM, executors on the
worker); the local-mode run uses the suite's shared session and runs meanwhile.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SUBMIT = ROOT / "scripts" / "submit.sh"
CATEGORIES = ["health_insurance", "public_benefit_account", "resident_tax"]
SUBMIT_TIMEOUT = 1200  # seconds; the run itself is small, a loaded 2-core machine is slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read())
    except Exception:  # noqa: BLE001 - not up yet
        return None


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process we started in its own session, with whatever it started (executors)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


class Cluster:
    """spark-class Master + Worker (1 core, 2g) as subprocesses in their own sessions."""

    def __init__(self, work: Path):
        self.work = work
        self.port, self.ui = _free_port(), _free_port()
        self.worker_ui = _free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        home = _spark_home()
        conf_dir = work / "spark-conf"          # empty: nothing from the machine's own Spark conf
        conf_dir.mkdir(parents=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_GATEWAY", "SPARK_"))}
        self.env.update(SPARK_HOME=str(home), SPARK_CONF_DIR=str(conf_dir), SPARK_LOCAL_IP="127.0.0.1",
                        SPARK_LOG_DIR=str(work / "logs"), SPARK_WORKER_DIR=str(work / "worker"),
                        SPARK_DAEMON_MEMORY="384m")
        self.spark_class = str(home / "bin" / "spark-class")

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.work / f"{name}.log", "wb")
        self.procs.append(subprocess.Popen([self.spark_class, *args], env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True,
                                           cwd=self.work))
        log.close()

    def start(self, timeout: float = 180) -> None:
        self._start("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(self.port), "--webui-port", str(self.ui)])
        self._start("worker", ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                               "--webui-port", str(self.worker_ui), "--cores", "1", "--memory", "2g",
                               "--work-dir", str(self.work / "worker"), self.url])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if state and state.get("aliveworkers", 0) >= 1:
                return
            for p, name in zip(self.procs, ("master", "worker")):
                if p.poll() is not None:
                    raise RuntimeError(f"spark {name} exited: {self.log(name)[-2000:]}")
            time.sleep(1)
        raise RuntimeError(f"no live worker after {timeout} s: {self.log('master')[-2000:]}")

    def state(self) -> dict | None:
        return _json(f"http://127.0.0.1:{self.ui}/json/")

    def log(self, name: str) -> str:
        try:
            return (self.work / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        for p in reversed(self.procs):
            _stop(p)


def _suspect_set(spark, output: Path, run_id: str) -> set[tuple]:
    df = spark.read.format("delta").load(str(output / "suspects")).where(f"run_id = '{run_id}'")
    return {(r["category"], r["record_id"], r["reason"], r["suggested_token"])
            for r in df.select("category", "record_id", "reason", "suggested_token").collect()}


@pytest.mark.skipif(shutil.which("java") is None and not os.environ.get("JAVA_HOME"), reason="no Java")
def test_submit_to_standalone_cluster_matches_local(spark, tmp_path):
    from jobs.config import deep_merge, load_config
    from jobs.generate import generate
    from jobs.pipeline import run

    data = tmp_path / "data"
    generate(str(data), 300, 3, categories=CATEGORIES)
    ref = json.loads((data / "meta.json").read_text())["reference_date"]
    small = {"spark": {"conf": {"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2"}},
             "run": {"reference_date": ref}}
    conf_file = tmp_path / "small.yaml"
    conf_file.write_text(yaml.safe_dump(small))

    cluster = Cluster(tmp_path / "cluster")
    submitted = None
    try:
        cluster.start()
        env = {k: v for k, v in cluster.env.items() if k not in ("SPARK_CONF_DIR",)}
        env["TENKEN_TOKEN_KEY"] = os.environ["TENKEN_TOKEN_KEY"]
        out_cluster = tmp_path / "out-cluster"
        submitted = subprocess.Popen(
            ["bash", str(SUBMIT), "--master", cluster.url, "--driver-memory", "1g",
             "--executor-memory", "1g", "--checkpoint-dir", str(tmp_path / "ckpt"),
             "--", "reconcile", "--input", str(data), "--output", str(out_cluster),
             "--run-id", "cluster", "--conf", str(conf_file)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

        # meanwhile, the same input in local mode (the suite's session)
        out_local = tmp_path / "out-local"
        cfg = deep_merge(load_config(), {"run": {"reference_date": ref}})
        local = run(cfg, str(data), str(out_local), "local", None)

        try:
            log, _ = submitted.communicate(timeout=SUBMIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop(submitted)
            pytest.fail(f"spark-submit did not finish in {SUBMIT_TIMEOUT} s")
        text = log.decode(errors="replace")
        assert submitted.returncode == 0, text[-4000:]
        assert os.environ["TENKEN_TOKEN_KEY"] not in text

        # it really ran on the cluster
        apps = (cluster.state() or {}).get("completedapps", []) + (cluster.state() or {}).get("activeapps", [])
        assert any(a.get("name") == "tenken" for a in apps), apps

        got = _suspect_set(spark, out_cluster, "cluster")
        want = _suspect_set(spark, out_local, "local")
        assert local["suspects"] == len(want) > 0
        assert got == want, (sorted(got - want)[:10], sorted(want - got)[:10])
    finally:
        if submitted is not None:
            _stop(submitted)
        cluster.stop()
    # nothing left behind
    assert all(p.poll() is not None for p in cluster.procs)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
