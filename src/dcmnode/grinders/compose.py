"""Run several grinders on the same datasets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydicom.dataset import Dataset

__all__ = ["compose", "Composite", "datasets_grinder"]

Grinder = Callable[[Sequence[Dataset]], Any]


def datasets_grinder(datasets: Sequence[Dataset]) -> list[Dataset]:
    """The identity grinder: the datasets sorted by InstanceNumber."""
    return sorted(datasets, key=lambda ds: int(ds.get("InstanceNumber") or 0))


class Composite:
    """A grinder returning ``{name: grinder(datasets)}`` for several grinders."""

    def __init__(self, grinders: dict[str, Grinder]) -> None:
        if not grinders:
            raise ValueError("compose() needs at least one named grinder")
        for name, grinder in grinders.items():
            if not callable(grinder):
                raise TypeError(f"grinder {name!r} is not callable: {grinder!r}")
        self.grinders = dict(grinders)

    def __call__(self, datasets: Sequence[Dataset]) -> dict[str, Any]:
        return {name: grinder(datasets) for name, grinder in self.grinders.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.grinders.items())
        return f"compose({inner})"


def compose(**grinders: Grinder) -> Composite:
    """Combine grinders: ``compose(volume=VolumeGrinder(), tags=TagsGrinder([...]))``.

    ``process`` then receives a dict with one entry per keyword. Use
    :func:`datasets_grinder` to include the datasets themselves.
    """
    return Composite(grinders)
