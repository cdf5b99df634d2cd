"""De-identification of datasets per the PS3.15 basic profile, reversibly."""

from __future__ import annotations

import copy
import datetime
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID

from .._conform import clean, fill_type2, type1_dates, warn_cleaned
from .crosswalk import Crosswalk, Pseudonym
from .profile import BASIC_PROFILE, PROFILE_VERSION

__all__ = [
    "PROFILES",
    "BurnedInAnnotationError",
    "anonymize",
    "anonymizing",
    "burned_in_annotation",
    "find_burned_in",
]

logger = logging.getLogger(__name__)

PROFILES = ("basic",)

# Modalities and classes whose pixels often carry text (screenshots,
# ultrasound, endoscopy, scanned documents) when BurnedInAnnotation is absent.
_RISKY_MODALITIES = {"US", "ES", "XC", "OT", "SC", "DOC", "GM", "SM"}
_SC_PREFIX = "1.2.840.10008.5.1.4.1.1.7"

_DUMMY = {
    "PN": "ANONYMOUS",
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "AS": "000Y",
    "IS": "0",
    "DS": "0",
    "CS": "ANONYMIZED",
}


class BurnedInAnnotationError(ValueError):
    """Pixels may show identifying text and ``reject_burned_in`` was set."""


def burned_in_annotation(ds: Dataset) -> bool | None:
    """Whether the pixels may show identifying text.

    True when BurnedInAnnotation is YES, False when it is NO or the object
    has no pixels, None (unknown, treat as risky) when the attribute is
    absent from a kind of image that often carries burned-in text.
    """
    flag = str(ds.get("BurnedInAnnotation", "")).upper()
    if flag in ("YES", "NO"):
        return flag == "YES"
    if "PixelData" not in ds and "EncapsulatedDocument" not in ds:
        return False
    risky = ds.get("Modality") in _RISKY_MODALITIES or str(ds.get("SOPClassUID", "")).startswith(
        _SC_PREFIX
    )
    return None if risky else False


def find_burned_in(datasets: Iterable[Dataset]) -> list[Dataset]:
    """The datasets whose pixels have, or may have, burned-in annotation."""
    return [ds for ds in datasets if burned_in_annotation(ds) is not False]


def anonymize(
    datasets: Iterable[Dataset],
    crosswalk: Crosswalk | None = None,
    *,
    profile: str = "basic",
    shift_dates: bool = False,
    keep_private: bool = False,
    reject_burned_in: bool = False,
) -> list[Dataset]:
    """De-identify copies of ``datasets`` per PS3.15 Annex E (basic profile).

    Parameters
    ----------
    datasets
        Instances to de-identify; they are not modified.
    crosswalk
        Supplies consistent pseudonyms and UIDs and records the originals for
        :meth:`Crosswalk.reidentify`. Pass the same crosswalk (or one loaded
        from its file) for every job so a patient keeps one pseudonym and a
        UID one replacement across series and jobs. A fresh one when omitted.
    profile
        ``"basic"``: Table E.1-1 basic profile (see ``dcmnode.dicom.deid.profile``).
    shift_dates
        Retain Longitudinal Temporal Information with Modified Dates Option:
        dates move by a per-patient number of days instead of being emptied,
        so intervals between a patient's studies survive. Birth date is
        always emptied.
    keep_private
        Keep private attributes (removed by default: their content is unknown).
    reject_burned_in
        Raise :class:`BurnedInAnnotationError` for instances whose pixels have
        or may have burned-in text; otherwise they are logged as a warning.
        The pixels themselves are never altered.

    Returns
    -------
    list of pydicom.Dataset
        De-identified copies with PatientIdentityRemoved = YES and the
        profile recorded in DeidentificationMethodCodeSequence.
    """
    if profile not in PROFILES:
        raise ValueError(f"argument 'profile' must be one of {PROFILES}, got {profile!r}")
    walk = crosswalk if crosswalk is not None else Crosswalk()
    results = []
    found: tuple[set[str], set[str]] = (set(), set())
    for original in datasets:
        if not isinstance(original, Dataset):
            raise TypeError(
                f"argument 'datasets' must hold pydicom Datasets, got {type(original).__name__}"
            )
        # Invalid values are cleaned first, so that the profile and the
        # crosswalk's record of the study work on valid ones.
        source = copy.deepcopy(original)
        clean([source], "anonymize", found)
        burned = burned_in_annotation(source)
        if burned is not False:
            message = (
                f"instance {source.get('SOPInstanceUID')} "
                f"{'has' if burned else 'may have'} burned-in annotation: "
                "identifying text in the pixels is not removed"
            )
            if reject_burned_in:
                raise BurnedInAnnotationError(message)
            logger.warning(message)
        results.append(_anonymize_one(source, walk, shift_dates, keep_private))
    warn_cleaned("anonymize", *found)
    for ds in results:
        # The profile removes attributes, and sources lack some: the copies
        # must still be valid objects.
        fill_type2(ds)
    return results


class anonymizing:  # noqa: N801 - used like a function: grinder = anonymizing(inner, cw)
    """Wrap a grinder so it receives de-identified datasets.

    Use as an input's grinder, and re-identify results with
    ``crosswalk.reidentify(results)`` before they are exported. The wrapper
    pickles (the crosswalk travels with it), so it can run in another
    process; mappings made there come back only through a saved crosswalk
    file, so re-identify in the process that anonymised, or share the file.

    Parameters
    ----------
    grinder
        The grinder that receives the anonymised datasets.
    crosswalk
        Where pseudonyms and UID mappings are kept.
    **options
        Passed to :func:`anonymize` (``shift_dates``, ``keep_private`` …).
    """

    def __init__(
        self, grinder: Callable[[Sequence[Dataset]], Any], crosswalk: Crosswalk, **options: Any
    ) -> None:
        if not callable(grinder):
            raise TypeError(f"argument 'grinder' must be callable, got {grinder!r}")
        if not isinstance(crosswalk, Crosswalk):
            raise TypeError(
                f"argument 'crosswalk' must be a Crosswalk, got {type(crosswalk).__name__}"
            )
        self.grinder = grinder
        self.crosswalk = crosswalk
        self.options = options

    def __call__(self, datasets: Sequence[Dataset]) -> Any:
        return self.grinder(anonymize(datasets, self.crosswalk, **self.options))

    def __repr__(self) -> str:
        return f"anonymizing({self.grinder!r}, {self.crosswalk!r})"


def _anonymize_one(
    source: Dataset, walk: Crosswalk, shift_dates: bool, keep_private: bool
) -> Dataset:
    ds = copy.deepcopy(source)
    pseudonym = walk.pseudonym(str(source.get("PatientID", "")))
    context = _Context(walk, pseudonym, shift_dates, keep_private)
    context.clean(ds)
    for keyword in type1_dates(ds):
        # Z/D in Table E.1-1: a dummy where the IOD makes the attribute Type 1.
        if source.get(keyword) and not ds.get(keyword):
            setattr(ds, keyword, _DUMMY["DA" if keyword.endswith("Date") else "TM"])
    if "StudyInstanceUID" in ds:
        walk.remember_study(str(ds.StudyInstanceUID), source)
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "MODIFIED" if shift_dates else "REMOVED"
    ds.DeidentificationMethod = (
        "dcmnode " + PROFILE_VERSION + (", dates shifted" if shift_dates else "")
    )
    codes = [("113100", "Basic Application Confidentiality Profile")]
    if shift_dates:
        codes.append(("113107", "Retain Longitudinal Temporal Information Modified Dates Option"))
    ds.DeidentificationMethodCodeSequence = DicomSequence([_code(v, m) for v, m in codes])
    if hasattr(source, "file_meta"):
        meta = copy.deepcopy(source.file_meta)
        for keyword in (
            "SourceApplicationEntityTitle",
            "SendingApplicationEntityTitle",
            "ReceivingApplicationEntityTitle",
            "PrivateInformation",
            "PrivateInformationCreatorUID",
        ):
            if keyword in meta:
                del meta[keyword]
        if "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta = meta
    return ds


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


class _Context:
    """One instance's walk through its elements, items included."""

    def __init__(
        self, walk: Crosswalk, pseudonym: Pseudonym, shift_dates: bool, keep_private: bool
    ) -> None:
        self.walk = walk
        self.pseudonym = pseudonym
        self.shift_dates = shift_dates
        self.keep_private = keep_private

    def clean(self, ds: Dataset) -> None:
        for element in list(ds):
            tag = element.tag
            if tag.is_private:
                if not self.keep_private:
                    del ds[tag]
                continue
            if 0x5000 <= tag.group <= 0x50FF or 0x6000 <= tag.group <= 0x60FF:
                # Curves, overlay data and overlay comments are X in Table
                # E.1-1; the whole overlay group goes, since an overlay module
                # without its data would no longer be valid.
                del ds[tag]
                continue
            self.apply(ds, element, BASIC_PROFILE.get(int(tag)))

    def apply(self, ds: Dataset, element: DataElement, action: str | None) -> None:
        vr = element.VR
        if action == "X":
            del ds[element.tag]
        elif action == "U" or (action is None and vr == "UI"):
            self.replace_uids(element)
        elif action is None:
            if vr == "SQ":
                for item in element.value:
                    self.clean(item)
            elif vr == "PN":
                # Safety net beyond the table: a person's name in an attribute
                # the table does not list (or that is newer than it) goes too.
                element.value = None
            elif self.shift_dates and vr in ("DA", "DT"):
                element.value = self.shift(element.value, vr)
        elif element.keyword == "PatientID":
            element.value = self.pseudonym.patient_id
        elif element.keyword == "PatientName":
            element.value = self.pseudonym.patient_name
        elif self.shift_dates and vr in ("DA", "DT") and element.keyword != "PatientBirthDate":
            element.value = self.shift(element.value, vr)
        elif vr == "SQ":
            element.value = DicomSequence([])  # D/Z on a sequence: no items left
        elif action == "D" and element.value not in (None, ""):
            element.value = _DUMMY.get(vr, "ANONYMIZED")
        else:
            element.value = None if vr not in ("OB", "OW", "UN") else b""

    def replace_uids(self, element: DataElement) -> None:
        if element.VR == "SQ":
            # X/Z/U* sequences (e.g. SourceImageSequence): keep the references
            # with remapped UIDs and drop anything else an item may carry.
            for item in element.value:
                for inner in list(item):
                    if not _is_reference(inner.keyword):
                        del item[inner.tag]
                self.clean(item)
            return
        if not element.value:
            return
        values = list(element.value) if element.VM > 1 else [element.value]
        mapped = [str(v) if _registered(str(v)) else self.walk.uid(str(v)) for v in values]
        element.value = mapped if element.VM > 1 else mapped[0]

    def shift(self, value: Any, vr: str) -> Any:
        if not value:
            return value
        values = (
            list(value)
            if not isinstance(value, str | bytes) and hasattr(value, "__iter__")
            else [value]
        )
        shifted = [_shift_one(str(v), vr, self.pseudonym.date_shift_days) for v in values]
        return shifted if len(shifted) > 1 else shifted[0]


def _registered(uid: str) -> bool:
    # Class, transfer syntax and coding scheme UIDs from PS3.6 identify no one.
    return UID(uid).name != uid


def _is_reference(keyword: str) -> bool:
    return keyword.startswith("Referenced") or keyword in (
        "PurposeOfReferenceCodeSequence",
        "SpatialLocationsPreserved",
    )


def _shift_one(text: str, vr: str, days: int) -> str:
    if len(text) < 8 or not text[:8].isdigit():
        return ""  # a date we cannot parse could still identify: empty it
    try:
        moved = datetime.date(int(text[:4]), int(text[4:6]), int(text[6:8])) + datetime.timedelta(
            days=days
        )
    except ValueError:
        return ""
    return moved.strftime("%Y%m%d") + (text[8:] if vr == "DT" else "")
