"""Grinders: turn the datasets of an input into what ``process`` receives.

A grinder is any callable ``grinder(datasets) -> Any``. An ``Input`` selects
one with its ``grinder`` class attribute::

    class CT(Input):
        grinder = VolumeGrinder()

Grinders here:

- ``VolumeGrinder()`` → :class:`Volume`: array ``[slice, row, column]`` with
  rescale applied, and an affine from voxel index to patient LPS mm. Slices
  are ordered along the normal; mixed series, missing slices and
  inconsistent geometry raise a :class:`VolumeError` subclass naming the
  problem; gantry tilt and (when allowed) non-uniform spacing are exact in
  the affine / ``slice_offsets`` and listed in ``Volume.issues``.
- ``TagsGrinder([...])`` → dict (or dataclass) of plain values.
- ``NiftiGrinder(write_file=False)`` → ``nibabel.Nifti1Image`` (RAS affine,
  data ``[column, row, slice]``); with ``write_file=True`` a
  :class:`NiftiFile` whose temporary folder the consumer deletes. Needs
  nibabel: ``pip install 'dcmnode[results]'``.
- ``compose(volume=..., tags=...)`` → dict of several grinders' results.

All results pickle, so grinders can run in another process.
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
