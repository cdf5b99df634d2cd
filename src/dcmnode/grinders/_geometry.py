"""Order frames along the slice normal and derive one affine, or refuse.

The checks here are what keeps a wrong array from reaching ``process``:
slices are sorted by their position projected on the normal of the image
plane (InstanceNumber is an unreliable ordering), and every assumption the
affine makes - one orientation, one pixel spacing, positions on a line with a
regular step - is verified with a tolerance and reported by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ._frames import Frame
from .errors import (
    InconsistentGeometryError,
    MissingSliceError,
    MixedSeriesError,
    NonUniformSpacingError,
)

__all__ = ["Layout", "layout"]

# Direction cosines are written with limited precision (DS is 16 characters),
# so two slices of one acquisition may differ in the 5th decimal.
ORIENTATION_TOLERANCE = 1e-4
# Positions are compared in mm; below a micrometre is rounding noise.
POSITION_TOLERANCE_MM = 1e-3


@dataclass(frozen=True)
class Layout:
    """The ordered frames and the affine that places them."""

    frames: tuple[Frame, ...]
    affine: NDArray[np.float64]
    slice_offsets: NDArray[np.float64]  # positions along the normal, ascending
    has_geometry: bool
    issues: tuple[str, ...]


def check_same_series(frames: Sequence[Frame]) -> None:
    """Refuse frames from several series, frames of reference or matrix sizes."""
    for keyword, error in (
        ("SeriesInstanceUID", MixedSeriesError),
        ("FrameOfReferenceUID", MixedSeriesError),
        ("Rows", InconsistentGeometryError),
        ("Columns", InconsistentGeometryError),
        ("SamplesPerPixel", InconsistentGeometryError),
    ):
        seen: dict[str, int] = {}
        for frame in frames:
            value = str(frame.dataset.get(keyword, ""))
            seen[value] = seen.get(value, 0) + 1
        if len(seen) > 1:
            counts = ", ".join(f"{value or '<absent>'} ({n} frames)" for value, n in seen.items())
            raise error(f"{keyword} differs within the input: {counts}")


def layout(
    frames: Sequence[Frame], *, spacing_tolerance: float = 0.01, allow_nonuniform: bool = False
) -> Layout:
    """Sort ``frames`` along the normal and compute the index → LPS affine.

    Parameters
    ----------
    frames
        Frames of one series (see :func:`check_same_series`).
    spacing_tolerance
        Relative tolerance on the slice spacing before it counts as non-uniform.
    allow_nonuniform
        Accept varying slice spacing (reported in ``issues``) instead of raising.
    """
    if not frames:
        raise InconsistentGeometryError("no frames: the input is empty")
    check_same_series(frames)
    if all(f.position is None and f.orientation is None for f in frames):
        return _without_geometry(frames)
    for frame in frames:
        if frame.position is None or frame.orientation is None:
            raise InconsistentGeometryError(
                f"{frame.label} lacks ImagePositionPatient or ImageOrientationPatient "
                "while other frames have them"
            )
    row_dir, col_dir = _common_orientation(frames)
    row_spacing, col_spacing = _common_pixel_spacing(frames)
    normal = np.cross(row_dir, col_dir)
    offsets = np.array([float(f.position @ normal) for f in frames])  # type: ignore[operator]
    order = np.argsort(offsets, kind="stable")
    ordered = tuple(frames[i] for i in order)
    offsets = offsets[order]
    positions = np.array([f.position for f in ordered], dtype=np.float64)
    _check_duplicates(ordered, offsets)
    issues: list[str] = []
    step = _slice_step(
        ordered, positions, offsets, normal, spacing_tolerance, allow_nonuniform, issues
    )
    affine = np.eye(4)
    affine[:3, 0] = step
    affine[:3, 1] = col_dir * row_spacing
    affine[:3, 2] = row_dir * col_spacing
    affine[:3, 3] = positions[0]
    return Layout(ordered, affine, offsets, True, tuple(issues))


def _without_geometry(frames: Sequence[Frame]) -> Layout:
    # e.g. multi-frame secondary capture: keep the stored frame order and
    # say loudly that the affine is only a voxel grid, not patient space.
    first = frames[0]
    row_spacing, col_spacing = first.pixel_spacing or (1.0, 1.0)
    step = first.spacing_between_slices or first.slice_thickness or 1.0
    affine = np.diag([step, row_spacing, col_spacing, 1.0])
    issues = (
        "no patient geometry (ImagePositionPatient/ImageOrientationPatient absent): "
        "frames kept in stored order and the affine is a plain voxel grid",
    )
    offsets = np.arange(len(frames), dtype=np.float64) * step
    return Layout(tuple(frames), affine, offsets, False, issues)


def _common_orientation(frames: Sequence[Frame]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    reference = frames[0].orientation
    assert reference is not None
    for frame in frames[1:]:
        assert frame.orientation is not None
        if np.max(np.abs(frame.orientation - reference)) > ORIENTATION_TOLERANCE:
            raise InconsistentGeometryError(
                f"ImageOrientationPatient of {frame.label} {list(frame.orientation)} differs "
                f"from {frames[0].label} {list(reference)}"
            )
    row_dir = reference[:3] / np.linalg.norm(reference[:3])
    col_dir = reference[3:] / np.linalg.norm(reference[3:])
    if abs(float(row_dir @ col_dir)) > 1e-3:
        raise InconsistentGeometryError(
            f"ImageOrientationPatient {list(reference)} is not orthogonal"
        )
    return row_dir, col_dir


def _common_pixel_spacing(frames: Sequence[Frame]) -> tuple[float, float]:
    spacings = {f.pixel_spacing for f in frames}
    if None in spacings:
        missing = next(f for f in frames if f.pixel_spacing is None)
        raise InconsistentGeometryError(f"{missing.label} has no PixelSpacing")
    reference = frames[0].pixel_spacing
    assert reference is not None
    for frame in frames:
        assert frame.pixel_spacing is not None
        if not np.allclose(frame.pixel_spacing, reference, rtol=1e-4, atol=1e-6):
            raise InconsistentGeometryError(
                f"PixelSpacing of {frame.label} {frame.pixel_spacing} differs from "
                f"{frames[0].label} {reference}"
            )
    return reference


def _check_duplicates(ordered: Sequence[Frame], offsets: NDArray[np.float64]) -> None:
    gaps = np.diff(offsets)
    for i in (int(j) for j in np.flatnonzero(gaps < POSITION_TOLERANCE_MM)):
        raise InconsistentGeometryError(
            f"{ordered[i].label} and {ordered[i + 1].label} share the slice position "
            f"{offsets[i]:.3f} mm along the normal (repeated acquisition or mixed series?)"
        )


def _slice_step(
    ordered: Sequence[Frame],
    positions: NDArray[np.float64],
    offsets: NDArray[np.float64],
    normal: NDArray[np.float64],
    tolerance: float,
    allow_nonuniform: bool,
    issues: list[str],
) -> NDArray[np.float64]:
    """Return the LPS vector from one slice to the next, after checking regularity."""
    if len(ordered) == 1:
        frame = ordered[0]
        thickness = frame.spacing_between_slices or frame.slice_thickness or 1.0
        issues.append(f"single slice: slice spacing taken as {thickness} mm")
        return normal * thickness
    gaps = np.diff(offsets)
    typical = float(np.median(gaps))
    limit = max(POSITION_TOLERANCE_MM, tolerance * typical)
    uniform = bool(np.all(np.abs(gaps - typical) <= limit))
    if not uniform:
        missing = _missing_slices(ordered, offsets, gaps, limit)
        description = (
            f"non-uniform slice spacing: gaps between {gaps.min():.4g} and "
            f"{gaps.max():.4g} mm (median {typical:.4g} mm)"
        )
        advice = (
            "; pass allow_nonuniform=True to accept it (the affine then uses the mean "
            "spacing and Volume.slice_offsets holds the true positions)"
        )
        if missing and not allow_nonuniform:
            raise MissingSliceError(missing + advice)
        if not allow_nonuniform:
            raise NonUniformSpacingError(description + advice)
        issues.append(description + (f" ({missing})" if missing else ""))
    # Mean step from first to last slice; for a tilted gantry this vector is
    # not parallel to the normal, and the sheared affine is still exact.
    along = offsets - offsets[0]
    total = along[-1]
    step: NDArray[np.float64] = (positions[-1] - positions[0]) / (len(ordered) - 1)
    expected = positions[0] + np.outer(along / total, positions[-1] - positions[0])
    error = np.linalg.norm(positions - expected, axis=1)
    worst = int(np.argmax(error))
    if error[worst] > max(10 * POSITION_TOLERANCE_MM, tolerance * typical):
        raise InconsistentGeometryError(
            f"slice positions are not on one line: {ordered[worst].label} is "
            f"{error[worst]:.3f} mm off the line through the first and last slice"
        )
    cos_angle = float(step @ normal) / float(np.linalg.norm(step))
    tilt = float(np.degrees(np.arccos(min(1.0, cos_angle))))
    if tilt > 0.01:
        issues.append(
            f"gantry tilt or sheared stack: slices step {tilt:.2f} degrees off the "
            "image normal; the affine is sheared to place every voxel exactly"
        )
    return step


def _missing_slices(
    ordered: Sequence[Frame],
    offsets: NDArray[np.float64],
    gaps: NDArray[np.float64],
    limit: float,
) -> str | None:
    """Describe the gaps if they are whole multiples of the smallest one."""
    smallest = float(gaps.min())
    ratios = gaps / smallest
    if not (np.all(np.abs(ratios - np.round(ratios)) * smallest <= limit) and ratios.max() > 1.5):
        return None
    i = int(np.argmax(gaps))
    missing = int(round(ratios.sum() - len(gaps)))
    return (
        f"{missing} slice(s) missing: gap of {gaps[i]:.4g} mm between {ordered[i].label} "
        f"at {offsets[i]:.3f} mm and {ordered[i + 1].label} at {offsets[i + 1]:.3f} mm, "
        f"regular spacing {smallest:.4g} mm"
    )
