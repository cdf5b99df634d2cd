"""Synthetic DICOM series for tests, demos and benchmarks (no patient data)."""

from __future__ import annotations

import datetime

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
    generate_uid,
)

_SOP_CLASS = {
    "CT": CTImageStorage,
    "PT": PositronEmissionTomographyImageStorage,
    "MR": MRImageStorage,
}


def series(
    patient_id: str = "PAT0001",
    count: int = 10,
    modality: str = "CT",
    rows: int = 32,
    columns: int = 32,
    study_uid: str | None = None,
    series_uid: str | None = None,
    patient_name: str = "Test^Patient",
    spacing: float = 2.5,
    series_description: str = "synthetic",
) -> list[Dataset]:
    """Make an axial image series of one patient, InstanceNumber 1..count.

    Every slice is a valid, self-contained image (16-bit, with geometry and
    rescale) with ``file_meta`` set to Explicit VR Little Endian, ready to be
    sent or written. Pixel values encode the slice index so that tests can
    check order.
    """
    if modality not in _SOP_CLASS:
        raise ValueError(f"modality: one of {sorted(_SOP_CLASS)}, got {modality!r}")
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    today = datetime.date.today().strftime("%Y%m%d")
    frame_of_reference = generate_uid()  # one per series: the slices share a geometry
    result = []
    for index in range(count):
        ds = Dataset()
        ds.SOPClassUID = _SOP_CLASS[modality]
        ds.SOPInstanceUID = generate_uid()
        ds.PatientID = patient_id
        ds.PatientName = patient_name
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "O"
        ds.StudyInstanceUID = study_uid
        ds.StudyDate = today
        ds.StudyTime = "120000"
        ds.StudyID = "1"
        ds.AccessionNumber = ""
        ds.ReferringPhysicianName = ""
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 1
        ds.SeriesDescription = series_description
        ds.Modality = modality
        ds.Manufacturer = "dcmnode synthetic"
        ds.FrameOfReferenceUID = frame_of_reference
        ds.PositionReferenceIndicator = ""
        ds.InstanceNumber = index + 1
        ds.ImagePositionPatient = [0.0, 0.0, index * spacing]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [1.0, 1.0]
        ds.SliceThickness = spacing
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = rows
        ds.Columns = columns
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = 0
        ds.RescaleSlope = 1
        if modality == "CT":
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            ds.KVP = 120
            ds.RescaleType = "HU"
        pixels = np.full((rows, columns), index * 10, dtype=np.int16)
        pixels[: rows // 2, : columns // 2] += 100
        ds.PixelData = pixels.tobytes()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds.file_meta = meta
        result.append(ds)
    return result
