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
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import ClassVar

from dcmnode.job import Job
from dcmnode.outputs.base import Output
from dcmnode.runners.base import PipelineLike, Runner, RunnerHooks, RunnerStats
from dcmnode.runners.compute import describe_error
from dcmnode.runners.watchdog import Watchdog
from dcmnode.settings import check_count, check_seconds

log = logging.getLogger("dcmnode.runner")

Result = tuple[Sequence[Output] | None, str | None]
"""What executing a job gives: (outputs, None) or (None, error text)."""

# Queue entries sort by (priority, arrival); the stop marker sorts after every job.
_Entry = tuple[float, int, Job | None]

CANCELLED = "Cancelled:"
"""How every runner's error text for a job cut short by a stop begins."""
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
        Seconds a job may run before it is failed with a timeout. Where
        `_execute` cannot kill the job, it is reported failed at its
        timeout while its code runs on, keeping its worker until it returns.
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

    _kills_on_timeout: ClassVar[bool] = False
    """True where `_execute` enforces ``timeout`` itself by killing the job.

    Otherwise a watchdog reports the job as timed out at its deadline, and
    the worker waits for the job's code to return before it takes another.
    """

    @abstractmethod
    def _execute(self, job: Job) -> Result:
        """Run one job to its end (on a worker thread) and return its result."""

    def _open(self) -> None:
        """Acquire resources before the workers start (e.g. connect to a cluster)."""

    def _prepare(self) -> None:
        """On the worker, before a job and outside its timeout; raising fails the job."""

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
        self._changed = threading.Condition(self._lock)  # notified at every change of the counters
        self._version = 0  # counts those changes, for wait_for
        self._overrunning: set[str] = set()  # ids of timed-out jobs whose code still runs
        self._pending: dict[str, tuple[Job, float]] = {}  # id -> (job, submitted), until ended
        self._running = 0
        self._stats = RunnerStats(self.workers, self.queue_size)
        self._stopping = threading.Event()  # stop began: drain, then end
        self._cancelling = threading.Event()  # stop's time is up: start nothing new
        self._closed = threading.Event()  # stop ended: no worker takes jobs any more
        self._watchdog: Watchdog | None = None
        if self.timeout is not None and not self._kills_on_timeout:
            self._watchdog = Watchdog(f"dcmnode-{type(self).__name__}-watchdog", self._overran)
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
            self._touch()
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
                self._touch()
            self._queue.put(entry)
        with self._lock:
            self._touch()  # queued changed
        if self._closed.is_set():
            # Stop ended while we waited for room: nobody will take the job now.
            self._cancel_queued()

    def stats(self) -> RunnerStats:
        if self._threads is None:
            return RunnerStats(self.workers, self.queue_size)
        with self._lock:
            return self._snapshot()

    def wait_for(self, condition: Callable[[RunnerStats], bool], timeout: float) -> bool:
        """Wait until ``condition(stats)`` holds; False if *timeout* seconds pass first.

        The condition is tested again at every change of the counters, so a
        test or a tool can join on a state of the runner (``lambda s:
        s.queued == 2``) without polling.

        Parameters
        ----------
        condition : callable
            Called with a `RunnerStats` snapshot, outside the runner's lock.
        timeout : float
            Seconds to wait at most.

        Returns
        -------
        bool
            True once the condition held.
        """
        if self._threads is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                seen, stats = self._version, self._snapshot()
            if condition(stats):
                return True
            with self._changed:
                while self._version == seen:
                    if not self._changed.wait(_left(deadline)):
                        return False

    def _snapshot(self) -> RunnerStats:
        """The counters now; the caller holds the lock."""
        return replace(
            self._stats,
            queued=self._queue.qsize(),
            running=self._running,
            overrunning=len(self._overrunning),
        )

    def _touch(self) -> None:
        """Wake `wait_for`; the caller holds the lock and just changed a counter."""
        self._version += 1
        self._changed.notify_all()

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
        if self._watchdog is not None:
            self._watchdog.close(self._cancel_grace)
        try:
            self._close()
        except Exception:
            log.exception("%s: closing failed", self)
        return clean and not stuck

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers}, timeout={self.timeout})"

    # -- the workers ------------------------------------------------------------------

    def _work(self) -> None:
        while self._take():
            pass

    def _take(self) -> bool:
        """Run the next queued job; False at a stop marker.

        A function of its own so that the job dies with its frame: a loop
        variable would keep the last job -- and its pixel data -- alive
        until the next job arrives.
        """
        job = self._queue.get()[2]
        if job is None:
            return False
        try:
            self._run(job)
        except BaseException as exc:  # noqa: BLE001 - the worker's error boundary
            log.exception("%s: runner error", job)
            self._end(job, None, describe_error(exc))
        return True

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
            self._touch()
        try:
            self._hooks.started(job)
            outputs, error = self._attempt(job)
            self._end(job, outputs, error)
        finally:
            with self._lock:
                self._running -= 1
                late = job.id in self._overrunning
                self._overrunning.discard(job.id)
                self._touch()
            if late:
                log.warning(
                    "%s: its code returned after the timeout; result ignored, worker free again",
                    job,
                )

    def _attempt(self, job: Job) -> Result:
        """Execute *job* under the watchdog (if any); any failure is the job's result."""
        try:
            self._prepare()
            if self._watchdog is not None and self.timeout is not None:
                self._watchdog.watch(job.id, self.timeout)
            return self._execute(job)
        except BaseException as exc:  # noqa: BLE001 - any failure is the job's result
            return None, describe_error(exc)
        finally:
            if self._watchdog is not None:
                self._watchdog.forget(job.id)

    def _overran(self, job_id: str) -> None:
        """The watchdog's report: fail the job now; its worker stays with it until it returns."""
        with self._lock:
            entry = self._pending.get(job_id)
        if entry is not None:
            error = timed_out_error(entry[0], self.timeout) + (
                "; its code cannot be stopped and runs on, keeping its worker busy "
                "until it returns; its result will be ignored"
            )
            self._end(entry[0], None, error, overran=True)

    def _end(
        self,
        job: Job,
        outputs: Sequence[Output] | None,
        error: str | None,
        overran: bool = False,
    ) -> None:
        """Report *job* to the node exactly once, whoever gets here first.

        *overran*: the watchdog reports a job whose code still runs.
        """
        with self._lock:
            if self._pending.pop(job.id, None) is None:
                return
            if overran:
                self._overrunning.add(job.id)
            cancelled = error is not None and error.startswith(CANCELLED)
            # Killed at its timeout (ProcessRunner) or reported by the watchdog.
            timed_out = overran or (error or "").startswith(timed_out_error(job, self.timeout))
            self._stats = replace(
                self._stats,
                finished=self._stats.finished + (error is None),
                failed=self._stats.failed + (error is not None),
                cancelled=self._stats.cancelled + cancelled,
                timed_out=self._stats.timed_out + timed_out,
            )
            self._touch()
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


def timed_out_error(job: Job, timeout: float | None) -> str:
    """How the error text of a job over its timeout begins, in every runner."""
    return f"TimeoutError: {job} exceeded its timeout of {timeout or 0:g} s"


def relog(job: Job, name: str, level: int, message: str) -> None:
    """Log a record made by *job* elsewhere under its own logger, prefixed with the job."""
    logger = logging.getLogger(name)
    if logger.isEnabledFor(level):
        logger.log(level, "%s: %s", job, message)


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
