"""`ThreadRunner`: a bounded pool of worker threads in the node process."""

from __future__ import annotations

import logging
import queue
import threading
import time

from dcmnode.errors import ConfigError
from dcmnode.execution import compute, describe_error
from dcmnode.job import Job
from dcmnode.pipeline import Pipeline
from dcmnode.runners.base import Runner, RunnerHooks

log = logging.getLogger("dcmnode.runner")

_STOP = None


class ThreadRunner(Runner):
    """Run jobs on *workers* threads, with at most *queue_size* jobs waiting.

    A full queue blocks the node's dispatcher thread -- never an association
    thread -- and is logged, so senders are never refused because processing
    is behind.

    Parameters
    ----------
    workers : int
        Number of jobs that run at once.
    queue_size : int
        Jobs that may wait for a worker before `submit` blocks.
    """

    def __init__(self, workers: int = 2, queue_size: int = 64) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"ThreadRunner.workers: must be a positive integer, got {workers!r}")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ConfigError(
                f"ThreadRunner.queue_size: must be a positive integer, got {queue_size!r}"
            )
        self.workers = workers
        self.queue_size = queue_size
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=queue_size)
        self._threads: list[threading.Thread] = []
        self._pipeline: Pipeline | None = None
        self._hooks: RunnerHooks | None = None

    def start(self, pipeline: Pipeline, hooks: RunnerHooks) -> None:
        if self._threads:
            raise RuntimeError("ThreadRunner already started")
        self._pipeline = pipeline
        self._hooks = hooks
        for index in range(self.workers):
            thread = threading.Thread(
                target=self._work, name=f"dcmnode-worker-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def submit(self, job: Job) -> None:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            log.warning(
                "%s waits: all %d workers busy and %d jobs queued (backpressure)",
                job,
                self.workers,
                self.queue_size,
            )
            self._queue.put(job)

    def _work(self) -> None:
        assert self._pipeline is not None and self._hooks is not None
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            self._hooks.started(job)
            try:
                outputs = compute(self._pipeline, job)
            except BaseException as exc:  # noqa: BLE001 - the worker's error boundary
                self._hooks.finished(job, None, describe_error(exc))
            else:
                self._hooks.finished(job, outputs, None)

    def stop(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for _ in self._threads:
            # Sentinels queue behind the jobs already waiting, so those run first.
            try:
                self._queue.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                break
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("runner stopped with jobs still running in %s", ", ".join(alive))
        return not alive
