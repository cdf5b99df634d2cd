"""`ThreadRunner`: a bounded pool of worker threads in the node process."""

from __future__ import annotations

from dcmnode.job import Job
from dcmnode.runners.compute import compute
from dcmnode.runners.pool import PooledRunner, Result


class ThreadRunner(PooledRunner):
    """Run jobs on *workers* threads, with at most *queue_size* jobs waiting.

    The default runner. A full queue blocks the node's dispatcher thread --
    never an association thread -- and is logged, so senders are never
    refused because processing is behind.

    Parameters
    ----------
    workers : int
        Number of jobs that run at once -- never more, timeouts included.
    queue_size : int
        Jobs that may wait for a worker before `submit` blocks.
    timeout : float or None
        Seconds after which a job is reported failed (at once, with a
        ``TimeoutError``). A thread cannot be killed: the job's code runs on
        and keeps its worker busy until it returns -- no other job starts in
        its place -- and its result is ignored. `stats` counts such jobs as
        ``overrunning``. Use `ProcessRunner` when jobs must really die.
    """

    # Nothing can interrupt a thread: do not wait for it at stop.
    _cancel_grace = 0.2

    def __init__(self, workers: int = 2, queue_size: int = 64, timeout: float | None = None):
        super().__init__(workers, queue_size, timeout)

    def _execute(self, job: Job) -> Result:
        # On the worker itself (a timeout is the watchdog's): code that keeps
        # per-thread state, such as a GPU context made in setup(), sees one thread.
        return compute(self._pipeline, job), None
