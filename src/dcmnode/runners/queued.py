"""`QueueRunner`: one long-lived worker, one job at a time, in order."""

from __future__ import annotations

import logging

from dcmnode.job import Job
from dcmnode.runners.thread import ThreadRunner

log = logging.getLogger("dcmnode.runner")


class QueueRunner(ThreadRunner):
    """Run jobs strictly one after another on a single long-lived worker.

    For a model that is expensive to load or owns a resource that allows one
    user at a time (the GPU): the pipeline's optional ``setup()`` method runs
    once, on the worker, before its first job, and whatever it keeps on
    ``self`` stays loaded between jobs.

    Jobs run in arrival order unless the pipeline defines
    ``priority(self, job) -> float``: lower values run first, equal values in
    arrival order. The priority is taken when the job is queued (in the
    node's dispatcher thread), so keep it cheap; an exception counts as 0.

    Parameters
    ----------
    queue_size : int
        Jobs that may wait before `submit` blocks (backpressure).
    timeout : float or None
        Seconds after which a job is reported failed; ``setup()`` does not
        count. The worker thread cannot be killed: the next job starts only
        when the timed-out one's code has returned (see `ThreadRunner`).
    """

    def __init__(self, queue_size: int = 64, timeout: float | None = None) -> None:
        super().__init__(1, queue_size, timeout)
        self._ready = False

    def _open(self) -> None:
        self._ready = False

    def _priority(self, job: Job) -> float:
        rank = getattr(self._pipeline, "priority", None)
        if rank is None:
            return 0.0
        try:
            return float(rank(job))
        except Exception:
            log.exception("%s: priority() raised; using 0", job)
            return 0.0

    def _prepare(self) -> None:
        if not self._ready:
            # On the worker, right before the first job: setup failing fails
            # this job and is tried again before the next one.
            setup = getattr(self._pipeline, "setup", None)
            if setup is not None:
                log.info("%s: running %s.setup()", self, type(self._pipeline).__name__)
                setup()
            self._ready = True

    def __repr__(self) -> str:
        return f"QueueRunner(timeout={self.timeout})"
