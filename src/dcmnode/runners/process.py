"""`ProcessRunner`: every job in a fresh Python process, in a working directory of its own."""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from dcmnode.job import Job
from dcmnode.runners._child import JOB_FILE, RESULT_FILE
from dcmnode.runners.pool import (
    CANCELLED_RUNNING,
    PooledRunner,
    Result,
    relog,
    timed_out_error,
)

log = logging.getLogger("dcmnode.runner")
output_log = logging.getLogger("dcmnode.job.output")

# Longest piece of a line re-logged as one record: output without newlines
# never makes the node buffer more than this.
_CHUNK = 64 * 1024
# Log records are JSON lines made by the child: one piece each, up to a sane size.
_RECORD_CHUNK = 16 * 1024 * 1024
# How long the node waits for the last output after the job's process group died.
_DRAIN_SECONDS = 10.0


class ProcessRunner(PooledRunner):
    """Run each job in a fresh Python process (a new interpreter, not a fork).

    A crash of the job -- an exception, ``os._exit``, a segfault, the kernel's
    OOM killer -- ends only that process and is reported at once as a failed
    job with its exit code or signal. A job that exceeds *timeout* is killed
    together with every process it started, and so is a job whose node dies
    (even by SIGKILL). The node's working directory, logging and signal
    handlers are never touched.

    Each job runs in a working directory of its own under *processing_dir*
    (``$TMPDIR/dcmnode-processing`` by default), which is deleted afterwards
    -- unless the job failed and *keep_failed* is set, for a post-mortem.
    The environment variables ``DCMNODE_JOB_ID`` and ``DCMNODE_JOB_DIR`` name
    the job and that directory.
    Everything the job prints goes to the node's log line by line (logger
    ``dcmnode.job.output``), without any size limit; its ``logging`` records
    are re-logged in the node under their own logger names, prefixed with
    the job.

    The pipeline class is re-created in the child as ``cls(**settings)`` from
    `Pipeline.settings`: it must be importable (or loaded by ``dcmnode run``
    from a file) and its settings picklable.

    Parameters
    ----------
    workers : int
        Job processes that run at once.
    timeout : float or None
        Seconds a job may run before its process group is killed.
    queue_size : int
        Jobs that may wait for a worker before `submit` blocks.
    processing_dir : str or None
        Where job working directories are made.
    keep_failed : bool
        Keep the working directory of a failed job (its path is logged).
    python : str or None
        Interpreter for the job processes; the node's own by default.
    """

    # A job over its timeout is killed with its process group: its worker is free at once.
    _kills_on_timeout = True

    def __init__(
        self,
        workers: int = 2,
        timeout: float | None = None,
        queue_size: int = 64,
        processing_dir: str | os.PathLike[str] | None = None,
        keep_failed: bool = False,
        python: str | None = None,
    ) -> None:
        super().__init__(workers, queue_size, timeout)
        self.processing_dir = processing_dir
        self.keep_failed = keep_failed
        self.python = python

    def _open(self) -> None:
        base = self.processing_dir or Path(tempfile.gettempdir()) / "dcmnode-processing"
        self._base = Path(base).resolve()
        self._base.mkdir(parents=True, exist_ok=True)
        self._children: dict[str, _Child] = {}

    def _cancel_running(self) -> None:
        with self._lock:
            children = list(self._children.values())
        for child in children:
            child.kill("cancelled")

    def _execute(self, job: Job) -> Result:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", job.id)
        workdir = Path(tempfile.mkdtemp(prefix=f"{safe}-", dir=self._base))
        failed = True
        try:
            self._write_job(job, workdir)
            child = _Child(job, workdir, self.python or sys.executable)
            with self._lock:
                self._children[job.id] = child
            if self._cancelling.is_set():  # stop's kills may have missed it
                child.kill("cancelled")
            try:
                outputs, error = child.run(self.timeout)
            finally:
                with self._lock:
                    self._children.pop(job.id, None)
            failed = error is not None
            return outputs, error
        finally:
            if failed and self.keep_failed:
                log.warning("%s: kept the working directory %s", job, workdir)
            else:
                shutil.rmtree(workdir, ignore_errors=True)

    def _write_job(self, job: Job, workdir: Path) -> None:
        cls = type(self._pipeline)
        # A class loaded from a file by `dcmnode run` lives in a module the
        # child cannot import: send the file to load instead of the class.
        source: object = cls._source or cls
        payload = pickle.dumps((source, self._pipeline.settings(), job))
        with open(workdir / JOB_FILE, "wb") as file:
            pickle.dump((list(sys.path), payload), file)

    def __repr__(self) -> str:
        return f"ProcessRunner(workers={self.workers}, timeout={self.timeout})"


class _Child:
    """One job process: start, stream its output, wait, kill, collect the result."""

    def __init__(self, job: Job, workdir: Path, python: str) -> None:
        self.job = job
        self.workdir = workdir
        self.python = python
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._reaped = False
        self._killed_for: str | None = None

    def run(self, timeout: float | None) -> Result:
        log_read, log_write = os.pipe()
        level = logging.getLogger().getEffectiveLevel()
        env = dict(os.environ, PYTHONUNBUFFERED="1", DCMNODE_JOB_ID=self.job.id)
        env["DCMNODE_JOB_DIR"] = str(self.workdir)
        # Not ``-m``: the package imports _child before runpy would run it.
        start = "from dcmnode.runners._child import main; main()"
        command = [self.python, "-c", start, str(self.workdir)]
        try:
            with self._lock:
                if self._killed_for is not None:  # cancelled before it began
                    os.close(log_read)
                    return None, CANCELLED_RUNNING
                self._process = process = subprocess.Popen(
                    [*command, str(log_write), str(level)],
                    cwd=self.workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=(log_write,),
                    # Its own process group: a timeout kills everything the
                    # job started, and a Ctrl-C at the node's terminal is the
                    # node's to handle, not the job's.
                    start_new_session=True,
                )
        except BaseException:
            os.close(log_read)
            raise
        finally:
            os.close(log_write)
        assert process.stdout is not None and process.stderr is not None
        readers = [
            _reader(self._lines, process.stdout, logging.INFO, "stdout"),
            _reader(self._lines, process.stderr, logging.WARNING, "stderr"),
            _reader(self._records, os.fdopen(log_read, "rb"), logging.INFO, "log", _RECORD_CHUNK),
        ]
        if not _wait_exit(process, timeout):
            self.kill("timeout")
            _wait_exit(process, None)
        with self._lock:
            # Leftover children of the job die with it; the unreaped leader
            # keeps the group id from being reused until this kill is done.
            _kill_group(process.pid)
            returncode = process.wait()
            self._reaped = True
        for reader in readers:
            reader.join(_DRAIN_SECONDS)
        return self._result(returncode, timeout)

    def kill(self, reason: str) -> None:
        """Kill the job's whole process group (from any thread)."""
        with self._lock:
            if self._reaped:
                return
            self._killed_for = self._killed_for or reason
            if self._process is not None:
                _kill_group(self._process.pid)

    def _result(self, returncode: int, timeout: float | None) -> Result:
        if self._killed_for == "cancelled":
            return None, CANCELLED_RUNNING
        if self._killed_for == "timeout":
            return None, f"{timed_out_error(self.job, timeout)}; killed"
        result_file = self.workdir / RESULT_FILE
        if returncode == 0 and result_file.is_file():
            with open(result_file, "rb") as file:
                status, value = pickle.load(file)
            return (value, None) if status == "ok" else (None, value)
        return None, f"ProcessCrashed: the job's process {_describe_exit(returncode)}"

    def _lines(self, line: str, level: int, stream: str) -> None:
        output_log.log(level, "%s %s: %s", self.job, stream, line)

    def _records(self, line: str, level: int, stream: str) -> None:
        try:
            record = json.loads(line)
            name = str(record["name"])
            record_level = int(record["level"])
            message = str(record["message"])
        except (ValueError, KeyError, TypeError):
            output_log.warning("%s: unreadable log line: %s", self.job, line)
            return
        relog(self.job, name, record_level, message)


def _reader(
    handle: Callable[[str, int, str], None],
    stream: IO[bytes],
    level: int,
    name: str,
    limit: int = _CHUNK,
) -> threading.Thread:
    """Drain *stream* on a thread of its own, so a chatty job can never block on a full pipe."""

    def loop() -> None:
        with stream:
            while chunk := stream.readline(limit):
                handle(chunk.decode("utf-8", "replace").rstrip("\r\n"), level, name)

    thread = threading.Thread(target=loop, name=f"dcmnode-job-{name}", daemon=True)
    thread.start()
    return thread


def _wait_exit(process: subprocess.Popen[bytes], timeout: float | None) -> bool:
    """Wait until the process exits, without reaping it; False on timeout."""
    if hasattr(os, "pidfd_open"):
        # Readable as soon as the process ends: crash detection is immediate.
        fd = os.pidfd_open(process.pid)
        try:
            ready, _, _ = select.select([fd], [], [], timeout)
            return bool(ready)
        finally:
            os.close(fd)
    try:  # elsewhere: reaps early, so the group kill after it is best effort
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        hint = (
            " (out of memory? the kernel's OOM killer sends SIGKILL)" if name == "SIGKILL" else ""
        )
        return f"was killed by {name} ({number}){hint}"
    if returncode == 0:
        return "exited without a result"
    return f"exited with code {returncode}"
