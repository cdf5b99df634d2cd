"""The in-memory store: patients -> generations -> inputs -> instances.

Threading contract (DESIGN.md, house rules 1-3): every public method takes
``self._lock`` for a short, bounded time and never calls user code, does I/O
or waits on anything else while holding it. Decisions that need user code
are split into ``snapshot`` (copy under the lock), the user's check outside
it, and ``claim`` (compare-and-set on the generation's version).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from dcmnode.network.association import Sender
from dcmnode.store.model import (
    AddResult,
    FailedGeneration,
    Instance,
    PatientStatus,
    Snapshot,
    freeze,
)


@dataclass
class _Generation:
    number: int
    inputs: dict[str, dict[str, Instance]] = field(default_factory=dict)
    version: int = 0
    sender: Sender = Sender("", "")
    changed: float = field(default_factory=time.time)
    started: float = 0.0  # time of the first instance, for deadlines
    attempts: int = 0  # failed jobs on this data so far (automatic retries)

    def __bool__(self) -> bool:
        return any(self.inputs.values())


@dataclass
class _Patient:
    key: str
    collecting: _Generation
    delivering: set[int] = field(default_factory=set)
    running: tuple[str, _Generation] | None = None
    failed: list[FailedGeneration] = field(default_factory=list)

    def is_idle(self) -> bool:
        return not (self.collecting or self.delivering or self.running or self.failed)

    def is_due(self) -> bool:
        """Collected data, nobody delivering, no job running: ready to be checked."""
        return bool(self.collecting) and not self.delivering and not self.running


class MemoryStore:
    """Patients' data held in memory; the single owner of shared node state.

    A patient is keyed by the value of the pipeline's grouping attribute. Its
    *collecting* generation receives new instances. A successful `claim`
    freezes that generation for one job and starts an empty one, so data that
    arrives while the job runs is never part of it and never removed by its
    clean-up (`finish`).
    """

    directory: Path | None = None
    """Memory only: no data directory (see `DiskStore`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._patients: dict[str, _Patient] = {}
        self._open: dict[int, set[str]] = {}
        # Versions come from one store-wide counter, never per patient: a
        # patient forgotten after its job and seen again must not reuse a
        # version that someone (a snapshot, the maintenance thread) remembers.
        self._revisions = itertools.count(1)

    def _record(self, op: str, **data: object) -> None:
        """Called under the lock at every state change; a durable store journals it."""

    # -- associations -------------------------------------------------------

    def open_association(self, association: int) -> None:
        """Register an association before it delivers anything."""
        with self._lock:
            self._open.setdefault(association, set())

    def close_association(self, association: int) -> list[str]:
        """Forget an association (released, aborted or dropped).

        Idempotent. Returns the patients it delivered for that no open
        association is delivering for any more: those are due for a check.
        """
        with self._lock:
            keys = self._open.pop(association, set())
            quiet = []
            for key in keys:
                patient = self._patients.get(key)
                if patient is None:
                    continue
                patient.delivering.discard(association)
                if not patient.delivering:
                    quiet.append(key)
            return sorted(quiet)

    # -- data -----------------------------------------------------------------

    def persist(
        self, patient: str, dataset: Dataset, encoded: Callable[[], bytes]
    ) -> tuple[str | None, str]:
        """In memory the data set itself is kept: nothing to write."""
        return None, ""

    def discard_file(self, path: str) -> None:
        """Nothing to delete: `persist` writes no files."""

    def add(
        self,
        association: int,
        patient: str,
        routes: Sequence[tuple[str, bool]],
        instance: Instance,
        sender: Sender,
    ) -> AddResult:
        """Add *instance* to every input in *routes* that will take it.

        *routes* lists ``(input name, single_series)`` for each input whose
        matchers accepted the data set. A ``single_series`` input that already
        holds another series refuses; that check and the insertion are one
        atomic step so that two associations racing with two series cannot
        both get in. An instance with a SOP Instance UID already in the
        input replaces it (and counts once).
        """
        with self._lock:
            record = self._patients.get(patient)
            if record is None:
                record = _Patient(patient, _Generation(1))
                self._patients[patient] = record
            generation = record.collecting
            taken: list[str] = []
            replaced = False
            for name, single_series in routes:
                held = generation.inputs.get(name)
                if single_series and held and not _same_series(held, instance):
                    continue
                if held is None:
                    held = generation.inputs[name] = {}
                old = held.get(instance.sop_instance_uid)
                if old is not None:
                    replaced = True
                    if old.receipt != instance.receipt:
                        self._record("replace", old=old, patient=patient)
                held[instance.sop_instance_uid] = instance
                taken.append(name)
            if taken:
                self._record(
                    "add",
                    instance=instance,
                    patient=patient,
                    generation=generation.number,
                    inputs=tuple(taken),
                )
                generation.version = next(self._revisions)
                generation.sender = sender
                generation.changed = time.time()
                generation.started = generation.started or generation.changed
                if association in self._open:
                    record.delivering.add(association)
                    self._open[association].add(patient)
            elif record.is_idle():
                del self._patients[patient]
            return AddResult(tuple(taken), replaced)

    # -- deciding -------------------------------------------------------------

    def snapshot(self, patient: str) -> Snapshot | None:
        """Freeze the patient's collecting generation for a readiness check.

        Returns None when there is nothing to check: unknown patient, no data,
        an association still delivering, or a job of the patient running
        (one job per patient at a time; the next check follows `finish`).
        """
        with self._lock:
            record = self._patients.get(patient)
            if record is None or record.delivering or record.running:
                return None
            generation = record.collecting
            if not generation:
                return None
            return Snapshot(
                patient,
                generation.number,
                generation.version,
                freeze(generation.inputs),
                generation.sender,
                generation.changed,
            )

    def claim(self, snapshot: Snapshot, job_id: str) -> bool:
        """Hand the snapshot's generation to job *job_id* -- at most once.

        Compare-and-set: succeeds only if nothing was added since the snapshot,
        nobody is delivering and no job of the patient runs. On success the
        generation is frozen for the job and a new, empty one starts collecting.
        """
        with self._lock:
            record = self._patients.get(snapshot.patient)
            if record is None or record.delivering or record.running:
                return False
            generation = record.collecting
            if generation.number != snapshot.generation or generation.version != snapshot.version:
                return False
            record.running = (job_id, generation)
            record.collecting = _Generation(generation.number + 1)
            self._record(
                "claim", job_id=job_id, patient=snapshot.patient, generation=generation.number
            )
            return True

    def finish(self, patient: str, job_id: str, error: str | None = None) -> bool:
        """End job *job_id* of *patient*.

        Success (``error is None``) drops exactly the generation the job was
        given. Failure keeps it as a `FailedGeneration` with the reason.
        Returns True when the patient has newer data that is due for a check.
        """
        with self._lock:
            record = self._patients.get(patient)
            if record is None or record.running is None or record.running[0] != job_id:
                raise KeyError(f"job {job_id} of patient {patient!r} is not running")
            _, generation = record.running
            record.running = None
            self._record(
                "finish", job_id=job_id, patient=patient, error=error, generation=generation
            )
            if error is not None:
                record.failed.append(
                    FailedGeneration(
                        patient,
                        generation.number,
                        job_id,
                        error,
                        freeze(generation.inputs),
                        attempts=generation.attempts + 1,
                    )
                )
                record.collecting.changed = time.time()
            due = record.is_due()
            if record.is_idle():
                del self._patients[patient]
            return due

    def retry_failed(self, patient: str) -> int:
        """Move the patient's failed generations back into its collecting one.

        Returns how many instances are due again (the caller then asks for a
        check). Newer data for the same SOP instance wins.
        """
        with self._lock:
            record = self._patients.get(patient)
            if record is None or not record.failed:
                return 0
            collecting = record.collecting
            for failed in record.failed:
                for name, instances in failed.inputs.items():
                    held = collecting.inputs.setdefault(name, {})
                    for instance in instances:
                        held.setdefault(instance.sop_instance_uid, instance)
                self._record(
                    "retry", job_id=failed.job_id, patient=patient, generation=collecting.number
                )
            collecting.version = next(self._revisions)
            collecting.attempts = max([collecting.attempts] + [f.attempts for f in record.failed])
            record.failed = []
            return len({uid for held in collecting.inputs.values() for uid in held})

    def expire(self, before: float) -> list[str]:
        """Remove patients nobody touched since *before* (``time.time()``).

        Only patients with no open delivery and no running job expire; their
        waiting and failed data go. Returns the expired patients' keys.
        """
        with self._lock:
            gone = [
                key
                for key, p in self._patients.items()
                if not p.delivering
                and not p.running
                and max([p.collecting.changed] + [f.changed for f in p.failed]) < before
            ]
            for key in gone:
                del self._patients[key]
                self._record("expire", patient=key)
            return gone

    def quiet(self) -> list[tuple[str, tuple[int, int], float, float]]:
        """``(patient, (generation, version), changed, started)`` of every patient due for a check.

        The ``(generation, version)`` pair names the data exactly: versions
        come from a store-wide counter, so it never repeats.
        """
        with self._lock:
            return [
                (
                    key,
                    (p.collecting.number, p.collecting.version),
                    p.collecting.changed,
                    p.collecting.started,
                )
                for key, p in self._patients.items()
                if p.is_due()
            ]

    def _restore(
        self,
        patient: str,
        generation: int,
        inputs: dict[str, dict[str, Instance]],
        failed: list[FailedGeneration],
        changed: float | None = None,
    ) -> None:
        """Load a patient's state read back from disk (restart); journals nothing."""
        with self._lock:
            version = next(self._revisions) if inputs else 0
            record = _Patient(patient, _Generation(generation, inputs, version))
            if changed is not None:
                record.collecting.changed = changed
                record.collecting.started = changed
            record.failed = list(failed)
            if not record.is_idle():
                self._patients[patient] = record

    # -- reading ----------------------------------------------------------------

    def patients(self) -> list[PatientStatus]:
        """A consistent view of every patient the store holds."""
        with self._lock:
            return [
                PatientStatus(
                    key,
                    len({uid for held in p.collecting.inputs.values() for uid in held}),
                    len(p.delivering),
                    p.running[0] if p.running else None,
                    tuple(p.failed),
                )
                for key, p in sorted(self._patients.items())
            ]

    def failed(self) -> list[FailedGeneration]:
        """Every failed generation, oldest first per patient."""
        with self._lock:
            return [f for p in self._patients.values() for f in p.failed]

    def pending(self) -> list[str]:
        """Patients with collected data that nobody is delivering for (due for a check)."""
        with self._lock:
            return sorted(key for key, p in self._patients.items() if p.is_due())

    # -- start and stop -----------------------------------------------------------

    def take_orphans(self) -> list[Path]:
        """No files, so no orphans."""
        return []

    def close(self) -> None:
        """Nothing to write out."""


def _same_series(held: dict[str, Instance], instance: Instance) -> bool:
    first: Iterable[Instance] = held.values()
    return next(iter(first)).series_instance_uid == instance.series_instance_uid
