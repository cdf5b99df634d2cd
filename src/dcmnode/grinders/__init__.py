"""Grinders: turn the datasets of an input into what ``process`` receives.

A grinder is any callable ``grinder(datasets) -> Any``. An ``Input`` selects
one with its ``grinder`` class attribute::

    class CT(Input):
        grinder = VolumeGrinder()
"""

from .compose import Composite, compose, datasets_grinder
from .errors import (
    InconsistentGeometryError,
    MissingAttributeError,
    MissingSliceError,
    MixedSeriesError,
    NonUniformSpacingError,
    VolumeError,
)
from .nifti import NiftiFile, NiftiGrinder, to_nifti
from .tags import TagsGrinder
from .volume import Volume, VolumeGrinder

__all__ = [
    "Composite",
    "InconsistentGeometryError",
    "MissingAttributeError",
    "MissingSliceError",
    "MixedSeriesError",
    "NiftiFile",
    "NiftiGrinder",
    "NonUniformSpacingError",
    "TagsGrinder",
    "Volume",
    "VolumeError",
    "VolumeGrinder",
    "compose",
    "datasets_grinder",
    "to_nifti",
]
