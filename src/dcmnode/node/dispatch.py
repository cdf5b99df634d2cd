"""The dispatcher: decides which quiet patients are ready and claims them.

A few checker threads take patient keys from a set of wanted checks,
snapshot each patient, run the inputs' ``is_complete`` on the snapshot
outside every lock, and claim the generation with a compare-and-set. Only a
successful claim makes a job, so a patient checked from several places at
once still yields one job.

Why a set and several threads: every association close asks for a check of
its patients. Queued one by one, 2,000 single-image associations for one
patient cost 2,000 checks of an ever larger snapshot (quadratic); a request
for a patient that is already wanted is merged into the waiting one instead,
so the pending checks never outnumber the patients. Several threads keep a
slow ``is_complete`` (or a full runner queue) for one patient from delaying
the others; no two threads ever check the same patient at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from dcmnode import events
from dcmnode.events import EventBus
from dcmnode.inputs.base import Input, by_instance_number
from dcmnode.job import Job, new_job_id
from dcmnode.node.activity import Activity
from dcmnode.node.verdicts import Verdicts
from dcmnode.runners.compute import describe_error
from dcmnode.store.model import Instance, Snapshot
from dcmnode.store.protocol import Store

log = logging.getLogger("dcmnode.dispatch")

PROCESS = "process"
"""Deadline policy: process what arrived, complete or not."""
FAIL = "fail"
"""Deadline policy: keep what arrived as a failed job."""
NOW = "now"
"""An operator's force: process now, even while processing is paused."""


class ReadinessError(Exception):
    """A user's ``is_complete`` or the ordering of the data raised."""


class Dispatcher:
    """Readiness checks on threads of their own.

    Parameters
    ----------
    store : Store
        Where snapshots and claims come from.
    inputs : dict[str, Input]
        The pipeline's inputs, whose ``is_complete`` decides.
    submit : callable
        Receives each claimed `Job` (the runner's ``submit``; may block).
    activity : Activity
        Every wanted check counts until it is done.
    bus : EventBus
        Receives ``ready``, ``job_queued`` and ``job_failed``.
    workers : int
        Checker threads: how many slow checks may run at once.
    quiet_period : float
        The quiet period of inputs that set no ``stable_after`` of their own.
    verdicts : Verdicts, optional
        Where each "not ready yet" is written, with its reason, for status pages.
    """

    def __init__(
        self,
        store: Store,
        inputs: dict[str, Input],
        submit: Callable[[Job], None],
        activity: Activity,
        bus: EventBus,
        workers: int = 4,
        quiet_period: float = 0.0,
        verdicts: Verdicts | None = None,
    ) -> None:
        self.default_quiet = quiet_period
        self.verdicts = verdicts if verdicts is not None else Verdicts()
        self.store = store
        self.inputs = inputs
        self.submit = submit
        self.activity = activity
        self.bus = bus
        self._cond = threading.Condition()
        # Patient -> the strongest action asked for it (None: a plain check).
        # Insertion order is the order of service.
        self._wanted: dict[str, str | None] = {}
        self._checking: set[str] = set()
        self._held: set[str] = set()  # found ready while processing was paused
        self._quieting: set[str] = set()  # waiting for their quiet period; each counts
        self._paused = False
        self._closed = False
        self._threads = [
            threading.Thread(target=self._loop, name=f"dcmnode-dispatch-{i}", daemon=True)
            for i in range(workers)
        ]

    # -- requests ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the checker threads."""
        for thread in self._threads:
            thread.start()

    def check(self, patients: list[str]) -> None:
        """Ask for readiness checks; each wanted patient counts as activity until checked."""
        self._want(patients, None)

    def force(self, patients: list[str], policy: str) -> None:
        """Deadline or operator actions: `PROCESS`, `FAIL` or `NOW` (see module constants).

        A patient that is ready anyway is processed as usual; otherwise the
        policy decides.
        """
        if policy not in (PROCESS, FAIL, NOW):
            raise ValueError(f"policy must be {PROCESS!r}, {FAIL!r} or {NOW!r}, got {policy!r}")
        self._want(patients, policy)

    def _want(self, patients: list[str], policy: str | None) -> None:
        with self._cond:
            if self._closed:
                # Stopping: the data stays in the store, and the next start checks it.
                log.debug("dispatcher stopped; %d checks left for the next start", len(patients))
                return
            new = 0
            for key in patients:
                if key not in self._wanted:
                    new += 1
                    self._wanted[key] = policy
                elif _strength(policy) > _strength(self._wanted[key]):
                    self._wanted[key] = policy
            # Counted before this returns, so a caller that ends its own work
            # next never lets the node look idle in between (Activity is a leaf lock).
            self.activity.begin(new)
            self._cond.notify(new)

    # -- pause ------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """True while processing is paused (receiving goes on)."""
        with self._cond:
            return self._paused

    def pause(self) -> bool:
        """Stop starting jobs; ready patients wait until `resume`.

        Idempotent; True only for the call that paused (tested and set in one
        step, so of many racing callers exactly one hears True).
        """
        with self._cond:
            changed = not self._paused
            self._paused = True
            return changed

    def resume(self) -> bool:
        """Start jobs again and check every patient that waited meanwhile.

        Idempotent; True only for the call that resumed.
        """
        with self._cond:
            if not self._paused:
                return False
            self._paused = False
            held = sorted(self._held)
            self._held.clear()
        self.check(sorted(set(held) | set(self.store.pending())))
        return True

    # -- stop -------------------------------------------------------------------------

    def stop(self, timeout: float) -> None:
        """Let wanted checks finish for up to *timeout* s, then drop the rest and end.

        Checks asked for after this are ignored: the patients stay in the
        store and the next start checks them (`Store.pending`).
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._wanted or self._checking:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            self._closed = True
            dropped = len(self._wanted) + len(self._quieting)
            self._wanted.clear()
            self._quieting.clear()
            self._cond.notify_all()
        if dropped:
            log.warning("stopping: %d readiness checks left for the next start", dropped)
            self.activity.end(dropped)
        for thread in self._threads:
            # A checker blocked in a full runner's submit ends when the runner stops.
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- the checkers -----------------------------------------------------------------

    def _take(self) -> tuple[str, str | None] | None:
        with self._cond:
            while not self._closed:
                for key, policy in self._wanted.items():
                    if key not in self._checking:
                        del self._wanted[key]
                        self._checking.add(key)
                        return key, policy
                self._cond.wait()
            return None

    def _loop(self) -> None:
        while (item := self._take()) is not None:
            patient, policy = item
            try:
                self._check(patient, policy)
            except Exception:
                log.exception("patient %r: readiness check failed", patient)
            finally:
                with self._cond:
                    self._checking.discard(patient)
                    self._cond.notify_all()  # a merged request for it, or a stop waiting
                self.activity.end()

    def _check(self, patient: str, policy: str | None) -> None:
        snapshot = self.store.snapshot(patient)
        # A patient in its quiet period counts as activity until a check
        # after it (maintenance asks for one), so that wait_idle() means
        # "nothing more happens on its own" (deadlines and expiry aside).
        quieting = snapshot is not None and policy is None and not self._quiet(snapshot)
        self._count_quiet(patient, quieting)
        if snapshot is None or quieting:
            return
        try:
            ready = policy == NOW or self._ready(snapshot)
            if not ready and policy is None:
                return
            if not ready and policy == FAIL:
                reason = f"incomplete at its deadline: {snapshot.instance_count} instances arrived"
                self._fail(snapshot, reason, deadline=True)
                return
            ordered = {name: _ordered(snapshot.inputs.get(name, ())) for name in self.inputs}
        except ReadinessError as exc:
            # A check that raises would raise again at every round and every
            # start: the patient ends as failed, visible and retryable.
            cause = exc.__cause__ or exc
            self._fail(snapshot, f"{exc}\n{describe_error(cause)}")
            return
        with self._cond:
            if self._paused and policy != NOW:
                self._held.add(patient)
                log.info("patient %r: ready; processing is paused", patient)
                return
        self._claim_and_submit(snapshot, ordered, None if ready else policy)

    def _claim_and_submit(
        self, snapshot: Snapshot, ordered: dict[str, list[Instance]], forced: str | None
    ) -> None:
        """Claim the snapshot and hand its job to the runner; *forced*: the policy, if not ready."""
        job = Job(
            new_job_id(),
            snapshot.patient,
            snapshot.generation,
            {name: [i.dataset for i in group] for name, group in ordered.items()},
            snapshot.sender,
            paths={name: [i.path for i in group] for name, group in ordered.items()},
        )
        if not self.store.claim(snapshot, job.id):
            # Data arrived between snapshot and claim: look again. The
            # snapshot returns None while someone is still delivering.
            log.debug("patient %r changed during its check; checking again", snapshot.patient)
            self.check([snapshot.patient])
            return
        self.verdicts.clear(snapshot.patient)
        if forced == NOW:
            log.warning("%s: forced by an operator; processing what arrived", job)
        elif forced is not None:
            log.warning("%s: deadline passed; processing what arrived", job)
            self.bus.emit(events.DEADLINE_PASSED, job=job, policy=forced)
        self.activity.begin()  # the job counts until the runner ends it
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

    def _fail(self, snapshot: Snapshot, reason: str, deadline: bool = False) -> None:
        """Claim the snapshot and keep it as a failed job with *reason*."""
        datasets = {name: [i.dataset for i in group] for name, group in snapshot.inputs.items()}
        job = Job(new_job_id(), snapshot.patient, snapshot.generation, datasets, snapshot.sender)
        if not self.store.claim(snapshot, job.id):
            self.check([snapshot.patient])  # changed meanwhile: decide on the new data
            return
        self.verdicts.clear(snapshot.patient)
        if deadline:
            self.bus.emit(events.DEADLINE_PASSED, job=job, policy=FAIL)
        log.error("%s: %s; kept as failed", job, reason.splitlines()[0])
        due = self.store.finish(snapshot.patient, job.id, reason)
        self.bus.emit(events.JOB_FAILED, job=job, duration=0.0, error=reason)
        if due:  # newer data arrived meanwhile: it deserves its own check
            self.check([snapshot.patient])

    def stable_after(self, inp: Input) -> float:
        """The quiet period of *inp*: its own ``stable_after``, else the pipeline's."""
        own = type(inp).stable_after
        return self.default_quiet if own is None else own

    @property
    def quiet_period(self) -> float:
        """The longest quiet period of the inputs (0 when none has one)."""
        return max((self.stable_after(i) for i in self.inputs.values()), default=0.0)

    def _quiet(self, snapshot: Snapshot) -> bool:
        """Whether every input with data has had its quiet period."""
        waited = time.time() - snapshot.changed
        for name, inp in self.inputs.items():
            stable_after = self.stable_after(inp)
            if stable_after and waited < stable_after and snapshot.datasets(name):
                log.debug("patient %r: input %r not quiet yet", snapshot.patient, name)
                self.verdicts.record(snapshot.patient, "quiet period", name)
                return False
        return True

    def _count_quiet(self, patient: str, quieting: bool) -> None:
        with self._cond:
            if self._closed or quieting == (patient in self._quieting):
                return
            if quieting:
                self._quieting.add(patient)
                self.activity.begin()
            else:
                self._quieting.discard(patient)
                self.activity.end()
            self._cond.notify_all()

    def _ready(self, snapshot: Snapshot) -> bool:
        """Whether every input is quiet and complete; `ReadinessError` if user code raised."""
        if not self._quiet(snapshot):
            return False
        for name, inp in self.inputs.items():
            datasets = snapshot.datasets(name)
            if not datasets:
                if type(inp).optional:
                    continue
                self.verdicts.record(snapshot.patient, "missing input", name)
                return False
            try:
                complete = inp.is_complete(datasets)
            except Exception as exc:
                self.verdicts.record(snapshot.patient, "is_complete raised", name)
                raise ReadinessError(f"{type(inp).__name__}.is_complete raised: {exc}") from exc
            if not complete:
                log.debug("patient %r: input %r not complete yet", snapshot.patient, name)
                self.verdicts.record(snapshot.patient, "incomplete", name)
                return False
        return True


def _strength(policy: str | None) -> int:
    """Which of two merged requests wins: an operator's force, then a deadline's."""
    return {None: 0, PROCESS: 1, FAIL: 2, NOW: 3}[policy]


def _ordered(instances: tuple[Instance, ...]) -> list[Instance]:
    """Instances in the order of their datasets under `by_instance_number`."""
    by_id = {id(i.dataset): i for i in instances}
    try:
        datasets = by_instance_number([i.dataset for i in instances])
    except Exception as exc:
        raise ReadinessError(f"the instances cannot be put in order: {exc}") from exc
    return [by_id[id(ds)] for ds in datasets]
