"""Make a result conform to its IOD whatever its reference lacked or got wrong.

Results inherit patient, study and modality attributes from the reference,
and real scanners omit Type 2 attributes or write values their VR forbids
("2020-01-02" as a DA, "Male" as a CS). A validator or archive that rejects
a result loses it, so every builder ends with :func:`conform`:

- invalid values are cleaned where the intent is plain (separators in a
  date, lower case in a code string, a decimal string that is too long),
  otherwise emptied (Type 2) or removed, with one warning per result naming
  the attributes -- never their values, which may identify the patient;
- Type 2 attributes of the object's modules are added empty when absent,
  Type 2C ones where their condition can be evaluated from the object;
- Type 1 attributes that cannot be made up (an MR scanning sequence, PET
  units) are reported by :func:`missing_type1` so the builder can say which
  override supplies them.

The tables cover the modules of the objects the builders make or copy
(classic and enhanced CT, MR and PET, and the modules every composite
object shares); they are from PS3.3 and deliberately small.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from collections.abc import Iterable

from pydicom import config
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    EnhancedMRImageStorage,
    EnhancedPETImageStorage,
    LegacyConvertedEnhancedCTImageStorage,
    LegacyConvertedEnhancedMRImageStorage,
    LegacyConvertedEnhancedPETImageStorage,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
)
from pydicom.valuerep import validate_value

__all__ = [
    "clean",
    "conform",
    "fill_type2",
    "header_copies",
    "missing_type1",
    "type1_dates",
    "warn_cleaned",
]

logger = logging.getLogger(__name__)

# Patient, General Study and General Equipment: Type 2 in every composite IOD.
_COMMON_TYPE2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "Manufacturer",
)
# General Series, General Image, Frame of Reference, Image Plane.
_IMAGE_TYPE2 = ("SeriesNumber", "InstanceNumber")
_PLANE_TYPE2 = ("SliceThickness",)
_CT_TYPE2 = ("KVP", "AcquisitionNumber")
_MR_TYPE2 = ("ScanOptions", "MRAcquisitionType", "EchoTime", "EchoTrainLength")
_PT_TYPE2 = (
    "CorrectedImage",
    "CollimatorType",
    "RadiopharmaceuticalInformationSequence",
    "PatientOrientationCodeSequence",
    "PatientGantryRelationshipCodeSequence",
    "AcquisitionDate",
    "AcquisitionTime",
    "ActualFrameDuration",
)
_ENHANCED = {
    EnhancedCTImageStorage,
    EnhancedMRImageStorage,
    EnhancedPETImageStorage,
    LegacyConvertedEnhancedCTImageStorage,
    LegacyConvertedEnhancedMRImageStorage,
    LegacyConvertedEnhancedPETImageStorage,
}
_TYPE2_BY_CLASS: dict[str, tuple[str, ...]] = {
    CTImageStorage: _IMAGE_TYPE2 + _PLANE_TYPE2 + _CT_TYPE2,
    MRImageStorage: _IMAGE_TYPE2 + _PLANE_TYPE2 + _MR_TYPE2,
    PositronEmissionTomographyImageStorage: _IMAGE_TYPE2 + _PLANE_TYPE2 + _PT_TYPE2,
    **{uid: ("SeriesNumber", "InstanceNumber", "AcquisitionContextSequence") for uid in _ENHANCED},
}
# Type 1 attributes of the classic modality modules that only the scanner
# knows; a derived image cannot be valid without them.
_TYPE1_BY_CLASS: dict[str, tuple[str, ...]] = {
    MRImageStorage: ("ScanningSequence", "SequenceVariant"),
    PositronEmissionTomographyImageStorage: (
        "SeriesDate",
        "SeriesTime",
        "Units",
        "CountsSource",
        "SeriesType",
        "DecayCorrection",
        "FrameReferenceTime",
    ),
}
# Enumerated values (PS3.3) a validator rejects; other values are cleaned.
_ENUMERATED = {
    "PatientSex": {"M", "F", "O"},
    "Laterality": {"R", "L"},
    "ImageLaterality": {"R", "L", "U", "B"},
}
# Body parts (CID 4031 terms) that come in pairs, for the Laterality condition.
_PAIRED = {
    "ANKLE", "ARM", "BREAST", "CLAVICLE", "ELBOW", "EXTREMITY", "EYE", "FEMUR", "FINGER",
    "FOOT", "FOREARM", "HAND", "HIP", "HUMERUS", "KIDNEY", "KNEE", "LEG", "LOWER LIMB",
    "OVARY", "SCAPULA", "SHOULDER", "TESTIS", "THUMB", "TOE", "UPPER LIMB", "WRIST",
}  # fmt: skip
_SEX_WORDS = {"MALE": "M", "FEMALE": "F", "OTHER": "O"}
_TEXT_LIMITS = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "ST": 1024, "LT": 10240, "UT": 2**32 - 2}
# UIDs are identity: an odd one is kept as it is, never altered or removed.
_VALIDATED = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM"}


def conform(datasets: Iterable[Dataset], what: str) -> None:
    """Clean invalid values and add absent Type 2 / 2C attributes, in place.

    ``what`` names the result in the single warning logged when something
    had to be cleaned or dropped.
    """
    datasets = list(datasets)
    clean(datasets, what)
    for ds in datasets:
        fill_type2(ds)


def header_copies(sources: Iterable[Dataset], what: str) -> list[Dataset]:
    """Cleaned, completed copies of the references' headers (no pixel data).

    highdicom copies patient and study attributes from the references and
    refuses invalid or missing ones; it is given these copies instead, and
    the caller's datasets stay untouched.
    """
    copies = []
    for source in sources:
        header = Dataset()
        for element in source:
            if element.tag != 0x7FE00010:
                header.add(copy.deepcopy(element))
        copies.append(header)
    conform(copies, what)
    return copies


def clean(
    datasets: Iterable[Dataset], what: str, found: tuple[set[str], set[str]] | None = None
) -> None:
    """Clean or drop invalid values in place, with one warning naming them.

    With ``found`` (cleaned, dropped), the names are added to it and the
    caller warns once for many calls with :func:`warn_cleaned`.
    """
    cleaned, dropped = found if found is not None else (set(), set())
    for ds in datasets:
        _clean(ds, cleaned, dropped)
    if found is None:
        warn_cleaned(what, cleaned, dropped)


def warn_cleaned(what: str, cleaned: set[str], dropped: set[str]) -> None:
    """Log which attributes had invalid values (names only: values may identify)."""
    if cleaned or dropped:
        logger.warning(
            "%s: invalid values copied from the source were cleaned (%s) or dropped (%s)",
            what,
            sorted(cleaned) or "none",
            sorted(dropped) or "none",
        )


def missing_type1(ds: Dataset) -> list[str]:
    """The modality module's Type 1 attributes ``ds`` lacks or leaves empty."""
    needed = _TYPE1_BY_CLASS.get(str(ds.get("SOPClassUID", "")), ())
    return [keyword for keyword in needed if ds.get(keyword) in (None, "")]


def type1_dates(ds: Dataset) -> tuple[str, ...]:
    """Dates and times that are Type 1 in ``ds``'s IOD (de-identified with a dummy)."""
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class in _ENHANCED:
        # Multi-frame Functional Groups module: ContentDate/Time are Type 1.
        return ("ContentDate", "ContentTime")
    if sop_class == PositronEmissionTomographyImageStorage:
        return ("SeriesDate", "SeriesTime")  # PET Series module
    return ()


def fill_type2(ds: Dataset) -> None:
    """Add the Type 2 and evaluable Type 2C attributes ``ds`` lacks, empty."""
    sop_class = str(ds.get("SOPClassUID", ""))
    for keyword in _COMMON_TYPE2 + _TYPE2_BY_CLASS.get(sop_class, ()):
        if keyword not in ds:
            setattr(ds, keyword, DicomSequence([]) if keyword.endswith("Sequence") else None)
    if "FrameOfReferenceUID" in ds and "PositionReferenceIndicator" not in ds:
        ds.PositionReferenceIndicator = None
    if sop_class not in _TYPE2_BY_CLASS:
        return
    # General Series, Type 2C. Laterality: required for a paired body part
    # unless the image (or, in a multi-frame object, the frame anatomy)
    # states its own laterality, and forbidden otherwise. Without a body
    # part nobody can tell, so state "unknown" (empty).
    part = str(ds.get("BodyPartExamined") or "")
    shared = (ds.get("SharedFunctionalGroupsSequence") or [Dataset()])[0]
    stated = "ImageLaterality" in ds or "FrameAnatomySequence" in shared
    if "Laterality" not in ds and not stated and part in _PAIRED | {""}:
        ds.Laterality = None
    if sop_class in _ENHANCED:
        return
    # Patient Position: required for CT and MR without a patient orientation code.
    if (
        sop_class in (CTImageStorage, MRImageStorage)
        and "PatientPosition" not in ds
        and "PatientOrientationCodeSequence" not in ds
    ):
        ds.PatientPosition = None
    # MR Repetition Time: required except for echo-planar without segmented k-space.
    if sop_class == MRImageStorage and "RepetitionTime" not in ds:
        sequence = set(_values(ds.get("ScanningSequence")))
        variant = set(_values(ds.get("SequenceVariant")))
        if not (sequence == {"EP"} and "SK" not in variant):
            ds.RepetitionTime = None


def _values(value: object) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, MultiValue | list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _clean(ds: Dataset, cleaned: set[str], dropped: set[str]) -> None:
    for element in list(ds):
        if element.VR == "SQ":
            for item in element.value or []:
                _clean(item, cleaned, dropped)
            continue
        if element.VR not in _VALIDATED or element.value in (None, ""):
            continue
        name = element.keyword or str(element.tag)
        values = _values(element.value)
        fixed = [_fixed(element.VR, v, element.keyword) for v in values]
        if all(f == v for f, v in zip(fixed, values, strict=True)):
            continue
        if all(f is not None for f in fixed):
            element.value = fixed if len(fixed) > 1 else fixed[0]
            cleaned.add(name)
        else:
            # Removed; a Type 2 attribute comes back empty in _fill_type2.
            del ds[element.tag]
            dropped.add(name)


# The instances of a series share most values: each distinct one is checked once.
@functools.lru_cache(maxsize=8192)
def _fixed(vr: str, value: str, keyword: str) -> str | None:
    """``value`` if valid, else a cleaned valid value, else None."""
    if _valid(vr, value, keyword):
        return value
    candidate = _cleaned(vr, value, keyword)
    if candidate is not None and _valid(vr, candidate, keyword):
        return candidate
    return None


def _cleaned(vr: str, value: str, keyword: str) -> str | None:
    text = value.strip()
    if keyword == "PatientSex":
        return _SEX_WORDS.get(text.upper(), text.upper()[:1] if text else text)
    if vr == "CS":
        return re.sub(r"[^A-Z0-9 _]", "_", text.upper())[:16]
    if vr in ("DA", "TM", "DT"):
        # ACR-NEMA and many exporters write 2020.01.02 / 2020-01-02 / 12:00:00.
        return re.sub(r"[-.:/ ](?=\d)", "", text) if vr != "TM" else text.replace(":", "")
    if vr == "DS":
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            return None
        return _format_ds(number)
    if vr == "IS":
        try:
            number = float(text)
        except ValueError:
            return None
        return str(int(number)) if number.is_integer() and abs(number) < 2**31 else None
    if vr in _TEXT_LIMITS:
        return text[: _TEXT_LIMITS[vr]]
    return None


def _format_ds(number: float) -> str | None:
    for digits in range(12, 0, -1):
        text = f"{number:.{digits}g}"
        if len(text) <= 16:
            return text
    return None


def _valid(vr: str, value: str, keyword: str) -> bool:
    allowed = _ENUMERATED.get(keyword)
    if allowed is not None and value not in allowed:
        return False
    if vr == "PN":
        return _valid_pn(value)
    try:
        validate_value(vr, value, config.RAISE)
    except ValueError:
        return False
    return True


def _valid_pn(value: str) -> bool:
    # At most three component groups (alphabetic, ideographic, phonetic) of
    # at most five components each, 64 characters per group.
    groups = value.split("=")
    return len(groups) <= 3 and all(g.count("^") <= 4 and len(g) <= 64 for g in groups)
