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
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    pixel_bytes,
)
from dcmnode.store.state import (
    KEEP_FAILED_BYTES,
    Generation,
    PatientState,
    bound_failed,
    same_series,
)


class MemoryStore:
    """Patients' data held in memory; the single owner of shared node state.

    A patient is keyed by the value of the pipeline's grouping attribute. Its
    *collecting* generation receives new instances. A successful `claim`
    freezes that generation for one job and starts an empty one, so data that
    arrives while the job runs is never part of it and never removed by its
    clean-up (`finish`).

    Parameters
    ----------
    keep_failed_bytes : int
        Pixel data that failed generations may keep (default 1 GiB). Beyond
        it, the oldest failures keep only their headers: still listed with
        their reason, no longer retryable. The newest failure always keeps
        its data, for an automatic retry. Only a memory-only store holds
        pixel data here; a `DiskStore` keeps it in files.
    """

    directory: Path | None = None
    """Memory only: no data directory (see `DiskStore`)."""

    def __init__(self, keep_failed_bytes: int = KEEP_FAILED_BYTES) -> None:
        self.keep_failed_bytes = keep_failed_bytes
        self._lock = threading.Lock()
        self._patients: dict[str, PatientState] = {}
        # Open association -> patient -> when it last delivered for that patient.
        self._open: dict[int, dict[str, float]] = {}
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
            self._open.setdefault(association, {})

    def close_association(self, association: int) -> list[str]:
        """Forget an association (released, aborted or dropped).

        Idempotent. Returns the patients it delivered for that no open
        association is delivering for any more: those are due for a check.
        """
        with self._lock:
            keys = self._open.pop(association, {})
            quiet = []
            for key in keys:
                patient = self._patients.get(key)
                if patient is None:
                    continue
                patient.delivering.discard(association)
                if not patient.delivering:
                    quiet.append(key)
            return sorted(quiet)

    def release_idle(self, before: float) -> list[str]:
        """Stop counting open associations that last delivered for a patient before *before*.

        Some senders keep one association open for hours; without this, every
        patient it ever touched would wait for it to end. An association that
        delivers for the patient again counts again. Returns the patients
        nobody delivers for any more: those are due for a check.
        """
        with self._lock:
            quiet = []
            for association, patients in self._open.items():
                for key in [k for k, at in patients.items() if at < before]:
                    del patients[key]
                    record = self._patients.get(key)
                    if record is None or association not in record.delivering:
                        continue
                    record.delivering.discard(association)
                    if not record.delivering:
                        quiet.append(key)
            return sorted(set(quiet))

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
                record = PatientState(patient, Generation(1))
                self._patients[patient] = record
            generation = record.collecting
            taken: list[str] = []
            displaced: dict[str, Instance] = {}  # receipt -> older copy this one replaced
            for name, single_series in routes:
                held = generation.inputs.get(name)
                if single_series and held and not same_series(held, instance):
                    continue
                if held is None:
                    held = generation.inputs[name] = {}
                old = held.get(instance.sop_instance_uid)
                if old is not None:
                    displaced[old.receipt] = old
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
                for old in displaced.values():
                    if old.receipt != instance.receipt:
                        self._forget(patient, generation, old)
                self._delivered(record, association, sender)
            elif record.is_idle():
                del self._patients[patient]
            return AddResult(tuple(taken), bool(displaced))

    def _delivered(self, record: PatientState, association: int, sender: Sender) -> None:
        """Note new data in *record*'s collecting generation (under the lock)."""
        generation = record.collecting
        generation.version = next(self._revisions)
        generation.sender = sender
        generation.changed = time.time()
        generation.started = generation.started or generation.changed
        if association in self._open:
            record.delivering.add(association)
            self._open[association][record.key] = generation.changed

    def _forget(self, patient: str, generation: Generation, old: Instance) -> None:
        """*old* lost inputs of *generation* to another copy: drop it where nothing uses it.

        Called under the lock. An instance belongs to one generation only
        (claims, retries and releases move whole generations), so the inputs
        of *generation* are the only ones that may still refer to its file:
        the file and its row go only when none does; otherwise the row keeps
        just the inputs that still use it.
        """
        still = generation.holding(old)
        if still:
            self._record("narrow", receipt=old.receipt, inputs=still)
        else:
            self._record("replace", old=old, patient=patient)

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
            record.collecting = Generation(generation.number + 1)
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
                inputs = freeze(generation.inputs)
                record.failed.append(
                    FailedGeneration(
                        patient,
                        generation.number,
                        job_id,
                        error,
                        inputs,
                        attempts=generation.attempts + 1,
                        held_bytes=pixel_bytes(inputs),
                    )
                )
                record.collecting.changed = time.time()
                bound_failed(self._patients.values(), self.keep_failed_bytes)
            due = record.is_due()
            if record.is_idle():
                del self._patients[patient]
            return due

    def release(self, patient: str, job_id: str) -> bool:
        """Hand job *job_id*'s generation back, unfailed, as if it had never been claimed.

        For a graceful stop that could not let the job finish: its data waits
        again (merged with what arrived meanwhile; newer copies of an
        instance win) and the next start processes it, as after a crash.
        Returns False when the job is not running (already ended).
        """
        with self._lock:
            record = self._patients.get(patient)
            if record is None or record.running is None or record.running[0] != job_id:
                return False
            _, generation = record.running
            record.running = None
            collecting = record.collecting
            self._merge(patient, collecting, {k: v.values() for k, v in generation.inputs.items()})
            collecting.version = next(self._revisions)
            starts = (generation.started, collecting.started)
            collecting.started = min((t for t in starts if t), default=0.0)
            collecting.attempts = max(collecting.attempts, generation.attempts)
            self._record("release", job_id=job_id, patient=patient, generation=collecting.number)
            return True

    def retry_failed(self, patient: str, job_id: str | None = None) -> int:
        """Move failed generations of *patient* back into its collecting one.

        With *job_id*, only that job's generation (an automatic retry: the
        patient's other failures may be out of retries); without, every one
        of the patient (a person's retry). Generations that are not
        `~FailedGeneration.retryable` stay listed. Newer data for the same
        SOP instance wins. The revived data gets a full ``deadline`` again:
        its clock restarts now.

        Returns how many instances are due again (the caller then asks for a
        check); 0 when nothing was revived.
        """
        with self._lock:
            record = self._patients.get(patient)
            chosen = [
                f
                for f in (record.failed if record else [])
                if f.retryable and job_id in (None, f.job_id)
            ]
            if record is None or not chosen:
                return 0
            collecting = record.collecting
            for failed in reversed(chosen):  # newest first: of two failed copies, it wins
                self._record(
                    "retry", job_id=failed.job_id, patient=patient, generation=collecting.number
                )
                self._merge(patient, collecting, failed.inputs)
            record.failed = [f for f in record.failed if all(f is not c for c in chosen)]
            collecting.version = next(self._revisions)
            collecting.attempts = max([collecting.attempts] + [f.attempts for f in chosen])
            collecting.started = time.time()
            return len({uid for held in collecting.inputs.values() for uid in held})

    def _merge(
        self, patient: str, collecting: Generation, inputs: Mapping[str, Iterable[Instance]]
    ) -> None:
        """Put an older generation's *inputs* into *collecting*; newer copies win (under the lock).

        A copy that loses everywhere is forgotten with its file, like a re-sent
        instance's older copy (`_forget`), so no row outlives what memory holds.
        """
        for old in collecting.merge(inputs):
            self._forget(patient, collecting, old)

    def discard_failed(self, patient: str, job_id: str) -> int:
        """Delete the failed generation of job *job_id* for good (an operator's discard).

        Returns how many instances went; 0 when the job is not failed (any
        more), so a second discard of the same job does nothing.
        """
        with self._lock:
            record = self._patients.get(patient)
            found = [f for f in record.failed if f.job_id == job_id] if record else []
            if record is None or not found:
                return 0
            record.failed = [f for f in record.failed if f.job_id != job_id]
            self._record("discard", job_id=job_id, patient=patient)
            if record.is_idle():
                del self._patients[patient]
            return len({i.sop_instance_uid for g in found[0].inputs.values() for i in g})

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
            record = PatientState(patient, Generation(generation, inputs, version))
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
