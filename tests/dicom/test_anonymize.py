"""De-identification: nothing of the basic profile survives, UIDs stay consistent,
re-identification restores the originals."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import SecondaryCaptureImageStorage

from dcmnode.dicom import (
    BurnedInAnnotationError,
    Crosswalk,
    ReidentificationError,
    anonymize,
    anonymizing,
    derived_series,
)
from dcmnode.dicom.deid import STANDARD_ACTIONS
from dcmnode.grinders import Volume, VolumeGrinder
from dcmnode.testing.volumes import ct_series

from .conftest import Validator

MARK = "MARKER"
MARK_UID = "1.2.3.999."


def marker(vr: str, n: int) -> Any:
    """A recognisable identifying value for an element of this VR."""
    text = {"PN": f"Marker^N{n}", "DA": "20010203", "TM": "101010", "DT": "20010203101010",
            "UI": f"{MARK_UID}{n}", "AS": "045Y", "IS": "7", "DS": "7.5"}
    if vr in text:
        return text[vr]
    if vr in ("LO", "SH", "LT", "ST", "UT", "UC", "CS", "AE", "UR"):
        return f"{MARK}{n}"
    if vr in ("OB", "OW", "UN"):
        return MARK.encode() * 2
    if vr == "SQ":
        item = Dataset()
        item.CodeMeaning = f"{MARK}SQ{n}"
        item.PersonName = f"Marker^Sq{n}"
        return DicomSequence([item])
    return None  # numbers, tags: nothing textual to leak


def fully_loaded_ct() -> list[Dataset]:
    """A CT series carrying every attribute of Table E.1-1 with a marker value."""
    series = ct_series(patient_id="MARKERPID", patient_name="Marker^Patient")
    for ds in series:
        for n, keyword in enumerate(STANDARD_ACTIONS):
            tag = tag_for_keyword(keyword)
            if tag is None or tag >> 16 == 0x0002 or keyword in ("SOPInstanceUID",):
                continue
            if keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
                continue  # keep the series coherent; checked separately
            vr = dictionary_VR(tag).split(" or ")[0]
            value = marker(vr, n)
            if value is not None:
                ds.add_new(tag, vr, value)
        ds.add_new(0x00091010, "LO", f"{MARK}PRIVATE")  # a private element
        ds.add_new(0x00090010, "LO", "MARKER CREATOR")
    return series


def values(ds: Dataset) -> Iterator[tuple[str, Any]]:
    for element in ds:
        if element.VR == "SQ":
            for item in element.value:
                yield from values(item)
        else:
            yield element.keyword or str(element.tag), element.value


def test_no_basic_profile_attribute_survives() -> None:
    originals = fully_loaded_ct()
    anonymized = anonymize(originals)
    for ds in anonymized:
        for keyword, value in values(ds):
            text = str(value)
            assert MARK not in text.upper(), f"{keyword} still holds {text!r}"
            assert not text.startswith(MARK_UID), f"{keyword} kept UID {text!r}"
        for keyword, action in STANDARD_ACTIONS.items():
            if action == "X":
                assert keyword not in ds, f"{keyword} (X) survived"
        assert not any(element.tag.is_private for element in ds)
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"


def test_uids_are_new_and_consistent_across_two_series_of_one_patient(tmp_path: Path) -> None:
    first = ct_series(patient_id="P1")
    second = ct_series(patient_id="P1", study_instance_uid=first[0].StudyInstanceUID,
                       frame_of_reference_uid=first[0].FrameOfReferenceUID, series_number=2)
    crosswalk = Crosswalk()
    a = anonymize(first, crosswalk)
    crosswalk.save(tmp_path / "crosswalk.json")
    # A later job in another process: the crosswalk comes from its file.
    b = anonymize(second, Crosswalk.load(tmp_path / "crosswalk.json"))
    assert a[0].StudyInstanceUID == b[0].StudyInstanceUID != first[0].StudyInstanceUID
    assert a[0].FrameOfReferenceUID == b[0].FrameOfReferenceUID != first[0].FrameOfReferenceUID
    assert a[0].SeriesInstanceUID != b[0].SeriesInstanceUID
    assert a[0].PatientID == b[0].PatientID != "P1"
    assert len({str(ds.SOPInstanceUID) for ds in a + b}) == 16
    assert all(ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID for ds in a)
    # The same original always gets the same replacement.
    again = anonymize(first[:1], Crosswalk(crosswalk.secret))
    assert again[0].SOPInstanceUID == a[0].SOPInstanceUID


def test_different_patients_get_different_pseudonyms() -> None:
    crosswalk = Crosswalk()
    a = anonymize(ct_series(patient_id="P1")[:1], crosswalk)
    b = anonymize(ct_series(patient_id="P2")[:1], crosswalk)
    assert a[0].PatientID != b[0].PatientID


def test_reidentification_restores_the_originals() -> None:
    originals = ct_series(patient_id="P7", patient_name="Doe^Jane")
    crosswalk = Crosswalk()
    restored = crosswalk.reidentify(anonymize(originals, crosswalk))
    for before, after in zip(originals, restored, strict=True):
        for keyword in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID",
                        "FrameOfReferenceUID", "PatientID", "PatientName", "PatientBirthDate",
                        "PatientSex", "StudyDate", "StudyTime", "AccessionNumber",
                        "ReferringPhysicianName", "StudyID", "PatientWeight", "PatientAge"):
            assert after[keyword].value == before[keyword].value, keyword
        assert "PatientIdentityRemoved" not in after
        assert after.file_meta.MediaStorageSOPInstanceUID == before.SOPInstanceUID


def test_results_made_from_anonymised_inputs_are_reidentified() -> None:
    originals = ct_series(patient_id="P8", shuffle=True)
    crosswalk = Crosswalk()
    volume = anonymizing(VolumeGrinder(), crosswalk)(originals)
    assert volume.datasets[0].PatientID != "P8"
    result = derived_series(volume.array, volume, series_description="Result", series_number=9)
    back = crosswalk.reidentify(result)
    source_uids = {str(ds.SOPInstanceUID) for ds in originals}
    for ds in back:
        assert ds.PatientID == "P8" and ds.StudyInstanceUID == originals[0].StudyInstanceUID
        assert ds.FrameOfReferenceUID == originals[0].FrameOfReferenceUID
        assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID in source_uids
        assert ds.SOPInstanceUID not in source_uids  # a new instance keeps its own UID
    with pytest.raises(ReidentificationError, match="not anonymised with this crosswalk"):
        Crosswalk().reidentify(result)


def test_dates_shift_consistently_per_patient() -> None:
    first = ct_series(patient_id="P3")
    later = ct_series(patient_id="P3")
    for ds in later:
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240401"  # 18 days later
    crosswalk = Crosswalk()
    a = anonymize(first, crosswalk, shift_dates=True)
    b = anonymize(later, crosswalk, shift_dates=True)
    import datetime

    def day(text: str) -> datetime.date:
        return datetime.datetime.strptime(text, "%Y%m%d").date()

    assert a[0].StudyDate != first[0].StudyDate
    assert (day(b[0].StudyDate) - day(a[0].StudyDate)).days == 18
    assert not a[0].PatientBirthDate
    assert a[0].LongitudinalTemporalInformationModified == "MODIFIED"
    plain = anonymize(first, crosswalk)
    assert not plain[0].StudyDate


def test_private_attributes_removed_unless_kept() -> None:
    ds = ct_series()[0]
    ds.add_new(0x00290010, "LO", "VENDOR")
    ds.add_new(0x00291001, "LO", "secret")
    assert not any(e.tag.is_private for e in anonymize([ds])[0])
    assert anonymize([ds], keep_private=True)[0][0x00291001].value == "secret"


def test_burned_in_annotation_is_flagged(caplog: pytest.LogCaptureFixture) -> None:
    ds = ct_series()[0]
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.BurnedInAnnotation = "YES"
    with caplog.at_level(logging.WARNING):
        anonymize([ds])
    assert "has burned-in annotation" in caplog.text
    with pytest.raises(BurnedInAnnotationError):
        anonymize([ds], reject_burned_in=True)
    del ds.BurnedInAnnotation  # unknown for a secondary capture: still flagged
    with pytest.raises(BurnedInAnnotationError, match="may have"):
        anonymize([ds], reject_burned_in=True)


def test_originals_are_untouched_and_output_is_valid(dciodvfy: Validator) -> None:
    originals = ct_series()
    before = [ds.to_json_dict() for ds in originals]
    anonymized = anonymize(originals, shift_dates=True)
    assert [ds.to_json_dict() for ds in originals] == before
    assert dciodvfy(anonymized[0]) == []
    np.testing.assert_array_equal(Volume.from_datasets(anonymized).array,
                                  Volume.from_datasets(originals).array)


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="profile"):
        anonymize(ct_series(), profile="strict")
    with pytest.raises(TypeError, match="pydicom Datasets"):
        anonymize(["not a dataset"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="hexadecimal"):
        Crosswalk("not hex")


def test_crosswalk_pickles_and_saves_privately(tmp_path: Path) -> None:
    import pickle

    crosswalk = Crosswalk()
    anonymized = anonymize(ct_series(patient_id="P9"), crosswalk)
    copy = pickle.loads(pickle.dumps(crosswalk))
    assert copy.reidentify(anonymized)[0].PatientID == "P9"
    path = tmp_path / "map.json"
    crosswalk.save(path)
    assert path.stat().st_mode & 0o077 == 0


def test_anonymizing_grinder_pickles_and_checks_arguments() -> None:
    import pickle

    grinder = pickle.loads(pickle.dumps(anonymizing(VolumeGrinder(), Crosswalk())))
    assert grinder(ct_series(patient_id="P5")).datasets[0].PatientID.startswith("ANON")
    with pytest.raises(TypeError, match="argument 'grinder' must be callable"):
        anonymizing(42, Crosswalk())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="argument 'crosswalk' must be a Crosswalk"):
        anonymizing(VolumeGrinder(), "map.json")  # type: ignore[arg-type]


def test_overlays_are_removed() -> None:
    ds = ct_series()[0]
    ds.add_new(0x60000010, "US", 16)
    ds.add_new(0x60000011, "US", 12)
    ds.add_new(0x60003000, "OW", b"\xff" * 24)
    ds.add_new(0x60004000, "LT", "Patient: Doe")
    assert not any(0x6000 <= e.tag.group <= 0x60FF for e in anonymize([ds])[0])


def test_crosswalk_is_consistent_under_concurrent_jobs(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    crosswalk = Crosswalk()
    series = [ct_series(patient_id="P1") for _ in range(4)]
    study = series[0][0].StudyInstanceUID
    for group in series:
        for ds in group:
            ds.StudyInstanceUID = study
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda s: anonymize(s, crosswalk), series))
        list(pool.map(lambda i: crosswalk.save(tmp_path / "map.json"), range(8)))
    assert len({ds.StudyInstanceUID for group in results for ds in group}) == 1
    assert len({ds.PatientID for group in results for ds in group}) == 1
    loaded = Crosswalk.load(tmp_path / "map.json")
    assert len(loaded) == len(crosswalk)
    assert list(tmp_path.iterdir()) == [tmp_path / "map.json"]  # no temporary left


def test_names_outside_the_table_are_emptied_too() -> None:
    ds = ct_series()[0]
    ds.SecondaryReviewerName = "Smith^Anna"  # not in Table E.1-1
    assert not anonymize([ds])[0].SecondaryReviewerName
