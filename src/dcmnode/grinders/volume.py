"""A 3-D array that travels with its geometry and its source datasets."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray
from pydicom.dataset import Dataset

from ._frames import Frame, frames_of
from ._geometry import layout
from .errors import InconsistentGeometryError

__all__ = ["Volume", "VolumeGrinder"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Volume:
    """Voxel values indexed ``[slice, row, column]`` with their place in the patient.

    Attributes
    ----------
    array
        Voxel values, shape ``(slices, rows, columns)`` (a fourth axis for
        colour samples). Rescale slope and intercept are applied; see
        :meth:`from_datasets` for the dtype rule.
    affine
        4×4 matrix mapping ``(slice, row, column, 1)`` to patient coordinates
        in mm, DICOM LPS convention (x to the patient's left, y posterior,
        z head). Column 0 is the step between slices (sheared for a tilted
        gantry), column 1 moves down a column (ImageOrientationPatient's column
        cosines × row spacing), column 2 along a row.
    datasets
        Source datasets, one per slice for single-frame series (in volume
        order) or the multi-frame instance(s).
    frame_numbers
        Per slice, ``(SOPInstanceUID, frame number starting at 1)`` of its
        source frame, for references from derived objects.
    slice_offsets
        Position of each slice along the image normal (mm); exact even when the
        spacing is not uniform.
    issues
        Human-readable notes about the geometry (gantry tilt, non-uniform
        spacing, missing geometry). Empty for a plain regular stack.
    has_geometry
        False when the source had no patient geometry (e.g. multi-frame
        secondary capture): the affine is then only a voxel grid.
    """

    array: NDArray[Any]
    affine: NDArray[np.float64]
    datasets: tuple[Dataset, ...] = ()
    frame_numbers: tuple[tuple[str, int], ...] = ()
    slice_offsets: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    issues: tuple[str, ...] = ()
    has_geometry: bool = True

    def __post_init__(self) -> None:
        affine = np.asarray(self.affine, dtype=np.float64)
        if affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got shape {affine.shape}")
        if np.asarray(self.array).ndim not in (3, 4):
            raise ValueError(f"array must be 3-D (or 4-D with samples), got {self.array.shape}")
        if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
            raise ValueError("affine is singular: the voxel axes do not span 3-D space")
        object.__setattr__(self, "affine", affine)
        if len(self.slice_offsets) == 0:
            normal = self.normal
            offsets = [float(self.position_of(k) @ normal) for k in range(self.array.shape[0])]
            object.__setattr__(self, "slice_offsets", np.asarray(offsets))

    # -- construction ------------------------------------------------------
    @classmethod
    def from_datasets(
        cls,
        datasets: Sequence[Dataset],
        *,
        dtype: DTypeLike | None = None,
        allow_nonuniform: bool = False,
        spacing_tolerance: float = 0.01,
    ) -> Volume:
        """Build a volume from the instances of one series.

        Slices are ordered by position along the normal, whatever their
        InstanceNumber or arrival order. Multi-frame instances (enhanced
        CT/MR, multi-frame secondary capture) contribute one slice per frame;
        compressed transfer syntaxes are decoded by pydicom's pixel handlers
        (pylibjpeg and its plugins).

        Parameters
        ----------
        datasets
            Instances of a single series, in any order.
        dtype
            Output dtype. By default: the stored dtype when no slice has
            RescaleSlope/RescaleIntercept; the smallest of int16/int32 holding
            the rescaled values when every slope and intercept is an integer
            (typical CT: values in HU as int16); float32 otherwise.
        allow_nonuniform
            Accept varying slice spacing, including gaps that look like
            missing slices, instead of raising
            :class:`~dcmnode.grinders.NonUniformSpacingError` or
            :class:`~dcmnode.grinders.MissingSliceError`. The affine then
            uses the mean step; ``slice_offsets`` and ``issues`` report the
            truth.
        spacing_tolerance
            Relative spacing variation tolerated as uniform (default 1 %).

        Raises
        ------
        MixedSeriesError, InconsistentGeometryError, MissingSliceError,
        NonUniformSpacingError, MissingAttributeError
            With a message naming the problem and the instances involved.
        """
        if not datasets:
            raise InconsistentGeometryError("datasets is empty: nothing to build a volume from")
        placed = layout(
            frames_of(datasets),
            spacing_tolerance=spacing_tolerance,
            allow_nonuniform=allow_nonuniform,
        )
        array = _stack(placed.frames, dtype)
        for issue in placed.issues:
            logger.warning(
                "volume of series %s: %s", datasets[0].get("SeriesInstanceUID", "?"), issue
            )
        sources: dict[str, Dataset] = {}
        for frame in placed.frames:
            sources.setdefault(str(frame.dataset.SOPInstanceUID), frame.dataset)
        return cls(
            array=array,
            affine=placed.affine,
            datasets=tuple(sources.values()),
            frame_numbers=tuple(
                (str(f.dataset.SOPInstanceUID), 1 if f.index is None else f.index + 1)
                for f in placed.frames
            ),
            slice_offsets=placed.slice_offsets,
            issues=placed.issues,
            has_geometry=placed.has_geometry,
        )

    # -- geometry ----------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of :attr:`array`."""
        return tuple(self.array.shape)

    @property
    def origin(self) -> NDArray[np.float64]:
        """LPS position (mm) of the centre of voxel ``[0, 0, 0]``."""
        return self.affine[:3, 3].copy()

    @property
    def row_direction(self) -> NDArray[np.float64]:
        """Unit vector along a row (first three ImageOrientationPatient values)."""
        axis = self.affine[:3, 2]
        return axis / np.linalg.norm(axis)

    @property
    def column_direction(self) -> NDArray[np.float64]:
        """Unit vector down a column (last three ImageOrientationPatient values)."""
        axis = self.affine[:3, 1]
        return axis / np.linalg.norm(axis)

    @property
    def orientation(self) -> tuple[float, ...]:
        """ImageOrientationPatient: row then column direction cosines."""
        return tuple(float(v) for v in (*self.row_direction, *self.column_direction))

    @property
    def normal(self) -> NDArray[np.float64]:
        """Unit normal of the image plane (row × column direction)."""
        return np.cross(self.row_direction, self.column_direction)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """``(slice, row, column)`` spacing in mm.

        The slice spacing is the distance between image planes along the
        normal (for a tilted gantry that is shorter than the slice step).
        """
        step = float(self.affine[:3, 0] @ self.normal)
        return (
            abs(step),
            float(np.linalg.norm(self.affine[:3, 1])),
            float(np.linalg.norm(self.affine[:3, 2])),
        )

    @property
    def pixel_spacing(self) -> tuple[float, float]:
        """DICOM PixelSpacing: (row spacing, column spacing) in mm."""
        return self.spacing[1], self.spacing[2]

    @property
    def is_uniform(self) -> bool:
        """True when the slice offsets are regular within 1 %."""
        gaps = np.diff(self.slice_offsets)
        return len(gaps) == 0 or bool(np.allclose(gaps, gaps.mean(), rtol=0.01, atol=1e-3))

    def position_of(self, slice_index: int) -> NDArray[np.float64]:
        """ImagePositionPatient of slice ``slice_index`` (centre of its first voxel)."""
        position: NDArray[np.float64] = (self.affine @ np.array([slice_index, 0.0, 0.0, 1.0]))[:3]
        return position

    def world_coordinates(self, indices: NDArray[Any]) -> NDArray[np.float64]:
        """Map ``(..., 3)`` voxel indices ``(slice, row, column)`` to LPS mm."""
        points = np.asarray(indices, dtype=np.float64)
        return points @ self.affine[:3, :3].T + self.affine[:3, 3]

    def with_array(self, array: NDArray[Any]) -> Volume:
        """Return a volume with new voxel values on the same grid (e.g. a mask)."""
        if tuple(array.shape[:3]) != tuple(self.array.shape[:3]):
            raise ValueError(f"array shape {array.shape} does not match volume {self.shape}")
        return Volume(
            array,
            self.affine,
            self.datasets,
            self.frame_numbers,
            self.slice_offsets,
            self.issues,
            self.has_geometry,
        )

    def __repr__(self) -> str:
        spacing = ", ".join(f"{s:.4g}" for s in self.spacing)
        return (
            f"Volume(shape={self.shape}, dtype={self.array.dtype}, spacing=({spacing}), "
            f"origin={np.round(self.origin, 3).tolist()}, issues={len(self.issues)})"
        )


def _stack(frames: Sequence[Frame], dtype: DTypeLike | None) -> NDArray[Any]:
    """Decode each frame and apply its rescale, in volume order."""
    stored = np.stack([f.pixels() for f in frames])
    rescales = [(f.slope, f.intercept) for f in frames]
    if all(s is None and i is None for s, i in rescales):
        return stored if dtype is None else stored.astype(dtype)
    slopes = np.array([1.0 if s is None else s for s, _ in rescales])
    intercepts = np.array([0.0 if i is None else i for _, i in rescales])
    target = np.dtype(dtype) if dtype is not None else _default_dtype(stored, slopes, intercepts)
    integral = _is_integral(slopes, intercepts)
    # Integer rescales are computed in int64 so no value is rounded on the way;
    # fractional ones in float, rounded when an integer dtype was asked for.
    work = target if target.kind == "f" else np.dtype(np.int64 if integral else np.float64)
    shape = (-1,) + (1,) * (stored.ndim - 1)
    values: NDArray[Any] = stored.astype(work)
    result: NDArray[Any] = values * slopes.astype(work).reshape(shape) + intercepts.astype(
        work
    ).reshape(shape)
    if target.kind != "f" and not integral:
        result = np.rint(result)
    return result.astype(target)


def _is_integral(slopes: NDArray[np.float64], intercepts: NDArray[np.float64]) -> bool:
    return bool(np.all(slopes == np.round(slopes)) and np.all(intercepts == np.round(intercepts)))


def _default_dtype(
    stored: NDArray[Any], slopes: NDArray[np.float64], intercepts: NDArray[np.float64]
) -> np.dtype[Any]:
    integral = _is_integral(slopes, intercepts)
    if not integral or stored.dtype.kind == "f":
        return np.dtype(np.float32)
    low = float(stored.min()) * slopes + intercepts
    high = float(stored.max()) * slopes + intercepts
    bounds = np.concatenate([low, high])
    for candidate in (np.int16, np.int32):
        info = np.iinfo(candidate)
        if bounds.min() >= info.min and bounds.max() <= info.max:
            return np.dtype(candidate)
    return np.dtype(np.float64)


class VolumeGrinder:
    """Grinder handing ``process`` a :class:`Volume` for each input.

    Parameters are those of :meth:`Volume.from_datasets`. The grinder is a
    small picklable object, so it can run in another process.
    """

    def __init__(
        self,
        *,
        dtype: DTypeLike | None = None,
        allow_nonuniform: bool = False,
        spacing_tolerance: float = 0.01,
    ) -> None:
        if not 0 <= spacing_tolerance < 1:
            raise ValueError(f"spacing_tolerance must be in [0, 1), got {spacing_tolerance}")
        self.dtype = dtype
        self.allow_nonuniform = allow_nonuniform
        self.spacing_tolerance = spacing_tolerance

    def __call__(self, datasets: Sequence[Dataset]) -> Volume:
        return Volume.from_datasets(
            datasets,
            dtype=self.dtype,
            allow_nonuniform=self.allow_nonuniform,
            spacing_tolerance=self.spacing_tolerance,
        )

    def __repr__(self) -> str:
        return (
            f"VolumeGrinder(dtype={self.dtype!r}, allow_nonuniform={self.allow_nonuniform}, "
            f"spacing_tolerance={self.spacing_tolerance})"
        )
