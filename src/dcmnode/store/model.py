"""Immutable records the store hands out: instances, snapshots, failed generations.

Everything here is frozen: a snapshot given to user code outside the store's
lock cannot be changed by the association threads that keep adding data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pydicom.dataset import Dataset

from dcmnode.network.association import Sender


@dataclass(frozen=True)
class Instance:
    """One stored SOP instance.

    In memory, ``dataset`` is the full data set as received (``file_meta``
    carries the transfer syntax it arrived in). On disk, ``path`` is the
    file and ``dataset`` only its header: pixel data is read back when a
    job needs it (`Job.load`), not held while a study waits.
    """

    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    dataset: Dataset = field(repr=False, compare=False)
    path: str | None = None
    receipt: str = ""
    """Unique id of this reception (the same SOP instance may be received twice)."""


@dataclass(frozen=True)
class AddResult:
    """What `Store.add` did with an instance."""

    inputs: tuple[str, ...]
    """Inputs that took the instance; empty when every candidate refused it."""
    replaced: bool = False
    """True when an instance with the same SOP Instance UID was replaced."""


@dataclass(frozen=True)
class Snapshot:
    """A patient's collecting generation, frozen at one moment.

    ``version`` is what `Store.claim` compares against: any instance added
    after the snapshot was taken changes it and makes the claim fail.
    """

    patient: str
    generation: int
    version: int
    inputs: Mapping[str, tuple[Instance, ...]]
    sender: Sender
    changed: float = 0.0
    """``time.time()`` of the last instance added to this generation."""

    def datasets(self, name: str) -> list[Dataset]:
        """The datasets (headers, for an on-disk store) of input *name*."""
        return [instance.dataset for instance in self.inputs.get(name, ())]

    @property
    def instance_count(self) -> int:
        """Number of distinct instances over all inputs."""
        return len({i.sop_instance_uid for group in self.inputs.values() for i in group})


def freeze(inputs: Mapping[str, Mapping[str, Instance]]) -> Mapping[str, tuple[Instance, ...]]:
    """Copy a generation's mutable input map into an immutable one."""
    return MappingProxyType({name: tuple(by_uid.values()) for name, by_uid in inputs.items()})


@dataclass(frozen=True)
class FailedGeneration:
    """A generation whose job failed: kept, with the reason, for a person to act on."""

    patient: str
    generation: int
    job_id: str
    reason: str
    inputs: Mapping[str, tuple[Instance, ...]]
    changed: float = field(default_factory=time.time)
    """When the job failed (``time.time()``)."""
    attempts: int = 1
    """How many jobs failed on this data since it last arrived (automatic retries)."""


@dataclass(frozen=True)
class PatientStatus:
    """A read-only view of one patient's state, for status pages and tests."""

    patient: str
    collecting: int
    """Instances in the generation that is still collecting."""
    delivering: int
    """Open associations that delivered data for this patient."""
    running_job: str | None
    failed: tuple[FailedGeneration, ...]
