"""Fixtures for the grinder tests: expected geometry computed independently."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from support import require_tool

tool = require_tool  # fails under CI=true, skips elsewhere, when missing


def expected_world(
    index: Sequence[int],
    *,
    origin: Sequence[float],
    row_direction: Sequence[float],
    column_direction: Sequence[float],
    spacing: Sequence[float],
    offsets: Sequence[float] | None = None,
    gantry_tilt: float = 0.0,
) -> NDArray[np.float64]:
    """LPS position of voxel (slice, row, column), written out from PS3.3 C.7.6.2.1.1.

    Deliberately a different computation from the Volume's affine: each
    term of the DICOM equation is added by hand.
    """
    k, r, c = index
    row_dir = np.asarray(row_direction, float)
    col_dir = np.asarray(column_direction, float)
    normal = np.cross(row_dir, col_dir)
    offset = (k * spacing[0]) if offsets is None else offsets[k]
    slice_origin = (np.asarray(origin, float) + offset * normal
                    + np.tan(np.radians(gantry_tilt)) * offset * col_dir)
    # PixelSpacing[0] is between rows (down a column), [1] between columns.
    return slice_origin + r * spacing[1] * col_dir + c * spacing[2] * row_dir


def corners(shape: Sequence[int]) -> list[tuple[int, int, int]]:
    """The eight corner voxel indices of an array of ``shape``."""
    return [(k, r, c) for k in (0, shape[0] - 1) for r in (0, shape[1] - 1)
            for c in (0, shape[2] - 1)]
