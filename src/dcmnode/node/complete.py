"""After a job: export its outputs, record its end in the store, look at the patient again.

The other half of a job -- grinding and ``process`` -- is
`dcmnode.runners.compute`, which runs wherever the runner puts it; this half
always runs in the node process, called by the runner as its hooks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from dcmnode import events
from dcmnode.events import EventBus
from dcmnode.job import Job
from dcmnode.node.activity import Activity
from dcmnode.node.outbox import Outbox
from dcmnode.outputs.base import ExportContext, Output
from dcmnode.outputs.dicom import DicomOutput
from dcmnode.pipeline import Pipeline
from dcmnode.runners.compute import describe_error
from dcmnode.runners.pool import CANCELLED
from dcmnode.store.protocol import Store

log = logging.getLogger("dcmnode.job")


class JobCompletion:
    """The node's side of every job: events, export, clean-up. Never raises.

    Success drops exactly the generation the job was given; any error (in a
    grinder, in ``process``, in a `FileOutput`, or while persisting a
    `DicomOutput` to the outbox) marks the job failed and keeps that
    generation, with the reason, in the store. Delivering a `DicomOutput` is
    the outbox's work, with its own retries, after the job has ended.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        store: Store,
        activity: Activity,
        bus: EventBus,
        recheck: Callable[[list[str]], None],
        outbox: Outbox,
    ) -> None:
        self.outbox = outbox
        self.pipeline = pipeline
        self.store = store
        self.activity = activity
        self.bus = bus
        self.recheck = recheck
        self._started: dict[str, float] = {}
        self.stopping = threading.Event()
        """Set by the node's stop: jobs a runner cancels from now on are handed back."""

    def started(self, job: Job) -> None:
        """Record the start of *job* and tell the event hooks."""
        self._started[job.id] = time.monotonic()
        log.info("%s: started", job)
        self.bus.emit(events.JOB_STARTED, job=job)

    def backpressure(self, job: Job, queued: int, workers: int) -> None:
        """Tell the event hooks that *job* waits for room in the runner's full queue."""
        self.bus.emit(events.BACKPRESSURE, job=job, queued=queued, workers=workers)

    def finished(self, job: Job, outputs: Sequence[Output] | None, error: str | None) -> None:
        """Export *outputs* (or record *error*), clean up, and look at the patient again."""
        try:
            if error is not None and error.startswith(CANCELLED) and self.stopping.is_set():
                self._hand_back(job, error)
                return
            if error is None:
                error = self._export(job, outputs or [])
            else:
                log.error("%s failed: %s", job, error.splitlines()[0])
            duration = time.monotonic() - self._started.pop(job.id, time.monotonic())
            due = self._finish(job, error)
            if error is None:
                log.info("%s: finished in %.2f s", job, duration)
                self.bus.emit(events.JOB_FINISHED, job=job, duration=duration)
            else:
                self.bus.emit(events.JOB_FAILED, job=job, duration=duration, error=error)
            if error is not None and self._retry_automatically(job):
                due = True
            if due:
                self.recheck([job.patient_id])
        finally:
            self.activity.end()

    def _hand_back(self, job: Job, reason: str) -> None:
        """A stop cut the job short: its data waits again, for the next start.

        Never marked failed: a graceful stop must leave no more work for a
        person than a ``kill -9`` would (which the next start also reruns).
        """
        self._started.pop(job.id, None)
        try:
            released = self.store.release(job.patient_id, job.id)
        except Exception:
            log.exception("%s: could not hand the job back; it reruns at the next start", job)
            return
        if released:
            log.warning("%s: %s; its data waits for the next start", job, reason)

    def _export(self, job: Job, outputs: Sequence[Output]) -> str | None:
        context = ExportContext(
            self.pipeline.ae_title, job.id, job.patient_id, self.pipeline.export_timeout
        )
        try:
            for index, output in enumerate(outputs):
                if isinstance(output, DicomOutput):
                    # Persisted first, then delivered (with retries) by the outbox.
                    log.info("%s: queueing %s", job, output.describe())
                    self.outbox.put(
                        job.id, job.patient_id, index, output.datasets, output.addresses
                    )
                else:
                    log.info("%s: exporting %s", job, output.describe())
                    output.export(context)
        except Exception as exc:
            log.error("%s: export failed: %s", job, exc, exc_info=True)
            return describe_error(exc)
        return None

    def _retry_automatically(self, job: Job) -> bool:
        """Put a failed job's data back for another try, up to ``process_retries``."""
        limit = self.pipeline.process_retries
        attempts = max(
            (f.attempts for f in self.store.failed() if f.job_id == job.id), default=limit + 1
        )
        if attempts > limit:
            return False
        log.warning("%s: failed attempt %d of %d; trying again", job, attempts, limit + 1)
        # Only this job's data: the patient's other failures may be out of retries.
        return self.store.retry_failed(job.patient_id, job.id) > 0

    def _finish(self, job: Job, error: str | None) -> bool:
        try:
            return self.store.finish(job.patient_id, job.id, error)
        except Exception:
            log.exception("%s: could not record the end of the job", job)
            return False
