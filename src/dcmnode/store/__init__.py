"""The store: the only state shared between threads.

`Store` is the protocol the node uses; `MemoryStore` keeps everything in
memory, `DiskStore` keeps every instance and change on disk as well.
`open_store` picks one from the pipeline's ``data_directory``.
"""

from __future__ import annotations

import os

from dcmnode.network.association import Sender
from dcmnode.store.disk import DiskStore
from dcmnode.store.lock import DataDirectoryInUse
from dcmnode.store.memory import MemoryStore
from dcmnode.store.model import (
    AddResult,
    FailedGeneration,
    Instance,
    PatientStatus,
    Snapshot,
)
from dcmnode.store.protocol import OutOfSpace, Store

__all__ = [
    "AddResult",
    "DataDirectoryInUse",
    "DiskStore",
    "FailedGeneration",
    "Instance",
    "MemoryStore",
    "OutOfSpace",
    "PatientStatus",
    "Sender",
    "Snapshot",
    "Store",
    "open_store",
]


def open_store(
    directory: str | os.PathLike[str] | None, fsync: bool = True, min_free_bytes: int = 0
) -> Store:
    """A `DiskStore` in *directory*, or a `MemoryStore` when it is None."""
    if directory is None:
        return MemoryStore()
    return DiskStore(directory, fsync, min_free_bytes)
