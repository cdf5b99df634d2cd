"""Planar contours of a mask slice, and their Contour Data, for RT Structure Sets.

The polygons come from scikit-image's marching squares at the 0.5 level of
the padded binary slice: every vertex lies half-way between an inside and
an outside pixel centre, so the polygon encloses exactly the mask's pixel
centres. Marching squares puts a vertex at every half pixel; the vertices
in the middle of a straight run are dropped, which changes no edge.
"""

from __future__ import annotations

import logging
from types import ModuleType

import numpy as np
from numpy.typing import NDArray
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

from ..grinders.volume import Volume

__all__ = ["contour_data", "slice_contours"]

logger = logging.getLogger("dcmnode.dicom")

_CONTOUR_DATA = Tag(0x3006, 0x0050)
# A DS value is written with a 16-bit length in explicit VR transfer
# syntaxes: one contour's text must fit in 65534 bytes.
_MAX_BYTES = 0xFFFE
# Tried in order for a contour too long for that limit (the outline of a
# body on a 2048-pixel matrix): (Douglas-Peucker tolerance in pixels, decimals
# of a mm). 0.01 mm is still far below any voxel.
_SHORTER = ((0.0, 2), (0.25, 2), (0.5, 2), (1.0, 2), (2.0, 2))


def slice_contours(measure: ModuleType, plane: NDArray[np.bool_]) -> list[NDArray[np.float64]]:
    """Closed polygons ``(n, 2)`` of ``(row, column)`` around one slice's mask.

    The plane is padded by one empty pixel so that a mask touching the
    image border still gives closed contours; diagonal neighbours count as
    connected ("high"), so a diagonal line of pixels is one island. A
    hole gives a contour of its own inside the island's.
    """
    rows, columns = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
    if len(rows) == 0:
        return []
    # Traced on the mask's bounding box only: most structures are small.
    top, left = int(rows[0]), int(columns[0])
    box = plane[top : int(rows[-1]) + 1, left : int(columns[-1]) + 1]
    padded = np.pad(box.astype(np.float64), 1)
    shift = np.array([top - 1.0, left - 1.0])
    polygons: list[NDArray[np.float64]] = []
    for traced in measure.find_contours(padded, 0.5, fully_connected="high"):
        if len(traced) > 1 and np.array_equal(traced[0], traced[-1]):
            traced = traced[:-1]  # CLOSED_PLANAR: the last point joins the first implicitly
        simple = _drop_collinear(traced + shift)
        if len(simple) >= 3:
            polygons.append(simple)
    return polygons


def _drop_collinear(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Remove the vertices of a closed polygon that lie inside a straight run."""
    incoming = points - np.roll(points, 1, axis=0)
    outgoing = np.roll(points, -1, axis=0) - points
    cross = incoming[:, 0] * outgoing[:, 1] - incoming[:, 1] * outgoing[:, 0]
    turning = np.abs(cross) > 1e-9
    reversing = np.sum(incoming * outgoing, axis=1) <= 0  # a spike's tip is kept
    kept: NDArray[np.float64] = points[turning | reversing]
    return kept


def contour_data(
    measure: ModuleType, volume: Volume, k: int, polygon: NDArray[np.float64]
) -> tuple[RawDataElement, int]:
    """Contour Data (x, y, z in mm, LPS) of ``polygon`` on slice ``k``, and its point count.

    The element is handed to pydicom already encoded: a structure set holds
    hundreds of thousands of coordinates, and pydicom's per-value DS objects
    would cost seconds. It is decoded as usual when read.

    Raises
    ------
    ValueError
        The contour is too ragged to fit a DS value even when simplified.
    """
    text = _text(volume, k, polygon, 4)
    for tolerance, decimals in _SHORTER:
        if len(text) <= _MAX_BYTES:
            break
        if tolerance:
            closed = np.vstack([polygon, polygon[:1]])
            polygon = measure.approximate_polygon(closed, tolerance)[:-1]
        text = _text(volume, k, polygon, decimals)
        logger.warning(
            "rtstruct: a contour on slice %d is too long for one Contour Data value; "
            "written with %d points, %d decimals (tolerance %.2f pixel)",
            k,
            len(polygon),
            decimals,
            tolerance,
        )
    if len(text) > _MAX_BYTES:
        raise ValueError(
            f"argument 'masks' has a contour on slice {k} too ragged for DICOM Contour Data "
            f"(more than {_MAX_BYTES} bytes even simplified to {len(polygon)} points); "
            "smooth the mask"
        )
    if len(text) % 2:
        text += b" "  # DICOM values have even length; DS pads with a space
    element = RawDataElement(_CONTOUR_DATA, "DS", len(text), text, 0, False, True, True, False)
    return element, len(polygon)


def _text(volume: Volume, k: int, polygon: NDArray[np.float64], decimals: int) -> bytes:
    origin = volume.position_of(k)
    # With non-uniform spacing the affine holds the mean step: move the
    # origin along the normal onto the slice's true plane.
    normal = volume.normal
    origin = origin + (volume.slice_offsets[k] - origin @ normal) * normal
    points = origin + polygon[:, :1] * volume.affine[:3, 1] + polygon[:, 1:] * volume.affine[:3, 2]
    # 0.1 micrometre (4 decimals) is far below any voxel; rounding keeps each
    # value well within the 16 characters of a DS ("+ 0.0" turns -0.0 into 0).
    values = np.round(points.ravel(), decimals) + 0.0
    return "\\".join(f"{value:.10g}" for value in values).encode("ascii")
