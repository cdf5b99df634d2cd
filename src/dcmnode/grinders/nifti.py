"""Grinder that hands ``process`` a NIfTI image (and optionally its file).

nibabel comes with the ``results`` extra: ``pip install 'dcmnode[results]'``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from ..extras import require
from .volume import Volume

__all__ = ["NiftiGrinder", "NiftiFile", "to_nifti", "LPS_TO_RAS"]

# DICOM patient coordinates are LPS, NIfTI world coordinates are RAS.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
# NIfTI tools expect (i, j, k) = (column, row, slice); a Volume is [slice, row, column].
_SWAP_AXES = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=float)
_FEATURE = "NiftiGrinder/to_nifti()"


def nifti_affine(volume: Volume) -> NDArray[np.float64]:
    """Affine mapping NIfTI voxel ``(column, row, slice)`` to RAS mm."""
    return LPS_TO_RAS @ volume.affine @ _SWAP_AXES  # type: ignore[no-any-return]


def to_nifti(volume: Volume) -> Any:
    """Convert a :class:`Volume` into a ``nibabel.Nifti1Image`` (sform and qform set).

    The data array is transposed to ``(column, row, slice)``; the affine maps
    those indices to RAS. A sheared affine (gantry tilt) is stored exactly in
    the sform; the qform, which cannot hold shear, is then an approximation.

    Raises
    ------
    MissingExtraError
        nibabel is not installed (``pip install 'dcmnode[results]'``).
    """
    nib = require("results", "nibabel", _FEATURE)

    data = np.ascontiguousarray(np.transpose(volume.array, (2, 1, 0, *range(3, volume.array.ndim))))
    image = nib.Nifti1Image(data, nifti_affine(volume))
    image.set_sform(nifti_affine(volume), code=1)  # 1 = scanner anatomical
    image.set_qform(nifti_affine(volume), code=1)
    image.header.set_xyzt_units("mm")
    return image


@dataclass(frozen=True)
class NiftiFile:
    """A NIfTI image and the ``.nii.gz`` file holding it.

    ``directory`` is a temporary folder created for this job only; the job's
    owner deletes it with :meth:`cleanup` (or ``shutil.rmtree``) when done.
    """

    image: Any
    path: Path
    directory: Path

    def cleanup(self) -> None:
        """Delete the temporary folder and the file in it."""
        import shutil

        shutil.rmtree(self.directory, ignore_errors=True)


class NiftiGrinder:
    """Grinder handing ``process`` a ``nibabel.Nifti1Image`` with the correct affine.

    Parameters
    ----------
    write_file
        Also write the image to ``image.nii.gz`` in a fresh temporary folder
        and return a :class:`NiftiFile`. The grinder creates the folder and
        never deletes it, because ``process`` (maybe in another process) still
        reads it; whoever consumes the result calls :meth:`NiftiFile.cleanup`.
    directory
        Parent folder for the temporary folders (default: the system's).
    **volume_options
        Passed to :meth:`Volume.from_datasets` (``dtype``, ``allow_nonuniform`` …).

    Raises
    ------
    MissingExtraError
        nibabel is not installed (``pip install 'dcmnode[results]'``): the
        grinder says so when the pipeline is defined, not at its first job.
    """

    def __init__(
        self,
        write_file: bool = False,
        *,
        directory: str | Path | None = None,
        **volume_options: Any,
    ) -> None:
        # Checked here so a missing extra shows when the pipeline is defined;
        # the module is not kept, so the grinder still pickles.
        require("results", "nibabel", _FEATURE)
        self.write_file = write_file
        self.directory = None if directory is None else Path(directory)
        self.volume_options = volume_options

    def __call__(self, datasets: Sequence[Dataset]) -> Any:
        image = to_nifti(Volume.from_datasets(datasets, **self.volume_options))
        if not self.write_file:
            return image
        folder = Path(tempfile.mkdtemp(prefix="dcmnode-nifti-", dir=self.directory))
        path = folder / "image.nii.gz"
        image.to_filename(str(path))
        return NiftiFile(image=image, path=path, directory=folder)

    def __repr__(self) -> str:
        return f"NiftiGrinder(write_file={self.write_file})"
