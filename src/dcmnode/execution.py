"""Running one job: grind, process, export, clean up -- inside one error boundary."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable

from dcmnode import events
from dcmnode.activity import Activity
from dcmnode.events import EventBus
from dcmnode.job import Job
from dcmnode.outputs.base import ExportContext, normalise
from dcmnode.pipeline import Pipeline
from dcmnode.store.memory import MemoryStore

log = logging.getLogger("dcmnode.job")


class JobExecutor:
    """The callable a runner executes for each job. It never raises.

    Success drops exactly the generation the job was given; any exception
    (in a grinder, in ``process`` or in an output) marks the job failed and
    keeps that generation, with the reason, in the store.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        store: MemoryStore,
        activity: Activity,
        bus: EventBus,
        recheck: Callable[[list[str]], None],
    ) -> None:
        self.pipeline = pipeline
        self.store = store
        self.activity = activity
        self.bus = bus
        self.recheck = recheck

    def __call__(self, job: Job) -> None:
        started = time.monotonic()
        error: str | None = None
        self.bus.emit(events.JOB_STARTED, job=job)
        log.info("%s: started", job)
        try:
            self._run(job)
        except BaseException as exc:  # noqa: BLE001 - the boundary of the worker thread
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            log.error("%s failed: %s: %s", job, type(exc).__name__, exc, exc_info=True)
        duration = time.monotonic() - started
        try:
            due = self.store.finish(job.patient_id, job.id, error)
        except Exception:
            log.exception("%s: could not record the end of the job", job)
            due = False
        try:
            if error is None:
                log.info("%s: finished in %.2f s", job, duration)
                self.bus.emit(events.JOB_FINISHED, job=job, duration=duration)
            else:
                self.bus.emit(events.JOB_FAILED, job=job, duration=duration, error=error)
            if due:
                self.recheck([job.patient_id])
        finally:
            self.activity.end()

    def _run(self, job: Job) -> None:
        for name, inp in self.pipeline.input_objects.items():
            datasets = job.datasets.get(name, [])
            job.inputs[name] = inp.grind(datasets) if datasets else None
        outputs = normalise(self.pipeline.process(job))
        context = ExportContext(
            self.pipeline.ae_title, job.id, job.patient_id, self.pipeline.export_timeout
        )
        for output in outputs:
            log.info("%s: exporting %s", job, output.describe())
            output.export(context)
