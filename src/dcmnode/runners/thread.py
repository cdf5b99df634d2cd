"""`ThreadRunner`: a bounded pool of worker threads in the node process."""

from __future__ import annotations

import threading
from collections.abc import Callable

from dcmnode.job import Job
from dcmnode.runners.compute import compute, describe_error
from dcmnode.runners.pool import PooledRunner, Result


class ThreadRunner(PooledRunner):
    """Run jobs on *workers* threads, with at most *queue_size* jobs waiting.

    The default runner. A full queue blocks the node's dispatcher thread --
    never an association thread -- and is logged, so senders are never
    refused because processing is behind.

    Parameters
    ----------
    workers : int
        Number of jobs that run at once.
    queue_size : int
        Jobs that may wait for a worker before `submit` blocks.
    timeout : float or None
        Seconds after which a job is reported failed. A thread cannot be
        killed: the abandoned job keeps running in the background and its
        result is discarded. Use `ProcessRunner` when jobs must really die.
    """

    # Nothing can interrupt a thread: do not wait for it at stop.
    _cancel_grace = 0.2

    def __init__(self, workers: int = 2, queue_size: int = 64, timeout: float | None = None):
        super().__init__(workers, queue_size, timeout)

    def _execute(self, job: Job) -> Result:
        return run_in_thread(self._compute, job, self.timeout)

    def _compute(self, job: Job) -> Result:
        return compute(self._pipeline, job), None


def run_in_thread(function: Callable[[Job], Result], job: Job, timeout: float | None) -> Result:
    """Call ``function(job)`` here, or -- with a timeout -- on a helper thread we can abandon."""
    if timeout is None:
        return function(job)
    box: list[Result] = []

    def target() -> None:
        try:
            box.append(function(job))
        except BaseException as exc:  # noqa: BLE001 - reported as the job's error
            box.append((None, describe_error(exc)))

    helper = threading.Thread(target=target, name=f"dcmnode-job-{job.id}", daemon=True)
    helper.start()
    helper.join(timeout)
    if helper.is_alive():
        return None, (
            f"TimeoutError: {job} exceeded its timeout of {timeout:g} s; its thread "
            "cannot be killed and is left running, its result will be ignored"
        )
    return box[0]
