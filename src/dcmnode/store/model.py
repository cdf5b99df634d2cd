"""Immutable records the store hands out: instances, snapshots, failed generations.

Everything here is frozen: a snapshot given to user code outside the store's
lock cannot be changed by the association threads that keep adding data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from pydicom.dataset import Dataset

from dcmnode.network.association import Sender

PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)
"""Float, double float and integer Pixel Data: what a header-only data set lacks."""


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
    retryable: bool = True
    """False when the data cannot be processed again from here: a file that
    could not be read at start-up (quarantined), or pixel data released to
    bound memory (memory-only mode). It stays listed, with the reason."""
    held_bytes: int = 0
    """Bytes of pixel data this generation keeps in memory (0 on disk: there
    only headers are held)."""


def pixel_bytes(inputs: Mapping[str, tuple[Instance, ...]]) -> int:
    """Bytes of pixel data held by *inputs*, each data set counted once."""
    datasets = {id(i.dataset): i.dataset for group in inputs.values() for i in group}
    total = 0
    for dataset in datasets.values():
        for tag in PIXEL_TAGS:
            element = dataset.get_item(tag) if tag in dataset else None  # raw: nothing decoded
            if element is not None and isinstance(element.value, bytes | bytearray):
                total += len(element.value)
    return total


def released(failed: FailedGeneration, why: str) -> FailedGeneration:
    """*failed* with headers only: listed as before, no longer retryable.

    New data sets, so that whoever still holds the old ones (a finished job,
    a caller of `Store.failed`) keeps what it has.
    """
    headers: dict[int, Dataset] = {}
    inputs = {
        name: tuple(
            replace(i, dataset=headers.setdefault(id(i.dataset), _header(i.dataset))) for i in group
        )
        for name, group in failed.inputs.items()
    }
    reason = f"{failed.reason}\n{why}"
    return replace(
        failed, inputs=MappingProxyType(inputs), reason=reason, retryable=False, held_bytes=0
    )


def _header(dataset: Dataset) -> Dataset:
    header = Dataset(
        {tag: dataset.get_item(tag) for tag in dataset.keys() if tag not in PIXEL_TAGS}
    )
    if hasattr(dataset, "file_meta"):
        header.file_meta = dataset.file_meta
    return header


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
