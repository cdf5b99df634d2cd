"""The store: the only state shared between threads."""

from dcmnode.store.disk import DiskStore, OutOfSpace
from dcmnode.store.memory import MemoryStore
from dcmnode.store.model import (
    AddResult,
    FailedGeneration,
    Instance,
    PatientStatus,
    Sender,
    Snapshot,
)

__all__ = [
    "AddResult",
    "DiskStore",
    "OutOfSpace",
    "FailedGeneration",
    "Instance",
    "MemoryStore",
    "PatientStatus",
    "Sender",
    "Snapshot",
]
