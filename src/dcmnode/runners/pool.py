"""`PooledRunner`: the queue, worker threads, accounting and shutdown every runner shares.

Subclasses only say how one job is executed (`PooledRunner._execute`): in
this thread, in a child process, on a Dask cluster. The base guarantees the
runner contract -- every submitted job ends in exactly one
``hooks.finished`` call, whether it succeeded, failed, timed out, crashed or
was cancelled by shutdown -- so the node's ``wait_idle`` always returns.
"""

from __future__ import annotations

import itertools
import logging
import math
import queue
import threading
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import replace

from dcmnode.job import Job
from dcmnode.outputs.base import Output
from dcmnode.runners.base import PipelineLike, Runner, RunnerHooks, RunnerStats
from dcmnode.runners.compute import describe_error
from dcmnode.settings import check_count, check_seconds

log = logging.getLogger("dcmnode.runner")

Result = tuple[Sequence[Output] | None, str | None]
"""What executing a job gives: (outputs, None) or (None, error text)."""

# Queue entries sort by (priority, arrival); the stop marker sorts after every job.
_Entry = tuple[float, int, Job | None]

CANCELLED_QUEUED = "Cancelled: the node stopped before the job could start"
CANCELLED_RUNNING = "Cancelled: the node stopped while the job was running"


def positive_int(owner: str, name: str, value: object) -> int:
    """Check a count argument at construction, naming ``Owner.argument`` on failure."""
    return check_count(f"{owner}.{name}", value)


def optional_seconds(owner: str, name: str, value: object) -> float | None:
    """Check an optional duration argument (None = no limit)."""
    return None if value is None else check_seconds(f"{owner}.{name}", value)


class PooledRunner(Runner):
    """Worker threads in the node process take jobs from one bounded queue.

    Parameters
    ----------
    workers : int
        Jobs that run at once.
    queue_size : int
        Jobs that may wait for a worker before `submit` blocks.
    timeout : float or None
        Seconds a job may run before it is failed with a timeout.
    """

    def __init__(self, workers: int, queue_size: int, timeout: float | None) -> None:
        name = type(self).__name__
        self.workers = positive_int(name, "workers", workers)
        self.queue_size = positive_int(name, "queue_size", queue_size)
        self.timeout = optional_seconds(name, "timeout", timeout)
        self._threads: list[threading.Thread] | None = None  # made by start

    # -- what subclasses provide ------------------------------------------------------

    _cancel_grace = 5.0
    """Seconds stop waits for running jobs after `_cancel_running` (kills take a moment)."""

    @abstractmethod
    def _execute(self, job: Job) -> Result:
        """Run one job to its end (on a worker thread) and return its result."""

    def _open(self) -> None:
        """Acquire resources before the workers start (e.g. connect to a cluster)."""

    def _cancel_running(self) -> None:
        """Make running jobs end soon (kill processes, cancel futures); best effort."""

    def _close(self) -> None:
        """Release what `_open` acquired, after the workers ended."""

    def _priority(self, job: Job) -> float:
        """Lower runs first; equal priorities run in arrival order."""
        return 0.0

    # -- the runner interface ---------------------------------------------------------

    def start(self, pipeline: PipelineLike, hooks: RunnerHooks) -> None:
        if self._threads is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        self._threads = []
        # All state is made here, not in __init__: a runner given as a class
        # attribute is copied per pipeline instance and must start fresh.
        self._pipeline = pipeline
        self._hooks = hooks
        self._queue: queue.PriorityQueue[_Entry] = queue.PriorityQueue(self.queue_size)
        self._arrivals = itertools.count()
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[Job, float]] = {}  # id -> (job, submitted), until ended
        self._running = 0
        self._stats = RunnerStats(self.workers, self.queue_size)
        self._stopping = threading.Event()  # stop began: drain, then end
        self._cancelling = threading.Event()  # stop's time is up: start nothing new
        self._closed = threading.Event()  # stop ended: no worker takes jobs any more
        self._open()
        name = type(self).__name__
        for index in range(self.workers):
            thread = threading.Thread(
                target=self._work, name=f"dcmnode-{name}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def submit(self, job: Job) -> None:
        with self._lock:
            self._pending[job.id] = (job, time.monotonic())
            self._stats = replace(self._stats, submitted=self._stats.submitted + 1)
        if self._closed.is_set():
            self._end(job, None, CANCELLED_QUEUED)
            return
        entry = (self._priority(job), next(self._arrivals), job)
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            log.warning(
                "%s waits: all %d workers busy and %d jobs queued (backpressure)",
                job,
                self.workers,
                self.queue_size,
            )
            self._hooks.backpressure(job, self.queue_size, self.workers)
            with self._lock:  # counted last: whoever sees the count sees the log and event
                self._stats = replace(self._stats, backpressure=self._stats.backpressure + 1)
            self._queue.put(entry)
        if self._closed.is_set():
            # Stop ended while we waited for room: nobody will take the job now.
            self._cancel_queued()

    def stats(self) -> RunnerStats:
        if self._threads is None:
            return RunnerStats(self.workers, self.queue_size)
        with self._lock:
            return replace(self._stats, queued=self._queue.qsize(), running=self._running)

    def stop(self, timeout: float) -> bool:
        threads = self._threads
        if threads is None:
            return True
        deadline = time.monotonic() + timeout
        self._stopping.set()
        # Stop markers sort behind every queued job, so queued work runs first.
        for _ in threads:
            try:
                self._queue.put((math.inf, next(self._arrivals), None), timeout=_left(deadline))
            except queue.Full:
                break
        for thread in threads:
            thread.join(_left(deadline))
        clean = not any(t.is_alive() for t in threads)
        if not clean:
            log.warning("%s: stop timed out; cancelling queued and running jobs", self)
            self._cancelling.set()
            self._cancel_queued()
            self._cancel_running()
            for _ in threads:  # room was made: every worker now sees a marker
                try:
                    self._queue.put_nowait((math.inf, next(self._arrivals), None))
                except queue.Full:
                    break
            grace = time.monotonic() + self._cancel_grace
            for thread in threads:
                thread.join(_left(grace))
        self._closed.set()
        self._cancel_queued()
        with self._lock:
            stuck = list(self._pending)
        for job_id in stuck:
            # A job that cannot be interrupted (a thread) is reported now; its
            # late result, if any, is ignored by _end.
            self._end_id(job_id, CANCELLED_RUNNING)
        try:
            self._close()
        except Exception:
            log.exception("%s: closing failed", self)
        return clean and not stuck

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers}, timeout={self.timeout})"

    # -- the workers ------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            try:
                self._run(job)
            except BaseException as exc:  # noqa: BLE001 - the worker's error boundary
                log.exception("%s: runner error", job)
                self._end(job, None, describe_error(exc))

    def _run(self, job: Job) -> None:
        with self._lock:
            entry = self._pending.get(job.id)
            if entry is None:  # already cancelled
                return
            cancel = self._cancelling.is_set()
        if cancel:  # taken from the queue just as stop cancelled the rest
            self._end(job, None, CANCELLED_QUEUED)
            return
        with self._lock:
            self._running += 1
            waited = time.monotonic() - entry[1]
            self._stats = replace(self._stats, longest_wait=max(self._stats.longest_wait, waited))
        try:
            self._hooks.started(job)
            try:
                outputs, error = self._execute(job)
            except BaseException as exc:  # noqa: BLE001 - any failure is the job's result
                outputs, error = None, describe_error(exc)
            self._end(job, outputs, error)
        finally:
            with self._lock:
                self._running -= 1

    def _end(self, job: Job, outputs: Sequence[Output] | None, error: str | None) -> None:
        """Report *job* to the node exactly once, whoever gets here first."""
        with self._lock:
            if self._pending.pop(job.id, None) is None:
                return
            cancelled = error is not None and error.startswith("Cancelled:")
            self._stats = replace(
                self._stats,
                finished=self._stats.finished + (error is None),
                failed=self._stats.failed + (error is not None),
                cancelled=self._stats.cancelled + cancelled,
            )
        self._hooks.finished(job, outputs, error)

    def _end_id(self, job_id: str, error: str) -> None:
        with self._lock:
            entry = self._pending.get(job_id)
        if entry is not None:
            self._end(entry[0], None, error)

    def _cancel_queued(self) -> None:
        markers = 0
        while True:
            try:
                _, _, job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                markers += 1
            else:
                self._end(job, None, CANCELLED_QUEUED)
        for _ in range(markers):  # workers still need them to exit
            self._queue.put_nowait((math.inf, next(self._arrivals), None))


def relog(job: Job, name: str, level: int, message: str) -> None:
    """Log a record made by *job* elsewhere under its own logger, prefixed with the job."""
    logger = logging.getLogger(name)
    if logger.isEnabledFor(level):
        logger.log(level, "%s: %s", job, message)


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
