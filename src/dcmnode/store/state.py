"""The store's mutable per-patient state, and the rules that only read or rewrite it.

Everything here is used under `MemoryStore`'s lock and never escapes it:
what leaves the store is frozen (`dcmnode.store.model`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dcmnode.network.association import Sender
from dcmnode.store.model import FailedGeneration, Instance, released

KEEP_FAILED_BYTES = 1 << 30
"""Pixel data that failed generations may keep in a memory-only store (1 GiB)."""
RELEASED = (
    "pixel data released: a memory-only node keeps at most keep_failed_bytes of failed"
    " data; send the data again to process it"
)


@dataclass
class Generation:
    """One generation of a patient's data: collecting, running or (frozen) failed."""

    number: int
    inputs: dict[str, dict[str, Instance]] = field(default_factory=dict)
    version: int = 0
    sender: Sender = Sender("", "")
    changed: float = field(default_factory=time.time)
    started: float = 0.0  # time of the first instance (or of a retry), for deadlines
    attempts: int = 0  # failed jobs on this data so far (automatic retries)

    def __bool__(self) -> bool:
        return any(self.inputs.values())

    def holding(self, old: Instance) -> tuple[str, ...]:
        """The inputs that hold exactly this copy (same receipt) of *old*."""
        uid = old.sop_instance_uid
        return tuple(
            name
            for name, held in self.inputs.items()
            if uid in held and held[uid].receipt == old.receipt
        )

    def merge(self, inputs: Mapping[str, Iterable[Instance]]) -> list[Instance]:
        """Add an older generation's *inputs*; copies already here win.

        Returns the older copies that lost somewhere (each once).
        """
        losers: dict[str, Instance] = {}
        for name, instances in inputs.items():
            held = self.inputs.setdefault(name, {})
            for instance in instances:
                kept = held.setdefault(instance.sop_instance_uid, instance)
                if kept.receipt != instance.receipt:
                    losers[instance.receipt] = instance
        return list(losers.values())


@dataclass
class PatientState:
    """A patient's generations and who is delivering for it."""

    key: str
    collecting: Generation
    delivering: set[int] = field(default_factory=set)
    running: tuple[str, Generation] | None = None
    failed: list[FailedGeneration] = field(default_factory=list)

    def is_idle(self) -> bool:
        return not (self.collecting or self.delivering or self.running or self.failed)

    def is_due(self) -> bool:
        """Collected data, nobody delivering, no job running: ready to be checked."""
        return bool(self.collecting) and not self.delivering and not self.running


def same_series(held: dict[str, Instance], instance: Instance) -> bool:
    """True if *instance* belongs to the series *held* (non-empty) already holds."""
    first: Iterable[Instance] = held.values()
    return next(iter(first)).series_instance_uid == instance.series_instance_uid


def bound_failed(patients: Iterable[PatientState], limit: int) -> None:
    """Release the pixel data of the oldest failures beyond *limit* bytes, in place.

    Only a memory-only store holds pixel data in failed generations (a
    `DiskStore` holds headers). The newest failure always keeps its data:
    an automatic retry (``process_retries``) follows at once. The released
    ones stay listed with their reason, marked not retryable.
    """
    holding = sorted(
        ((f, p) for p in patients for f in p.failed if f.held_bytes),
        key=lambda pair: pair[0].changed,
    )
    total = sum(f.held_bytes for f, _ in holding)
    for failed, record in holding[:-1]:
        if total <= limit:
            return
        total -= failed.held_bytes
        place = next(i for i, f in enumerate(record.failed) if f is failed)
        record.failed[place] = released(failed, RELEASED)
