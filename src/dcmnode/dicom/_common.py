"""Helpers shared by the builders: UIDs, file meta, copied modules, checks."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from copy import deepcopy
from typing import Any

from pydicom import config
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid

from ..grinders.volume import Volume

__all__ = [
    "PATIENT_KEYWORDS",
    "SERIES_NUMBER_OFFSET",
    "STUDY_KEYWORDS",
    "ResultUIDs",
    "add_file_meta",
    "apply_overrides",
    "check_producer",
    "copy_element",
    "copy_keywords",
    "new_uid",
    "now",
    "reference_datasets",
    "series_number_for",
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
    """A fresh random UID under pydicom's root (for what must differ at each call)."""
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
            target.add(copy_element(source[keyword]))


def copy_element(element: DataElement) -> DataElement:
    """A copy of ``element`` that keeps even an invalid value (cleaned later, by conform)."""
    # Not deepcopy(element): pydicom's element deepcopy is several times
    # slower, which shows on series of hundreds of slices.
    try:
        return DataElement(
            element.tag, element.VR, deepcopy(element.value), validation_mode=config.IGNORE
        )
    except (TypeError, ValueError):
        # A value its VR cannot even hold (a DS of "seventy"), kept as read.
        return deepcopy(element)


def apply_overrides(datasets: Sequence[Dataset], overrides: dict[str, Any]) -> None:
    """Set ``keyword=value`` on every dataset; unknown keywords are an error."""
    unknown = [k for k in overrides if tag_for_keyword(k) is None]
    if unknown:
        raise ValueError(
            f"keyword arguments (overrides) must be DICOM keywords, got unknown DICOM keywords "
            f"{unknown}"
        )
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
    if not isinstance(reference, Volume) and (
        isinstance(reference, Dataset | str | bytes) or not isinstance(reference, Iterable)
    ):
        raise TypeError(
            f"argument '{name}' must be a Volume or a sequence of pydicom Datasets, "
            f"got {type(reference).__name__}"
        )
    datasets = list(reference.datasets) if isinstance(reference, Volume) else list(reference)
    if not datasets:
        raise ValueError(
            f"argument '{name}' must hold at least one dataset (results need the "
            "source's patient and study), got none"
        )
    for ds in datasets:
        if not isinstance(ds, Dataset):
            raise TypeError(
                f"argument '{name}' must hold pydicom Datasets, got {type(ds).__name__}"
            )
        # PatientID is Type 2: a reference may lack it, and so will the result.
        for keyword in ("StudyInstanceUID", "SOPInstanceUID"):
            if keyword not in ds:
                raise ValueError(
                    f"argument '{name}' must have {keyword} in every dataset "
                    "(to place the result in its study), got a dataset without it"
                )
    return datasets


def check_text(value: str, name: str, limit: int = 64) -> str:
    """Check a short text argument (LO-like: at most ``limit`` characters, no backslash)."""
    if not isinstance(value, str):
        raise TypeError(f"argument '{name}' must be a str, got {type(value).__name__}")
    if len(value) > limit or "\\" in value:
        raise ValueError(
            f"argument '{name}' must have at most {limit} characters and no backslash, "
            f"got {value!r}"
        )
    return value


def check_number(value: int, name: str) -> int:
    """Check a non-negative IS-like integer argument such as a series number."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"argument '{name}' must be an int, got {type(value).__name__}")
    if not 0 <= value < 2**31:
        raise ValueError(f"argument '{name}' must be between 0 and 2**31 - 1, got {value}")
    return value


def check_producer(algorithm_name: str, algorithm_version: str, manufacturer: str) -> None:
    """Check the arguments that name who made a result (LO, SH and LO values)."""
    check_text(algorithm_name, "algorithm_name")
    check_text(algorithm_version, "algorithm_version", 16)
    check_text(manufacturer, "manufacturer")


#: Added to the reference's SeriesNumber for a result's default series number,
#: so results sort after their sources and show which series they came from.
SERIES_NUMBER_OFFSET = 1000


def series_number_for(series_number: int | None, sources: Sequence[Dataset]) -> int:
    """The result's series number: the argument, or the reference's plus 1000.

    A reference without a usable SeriesNumber (absent, empty, not a number)
    counts as series 0, so the result is series 1000.
    """
    if series_number is not None:
        return check_number(series_number, "series_number")
    try:
        base = int(sources[0].get("SeriesNumber") or 0)
    except (TypeError, ValueError):
        base = 0
    number = base + SERIES_NUMBER_OFFSET
    return number if 0 <= number < 2**31 else SERIES_NUMBER_OFFSET


class ResultUIDs:
    """UIDs of one result, derived from its inputs instead of drawn at random.

    Processing is at-least-once: a job re-run after a crash must make the
    same UIDs, so that a PACS (which keys on SOP Instance UID) stores its
    results once. Each UID is a hash of the builder's name, the SOP Instance
    UIDs of the reference instances (order-free), the arguments that tell two
    results of one reference apart, and ``seed`` (anything else the caller
    wants to distinguish, such as a model version).
    """

    def __init__(
        self,
        builder: str,
        sources: Sequence[Dataset],
        arguments: Sequence[object],
        seed: str | None = None,
    ) -> None:
        if seed is not None and not isinstance(seed, str):
            raise TypeError(f"argument 'uid_seed' must be a str, got {type(seed).__name__}")
        inputs = sorted(str(ds.SOPInstanceUID) for ds in sources)
        # One JSON text as the only entropy source: generate_uid joins its
        # sources without a separator, so ["ab", "c"] and ["a", "bc"] would
        # otherwise make the same UID.
        self._basis = [builder, inputs, [str(a) for a in arguments], seed]

    def uid(self, *role: object) -> str:
        """The UID with this role in the result, e.g. ``("series",)``, ``("instance", 3)``."""
        text = json.dumps([*self._basis, [str(r) for r in role]], separators=(",", ":"))
        return str(generate_uid(entropy_srcs=[text]))

    @property
    def series(self) -> str:
        """SeriesInstanceUID of the result."""
        return self.uid("series")

    def instance(self, index: int = 0) -> str:
        """SOPInstanceUID of the result's instance number ``index``."""
        return self.uid("instance", index)
