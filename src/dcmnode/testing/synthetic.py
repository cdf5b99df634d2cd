"""Synthetic DICOM series for tests, demos and benchmarks (no patient data)."""

from __future__ import annotations

import datetime

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
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
    sent or written: each carries the Type 1 and Type 2 attributes of its
    IOD (CT, MR or PET Image), so ``dciodvfy`` finds no error in it and a
    pipeline tested on it sees what a scanner sends. Pixel values encode the
    slice index so that tests can check order.
    """
    if modality not in _SOP_CLASS:
        raise ValueError(
            f"argument 'modality' must be one of {sorted(_SOP_CLASS)}, got {modality!r}"
        )
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
        ds.SeriesDate = today
        ds.SeriesTime = "120000"
        ds.SeriesNumber = 1
        ds.Laterality = ""  # Type 2C: unknown (the body part is not stated)
        ds.SeriesDescription = series_description
        ds.Modality = modality
        ds.Manufacturer = "dcmnode synthetic"
        ds.FrameOfReferenceUID = frame_of_reference
        ds.PositionReferenceIndicator = ""
        ds.InstanceNumber = index + 1
        ds.AcquisitionNumber = 1
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
        _MODALITY_MODULE[modality](ds, index, count)
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


def _ct(ds: Dataset, index: int, count: int) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PatientPosition = "HFS"
    ds.KVP = 120
    ds.RescaleType = "HU"


def _mr(ds: Dataset, index: int, count: int) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.PatientPosition = "HFS"
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "NONE"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = 500
    ds.EchoTime = 20
    ds.EchoTrainLength = 1


def _pt(ds: Dataset, index: int, count: int) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.Units = "BQML"
    ds.CountsSource = "EMISSION"
    ds.SeriesType = ["STATIC", "IMAGE"]
    ds.NumberOfSlices = count
    ds.ImageIndex = index + 1
    ds.CorrectedImage = ["ATTN", "DECY"]
    ds.DecayCorrection = "START"
    ds.DecayFactor = 1  # Type 1C with decay correction: at the series start, 1
    ds.CollimatorType = "NONE"
    ds.RadiopharmaceuticalInformationSequence = DicomSequence([])
    ds.PatientOrientationCodeSequence = DicomSequence([])
    ds.PatientGantryRelationshipCodeSequence = DicomSequence([])
    ds.AcquisitionDate = ds.SeriesDate
    ds.AcquisitionTime = ds.SeriesTime
    ds.FrameReferenceTime = 0
    ds.ActualFrameDuration = 300000


# Type 1 and 2 attributes of each modality's image module (PS3.3 C.8).
_MODALITY_MODULE = {"CT": _ct, "MR": _mr, "PT": _pt}
