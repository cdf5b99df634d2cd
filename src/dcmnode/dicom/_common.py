"""Helpers shared by the builders: UIDs, file meta, copied modules, checks."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid

from ..grinders.volume import Volume

__all__ = [
    "PATIENT_KEYWORDS",
    "STUDY_KEYWORDS",
    "add_file_meta",
    "apply_overrides",
    "copy_keywords",
    "new_uid",
    "now",
    "reference_datasets",
]

IMPLEMENTATION_VERSION_NAME = "DCMNODE_01"

# Patient module (PS3.3 C.7.1.1) and the patient-level attributes viewers
# and PACS match on; copied so a result files under the same patient.
PATIENT_KEYWORDS = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "OtherPatientIDsSequence",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
)
# General Study module (PS3.3 C.7.2.1): a result joins the source's study.
STUDY_KEYWORDS = (
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
    "IssuerOfAccessionNumberSequence",
)


def new_uid() -> str:
    """A fresh UID under pydicom's root (UUID-derived, so collision-free)."""
    return str(generate_uid())


def now() -> datetime.datetime:
    """The current local time, the way DICOM content dates are written."""
    return datetime.datetime.now()


def add_file_meta(ds: Dataset, transfer_syntax: str = ExplicitVRLittleEndian) -> Dataset:
    """Give ``ds`` the File Meta Information needed by ``dcmwrite(enforce_file_format=True)``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    ds.file_meta = meta
    return ds


def copy_keywords(source: Dataset, target: Dataset, keywords: Iterable[str]) -> None:
    """Copy the named attributes that ``source`` has (deep copies of sequences)."""
    for keyword in keywords:
        if keyword in source:
            element = source[keyword]
            target[element.tag] = type(element)(element.tag, element.VR, _copy_value(element.value))


def _copy_value(value: Any) -> Any:
    from copy import deepcopy

    return deepcopy(value)


def apply_overrides(datasets: Sequence[Dataset], overrides: dict[str, Any]) -> None:
    """Set ``keyword=value`` on every dataset; unknown keywords are an error."""
    unknown = [k for k in overrides if tag_for_keyword(k) is None]
    if unknown:
        raise ValueError(f"overrides contains unknown DICOM keywords: {unknown}")
    for ds in datasets:
        for keyword, value in overrides.items():
            if value is None:
                if keyword in ds:
                    del ds[keyword]
            else:
                setattr(ds, keyword, value)
        if "SOPInstanceUID" in overrides and hasattr(ds, "file_meta"):
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def reference_datasets(
    reference: Volume | Sequence[Dataset], name: str = "reference"
) -> list[Dataset]:
    """Return the datasets behind ``reference`` after checking it is usable."""
    datasets = list(reference.datasets) if isinstance(reference, Volume) else list(reference)
    if not datasets:
        raise ValueError(f"{name} has no datasets: results need the source's patient and study")
    for ds in datasets:
        if not isinstance(ds, Dataset):
            raise TypeError(f"{name} must hold pydicom Datasets, got {type(ds).__name__}")
        for keyword in ("StudyInstanceUID", "PatientID"):
            if keyword not in ds:
                raise ValueError(f"{name} lacks {keyword}: cannot place the result in its study")
    return datasets


def check_text(value: str, name: str, limit: int = 64) -> str:
    """Check a short text argument (LO-like: at most ``limit`` characters, no backslash)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if len(value) > limit or "\\" in value:
        raise ValueError(f"{name} must have at most {limit} characters and no backslash: {value!r}")
    return value


def check_number(value: int, name: str) -> int:
    """Check a positive IS-like integer argument such as a series number."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value < 2**31:
        raise ValueError(f"{name} must be between 0 and 2**31 - 1, got {value}")
    return value
