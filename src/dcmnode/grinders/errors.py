"""Errors raised when a series cannot become a trustworthy volume.

Every error names the problem and the instances involved, so the person
reading a failed job's log knows what to fix at the scanner or the sender.
They subclass :class:`ValueError` because the input data, not the code, is
wrong.
"""

from __future__ import annotations

__all__ = [
    "VolumeError",
    "MixedSeriesError",
    "InconsistentGeometryError",
    "MissingSliceError",
    "NonUniformSpacingError",
    "MissingAttributeError",
]


class VolumeError(ValueError):
    """Base class: the datasets do not form one regular volume."""


class MixedSeriesError(VolumeError):
    """The datasets come from more than one series or frame of reference."""


class InconsistentGeometryError(VolumeError):
    """Orientation, pixel spacing, size or positions disagree between slices."""


class MissingSliceError(VolumeError):
    """A gap in the slice positions is a multiple of the regular spacing."""


class NonUniformSpacingError(VolumeError):
    """The distance between slices varies (allow it with ``allow_nonuniform``)."""


class MissingAttributeError(VolumeError):
    """An attribute needed to place or decode the pixels is absent."""
