"""One writer per OUTPUT: the lock file ``OUTPUT/_tenken.lock`` (issue 23).

A run that writes to OUTPUT (``tenken reconcile``) holds the lock from before it writes
anything until it ends; a second run on the same OUTPUT is refused at once (exit 2, one
line naming the holder).  The lock is a small JSON file created exclusively, holding the
holder's host, pid, process start time, run id, a random token, when it started and a
heartbeat (rewritten every ``heartbeat_s`` seconds by a daemon thread).

A lock is stale, and is taken over, when

- its process is gone: same host, and no process with that pid, or one with another start
  time (a reused pid);
- or its heartbeat is older than ``timeout_s`` (any host: a killed driver on another
  machine, a lost container);
- or it cannot be parsed and is older than ``timeout_s``.

Creating it exclusively: locally the JSON is written to a private file first and then
``os.link``ed to the lock's name (atomic, fails when the name exists, so a lock file is
never seen half written); on object storage (an OUTPUT with a scheme: s3a://, abfss://,
gs://, hdfs://) through Hadoop's ``FileSystem.create(path, overwrite=false)``, which is
exclusive on HDFS, ABFS and GCS, and on S3A with conditional writes
(``fs.s3a.create.conditional.enabled``, Hadoop 3.4.1+).  Taking over a stale lock renames
it aside first (locally; one contender wins the rename) and checks that what it moved is
the stale lock it judged, else puts it back and gives up.  The holder checks that the
lock is still its own (its token) before it commits the runs row.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from jobs.errors import TenkenError, UsageError

log = logging.getLogger("tenken")

LOCK_NAME = "_tenken.lock"
TIMEOUT_ENV = "TENKEN_LOCK_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 600.0


class LockLost(TenkenError):
    """The lock was taken over while this run held it (its heartbeat stalled past the timeout)."""


def _now() -> float:
    return time.time()


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def has_scheme(output: str) -> bool:
    return "://" in str(output)


class _LocalStore:
    """Lock file operations on a local (or mounted) file system."""

    def __init__(self, output: str):
        self.path = Path(output) / LOCK_NAME

    def create(self, body: bytes) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{LOCK_NAME}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                return False
            return True
        finally:
            try:
                tmp.unlink()
            except OSError:
                pass

    def read(self) -> tuple[bytes, float] | None:
        try:
            return self.path.read_bytes(), self.path.stat().st_mtime
        except FileNotFoundError:
            return None

    def overwrite(self, body: bytes) -> None:
        tmp = self.path.with_name(f"{LOCK_NAME}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(body)
        os.replace(tmp, self.path)

    def take_over(self, stale: bytes) -> bool:
        """Remove the stale lock ``stale``; False when another contender got there first."""
        aside = self.path.with_name(f"{LOCK_NAME}.{uuid.uuid4().hex}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        if aside.read_bytes() != stale:   # moved someone's fresh lock: put it back, give up
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
            aside.unlink()
            return False
        aside.unlink()
        return True

    def delete(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class _HadoopStore:
    """Lock file operations through Hadoop's FileSystem (object storage, HDFS)."""

    def __init__(self, output: str, spark):
        jvm = spark.sparkContext._jvm
        self.jvm = jvm
        self.hpath = jvm.org.apache.hadoop.fs.Path(f"{str(output).rstrip('/')}/{LOCK_NAME}")
        self.fs = self.hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        self.path = str(self.hpath)

    def _write(self, body: bytes, overwrite: bool) -> None:
        out = self.fs.create(self.hpath, overwrite)
        try:
            out.write(bytearray(body))
        finally:
            out.close()

    def create(self, body: bytes) -> bool:
        try:
            self._write(body, False)
            return True
        except Exception as exc:  # noqa: BLE001 - FileAlreadyExistsException arrives as Py4JJavaError
            if "FileAlreadyExists" in str(exc) or "already exists" in str(exc) or "PreconditionFailed" in str(exc):
                return False
            raise

    def read(self) -> tuple[bytes, float] | None:
        if not self.fs.exists(self.hpath):
            return None
        status = self.fs.getFileStatus(self.hpath)
        stream = self.fs.open(self.hpath)
        try:
            data = self.jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
        finally:
            stream.close()
        return bytes(data), status.getModificationTime() / 1000.0

    def overwrite(self, body: bytes) -> None:
        self._write(body, True)

    def take_over(self, stale: bytes) -> bool:
        current = self.read()
        if current is None or current[0] != stale:
            return False
        self.fs.delete(self.hpath, False)
        return True

    def delete(self) -> None:
        self.fs.delete(self.hpath, False)


def describe(info: dict | None, now: float | None = None) -> str:
    if info is None:
        return "another run (its lock file cannot be read yet)"
    now = _now() if now is None else now
    beat = info.get("heartbeat")
    ago = f", heartbeat {now - beat:.0f} s ago" if isinstance(beat, (int, float)) else ""
    return (f"run {info.get('run_id')!s} (host {info.get('host')}, pid {info.get('pid')}, "
            f"started {info.get('started_at')}{ago})")


def stale_reason(info: dict | None, mtime: float, timeout_s: float, now: float | None = None) -> str | None:
    """Why the lock ``info`` (None: unreadable) is stale, or None when it is live."""
    now = _now() if now is None else now
    if info is None:
        return "unreadable lock file" if now - mtime > timeout_s else None
    if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
        pid = info["pid"]
        if not _pid_alive(pid):
            return f"its process {pid} is gone"
        start = info.get("proc_start")
        if start is not None and _proc_start(pid) not in (None, start):
            return f"pid {pid} now belongs to another process"
    beat = info.get("heartbeat")
    if not isinstance(beat, (int, float)) or now - beat > timeout_s:
        return f"no heartbeat for more than {timeout_s:.0f} s"
    return None


class OutputLock:
    """``with OutputLock(output, run_id): ...`` holds OUTPUT's lock (see the module docstring)."""

    def __init__(self, output: str, run_id: str, spark=None, timeout_s: float | None = None,
                 heartbeat_s: float | None = None):
        self.output = str(output)
        self.run_id = run_id
        if timeout_s is None:
            timeout_s = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
        self.timeout_s = timeout_s
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else max(0.5, min(30.0, timeout_s / 4))
        self.store = _HadoopStore(output, spark) if has_scheme(output) else _LocalStore(output)
        self.token = uuid.uuid4().hex
        self.info: dict = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.held = False

    def _body(self) -> bytes:
        self.info["heartbeat"] = round(_now(), 3)
        self.info["heartbeat_at"] = _iso(self.info["heartbeat"])
        return json.dumps(self.info, sort_keys=True).encode()

    def acquire(self) -> "OutputLock":
        pid = os.getpid()
        self.info = {"run_id": self.run_id, "host": socket.gethostname(), "pid": pid,
                     "proc_start": _proc_start(pid), "token": self.token, "started_at": _iso(_now())}
        where = self.store.path
        for _ in range(5):
            try:
                created = self.store.create(self._body())
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):   # a fault, not a usage error
                    raise TenkenError(f"cannot write {where}: {exc.strerror}; nothing was published") from exc
                raise UsageError(f"output {self.output} is not writable: cannot create {where}: "
                                 f"{exc.strerror or exc}") from exc
            if created:
                break
            found = self.store.read()
            if found is None:
                continue        # released meanwhile: try again
            raw, mtime = found
            try:
                other = json.loads(raw)
                other = other if isinstance(other, dict) else None
            except ValueError:
                other = None
            why = stale_reason(other, mtime, self.timeout_s)
            if why is None:
                raise UsageError(f"output {self.output} is in use by {describe(other)}; "
                                 f"one run at a time per OUTPUT (lock {where})")
            if self.store.take_over(raw):
                log.warning("lock %s: taken over from %s: %s", where,
                            describe(other) if other else "an unreadable lock", why)
        else:
            raise UsageError(f"output {self.output} is in use: could not take the lock {where}")
        self.held = True
        self._thread = threading.Thread(target=self._beat, name="tenken-lock-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                if not self.is_mine():
                    log.error("lock %s: no longer held by this run", self.store.path)
                    return
                self.store.overwrite(self._body())
            except Exception as exc:  # noqa: BLE001 - a full disk must not kill the thread
                log.warning("lock %s: heartbeat not written: %s", self.store.path, exc)

    def is_mine(self) -> bool:
        found = self.store.read()
        if found is None:
            return False
        try:
            return json.loads(found[0]).get("token") == self.token
        except (ValueError, AttributeError):
            return False

    def verify(self) -> None:
        """Raise LockLost unless this run still holds the lock (called before committing)."""
        if not self.is_mine():
            raise LockLost(f"lock {self.store.path} was taken over by another run; nothing more is published")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.held:
            try:
                if self.is_mine():
                    self.store.delete()
            except Exception as exc:  # noqa: BLE001
                log.warning("lock %s: not removed: %s", self.store.path, exc)
        self.held = False

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
