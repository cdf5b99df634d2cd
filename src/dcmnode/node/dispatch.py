"""The dispatcher: decides which quiet patients are ready and claims them.

One thread takes patient keys from a queue, snapshots each patient, runs the
inputs' ``is_complete`` on the snapshot outside every lock, and claims the
generation with a compare-and-set. Only a successful claim makes a job, so a
patient checked from several places at once still yields one job.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from dcmnode import events
from dcmnode.events import EventBus
from dcmnode.inputs.base import Input, by_instance_number
from dcmnode.job import Job, new_job_id
from dcmnode.node.activity import Activity
from dcmnode.store.model import Instance, Snapshot
from dcmnode.store.protocol import Store

log = logging.getLogger("dcmnode.dispatch")

_STOP = object()


class Dispatcher:
    """Readiness checks on a thread of their own.

    Parameters
    ----------
    store : Store
        Where snapshots and claims come from.
    inputs : dict[str, Input]
        The pipeline's inputs, whose ``is_complete`` decides.
    submit : callable
        Receives each claimed `Job` (the runner's ``submit``; may block).
    activity : Activity
        Every queued check counts until it is done.
    bus : EventBus
        Receives ``ready`` and ``job_queued``.
    """

    def __init__(
        self,
        store: Store,
        inputs: dict[str, Input],
        submit: Callable[[Job], None],
        activity: Activity,
        bus: EventBus,
    ) -> None:
        self.store = store
        self.inputs = inputs
        self.submit = submit
        self.activity = activity
        self.bus = bus
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="dcmnode-dispatch", daemon=True)

    def start(self) -> None:
        """Start the dispatcher thread."""
        self._thread.start()

    def check(self, patients: list[str]) -> None:
        """Queue readiness checks; each counts as activity until it is done."""
        self.activity.begin(len(patients))
        for key in patients:
            self._queue.put(key)

    def force(self, patients: list[str], policy: str) -> None:
        """Queue deadline actions: ``"process"`` what arrived, or ``"fail"`` it."""
        self.activity.begin(len(patients))
        for key in patients:
            self._queue.put((key, policy))

    def stop(self, timeout: float) -> None:
        """Let queued checks finish, then end the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                if isinstance(item, tuple):
                    self._check(item[0], force=item[1])
                else:
                    self._check(str(item))
            except Exception:
                log.exception("patient %r: readiness check failed", item)
            finally:
                self.activity.end()

    def _check(self, patient: str, force: str | None = None) -> None:
        snapshot = self.store.snapshot(patient)
        if snapshot is None:
            return
        if force is None and not self._ready(snapshot):
            return
        ordered = {name: _ordered(snapshot.inputs.get(name, ())) for name in self.inputs}
        job = Job(
            new_job_id(),
            patient,
            snapshot.generation,
            {name: [i.dataset for i in group] for name, group in ordered.items()},
            snapshot.sender,
            paths={name: [i.path for i in group] for name, group in ordered.items()},
        )
        if not self.store.claim(snapshot, job.id):
            # Data arrived between snapshot and claim: look again. The
            # snapshot returns None while someone is still delivering.
            log.debug("patient %r changed during its check; checking again", patient)
            self.check([patient])
            return
        if force == "fail":
            reason = f"incomplete at its deadline: {snapshot.instance_count} instances arrived"
            log.error("%s: %s; kept as failed", job, reason)
            due = self.store.finish(patient, job.id, reason)
            self.bus.emit(events.JOB_FAILED, job=job, duration=0.0, error=reason)
            if due:  # newer data arrived meanwhile: it deserves its own check
                self.check([patient])
            return
        if force is not None:
            log.warning("%s: deadline passed; processing what arrived", job)
        self.activity.begin()  # the job counts until the executor ends it
        log.info(
            "%s: ready with %d instances from %s@%s",
            job,
            snapshot.instance_count,
            job.sender.ae_title,
            job.sender.address,
        )
        self.bus.emit(events.READY, job=job)
        self.bus.emit(events.JOB_QUEUED, job=job)
        self.submit(job)

    @property
    def quiet_period(self) -> float:
        """The longest ``stable_after`` of the inputs (0 when none is set)."""
        return max((type(i).stable_after or 0.0 for i in self.inputs.values()), default=0.0)

    def _ready(self, snapshot: Snapshot) -> bool:
        waited = time.time() - snapshot.changed
        for name, inp in self.inputs.items():
            stable_after = type(inp).stable_after
            if stable_after and waited < stable_after and snapshot.datasets(name):
                log.debug("patient %r: input %r not quiet yet", snapshot.patient, name)
                return False
        for name, inp in self.inputs.items():
            datasets = snapshot.datasets(name)
            if not datasets:
                if type(inp).optional:
                    continue
                return False
            try:
                complete = inp.is_complete(datasets)
            except Exception:
                log.exception(
                    "patient %r: %s.is_complete raised; treating as incomplete",
                    snapshot.patient,
                    type(inp).__name__,
                )
                return False
            if not complete:
                log.debug("patient %r: input %r not complete yet", snapshot.patient, name)
                return False
        return True


def _ordered(instances: tuple[Instance, ...]) -> list[Instance]:
    """Instances in the order of their datasets under `by_instance_number`."""
    by_id = {id(i.dataset): i for i in instances}
    return [by_id[id(ds)] for ds in by_instance_number([i.dataset for i in instances])]
