"""`Store`: what the node asks of the one owner of shared state.

`MemoryStore` and `DiskStore` implement it; the rest of the node sees only
this protocol, so nothing outside ``dcmnode.store`` needs to know whether
instances live in memory or in files.

Every method is a short, atomic step under the store's lock (DESIGN.md,
house rule 1) -- except `persist`, which does the disk I/O of one instance
*before* `add` and holds no lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from pydicom.dataset import Dataset

from dcmnode.errors import DcmnodeError
from dcmnode.network.association import Sender
from dcmnode.store.model import (
    AddResult,
    FailedGeneration,
    Instance,
    PatientStatus,
    Snapshot,
)


class OutOfSpace(DcmnodeError):
    """The data directory is below its free-space watermark (or the disk is full)."""


class Store(Protocol):
    """Patients -> generations -> inputs -> instances, shared by every thread of a node."""

    @property
    def directory(self) -> Path | None:
        """The data directory; None when everything lives in memory only."""

    # -- receiving (association threads) ------------------------------------------

    def open_association(self, association: int) -> None:
        """Register an association before it delivers anything."""

    def close_association(self, association: int) -> list[str]:
        """Forget an association; return the patients nobody delivers for any more."""

    def release_idle(self, before: float) -> list[str]:
        """Open associations silent for a patient since *before* stop holding it back."""

    def persist(
        self, patient: str, dataset: Dataset, encoded: Callable[[], bytes]
    ) -> tuple[str | None, str]:
        """Make one received instance durable before it is acknowledged.

        Returns ``(path, receipt)``; ``(None, "")`` where nothing is written.
        A store that writes keeps only the header in *dataset*. Raises
        `OutOfSpace` when it cannot write.
        """

    def discard_file(self, path: str) -> None:
        """Delete a file `persist` wrote for an instance no input took."""

    def add(
        self,
        association: int,
        patient: str,
        routes: Sequence[tuple[str, bool]],
        instance: Instance,
        sender: Sender,
    ) -> AddResult:
        """Add *instance* to each input in *routes* that takes it (atomic)."""

    # -- deciding and running (dispatcher, runner, maintenance) ---------------------

    def snapshot(self, patient: str) -> Snapshot | None:
        """Freeze the patient's collecting generation for a readiness check."""

    def claim(self, snapshot: Snapshot, job_id: str) -> bool:
        """Hand the snapshot's generation to one job -- at most once."""

    def finish(self, patient: str, job_id: str, error: str | None = None) -> bool:
        """End a job; True when the patient has newer data due for a check."""

    def release(self, patient: str, job_id: str) -> bool:
        """Hand a running job's generation back unfailed (a stop that cut the job short)."""

    def retry_failed(self, patient: str, job_id: str | None = None) -> int:
        """Make the patient's failed data (only job *job_id*'s, if given) due again.

        Returns the instance count due again (0: nothing revived). The
        revived data's ``deadline`` counts from the retry.
        """

    def discard_failed(self, patient: str, job_id: str) -> int:
        """Delete a failed job's data for good; return its instance count (0: not failed)."""

    def expire(self, before: float) -> list[str]:
        """Remove patients untouched since *before*; return their keys."""

    def quiet(self) -> list[tuple[str, tuple[int, int], float, float]]:
        """``(patient, (generation, version), changed, started)`` of every due patient."""

    def pending(self) -> list[str]:
        """Patients due for a check."""

    # -- reading ----------------------------------------------------------------------

    def patients(self) -> list[PatientStatus]:
        """A consistent view of every patient."""

    def failed(self) -> list[FailedGeneration]:
        """Every failed generation."""

    # -- start and stop ---------------------------------------------------------------

    def take_orphans(self) -> list[Path]:
        """Files found at start that the index never recorded (handed out once)."""

    def close(self) -> None:
        """Write out what is pending and release the store's resources."""
