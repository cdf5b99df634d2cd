"""Synthetic CT series with exactly known geometry, for tests and examples.

The generator writes the patient, study, series, frame-of-reference, image
plane and CT image modules, so the result is a valid CT Image Storage series
that a PACS accepts. Geometry is given explicitly (origin, direction cosines,
spacing, an optional gantry tilt or a list of slice positions), which lets the
tests compare a reconstructed affine with independently computed coordinates.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

__all__ = ["ct_series", "default_ct_array"]

_IMPLEMENTATION_UID = "1.2.826.0.1.3680043.8.498.1"


def default_ct_array(shape: tuple[int, int, int] = (8, 16, 12)) -> NDArray[np.int16]:
    """Return a deterministic HU pattern where every voxel value is distinct-ish.

    The value depends on all three indices, so a transposed, flipped or
    re-ordered array never equals the original by accident.
    """
    k, r, c = np.indices(shape)
    values: NDArray[np.int16] = ((k * 211 + r * 17 + c * 3) % 2400 - 1000).astype(np.int16)
    return values


def ct_series(
    array: NDArray[np.integer] | None = None,
    *,
    spacing: tuple[float, float, float] = (2.5, 0.8, 0.7),
    origin: Sequence[float] = (-100.0, -80.0, 50.0),
    row_direction: Sequence[float] = (1.0, 0.0, 0.0),
    column_direction: Sequence[float] = (0.0, 1.0, 0.0),
    gantry_tilt: float = 0.0,
    slice_positions: Sequence[float] | None = None,
    patient_id: str = "SYN001",
    patient_name: str = "Synthetic^Patient",
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    series_number: int = 1,
    series_description: str = "Synthetic CT",
    shuffle: bool = False,
    seed: int = 0,
) -> list[Dataset]:
    """Build a CT Image Storage series from an array of Hounsfield units.

    Parameters
    ----------
    array
        HU values indexed ``[slice, row, column]``; :func:`default_ct_array`
        when omitted. Stored as unsigned 16 bit with intercept -1024.
    spacing
        ``(slice, row, column)`` spacing in mm; row spacing is the distance
        between rows (the first value of PixelSpacing).
    origin
        Patient position (LPS, mm) of the first voxel of the first slice.
    row_direction, column_direction
        Direction cosines of ImageOrientationPatient (need not be axis aligned).
    gantry_tilt
        Tilt in degrees: slices are shifted along the column direction by
        ``tan(tilt) * offset`` like a tilted CT gantry, so the slice step is no
        longer parallel to the normal.
    slice_positions
        Offsets along the normal (mm) for each slice; overrides ``spacing[0]``
        to model non-uniform spacing or missing slices.
    shuffle
        Return the instances in random order (InstanceNumber still counts along
        the normal) to test ordering by position.
    """
    values = default_ct_array() if array is None else np.asarray(array)
    if values.ndim != 3:
        raise ValueError(f"array must be 3-D [slice, row, column], got shape {values.shape}")
    row_dir = np.asarray(row_direction, dtype=float)
    col_dir = np.asarray(column_direction, dtype=float)
    normal = np.cross(row_dir, col_dir)
    offsets = (
        np.arange(values.shape[0]) * spacing[0]
        if slice_positions is None
        else np.asarray(slice_positions, dtype=float)
    )
    if len(offsets) != values.shape[0]:
        raise ValueError("slice_positions must have one offset per slice")
    shear = np.tan(np.radians(gantry_tilt))
    stored = (values.astype(np.int32) + 1024).astype(np.uint16)
    study_uid = study_instance_uid or generate_uid()
    series_uid = series_instance_uid or generate_uid()
    for_uid = frame_of_reference_uid or generate_uid()
    now = datetime.datetime(2024, 3, 14, 9, 26, 53)
    datasets = []
    for index, offset in enumerate(offsets):
        position = np.asarray(origin, dtype=float) + offset * normal + shear * offset * col_dir
        ds = _ct_header(patient_id, patient_name, study_uid, series_uid, for_uid, now)
        ds.SeriesNumber = series_number
        ds.SeriesDescription = series_description
        ds.InstanceNumber = index + 1
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.ImageOrientationPatient = [_ds(v) for v in (*row_dir, *col_dir)]
        ds.PixelSpacing = [_ds(spacing[1]), _ds(spacing[2])]
        ds.SliceThickness = _ds(spacing[0])
        ds.SliceLocation = _ds(float(position @ normal))
        ds.GantryDetectorTilt = _ds(gantry_tilt)
        ds.Rows, ds.Columns = values.shape[1], values.shape[2]
        ds.PixelData = stored[index].tobytes()
        datasets.append(ds)
    if shuffle:
        random.Random(seed).shuffle(datasets)
    return datasets


def _ds(value: float) -> str:
    # DS is limited to 16 characters; %.10g keeps sub-micrometre precision.
    return f"{value:.10g}"


def _ct_header(
    patient_id: str,
    patient_name: str,
    study_uid: str,
    series_uid: str,
    for_uid: str,
    when: datetime.datetime,
) -> Dataset:
    sop_uid = generate_uid()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = UID(_IMPLEMENTATION_UID)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = when.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = when.strftime("%H%M%S")
    ds.AccessionNumber = "ACC" + patient_id
    ds.Modality = "CT"
    ds.Manufacturer = "dcmnode synthetic"
    ds.ReferringPhysicianName = "Referrer^Doctor"
    ds.InstitutionName = "Synthetic Hospital"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.PatientAge = "054Y"
    ds.PatientWeight = "70"
    ds.BodyPartExamined = "CHEST"
    ds.KVP = "120"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = for_uid
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    return ds
