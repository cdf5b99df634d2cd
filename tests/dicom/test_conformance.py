"""Every builder's output passes dciodvfy, whatever its reference lacks or gets wrong."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from dcmnode.dicom import derived_series
from dcmnode.grinders import Volume
from dcmnode.testing import series
from dcmnode.testing.volumes import ct_series

from .cases import BUILDERS, SOURCES, Builder, invalid
from .conftest import Validator


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("builder", BUILDERS, ids=[b.name for b in BUILDERS])
def test_every_builder_makes_valid_objects_from_every_source(
        builder: Builder, source: str, dciodvfy: Validator) -> None:
    sources = SOURCES[source]()
    if source in builder.refuses:
        with pytest.raises(ValueError, match="argument 'reference'"):
            builder.build(sources)
        return
    results = builder.build(sources)
    assert results
    # First and last instance: a series' instances share every module but
    # position and pixels, and validating all of them would only cost time.
    for ds in {id(ds): ds for ds in (results[0], results[-1])}.values():
        assert dciodvfy(ds) == [], f"{builder.name} from {source}"


@pytest.mark.parametrize("modality", ["CT", "MR", "PT"])
def test_synthetic_series_are_valid(modality: str, dciodvfy: Validator) -> None:
    made = series(count=3, modality=modality)
    assert dciodvfy(made[0]) == []
    assert dciodvfy(made[-1]) == []


def test_ct_series_is_valid(dciodvfy: Validator) -> None:
    assert dciodvfy(ct_series(gantry_tilt=10.0)[0]) == []


def test_invalid_values_are_cleaned_or_dropped_with_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    volume = Volume.from_datasets(invalid(ct_series()))
    with caplog.at_level(logging.WARNING, logger="dcmnode.dicom"):
        result = derived_series(volume.array, volume, series_description="x")
    first = result[0]
    assert first.StudyDate == "20200102" and first.StudyTime == "1200"  # separators removed
    assert first.PatientSex == "M" and first.BodyPartExamined == "CHEST"
    assert first.KVP == "120" and len(first.InstitutionName) == 64
    for keyword in ("PatientBirthDate", "AcquisitionNumber"):
        assert keyword in first and not first[keyword].value  # Type 2: present, empty
    assert "PatientWeight" not in first  # Type 3: removed
    assert "Laterality" not in first  # 2C, and the chest is not a paired body part
    warnings = [r.getMessage() for r in caplog.records if "invalid values" in r.getMessage()]
    assert len(warnings) == 1  # one per result, not one per slice
    assert "PatientBirthDate" in warnings[0] and "PatientSex" in warnings[0]
    # Attribute names only: the values may identify the patient.
    assert not any(value in warnings[0] for value in ("Male", "19701350", "seventy"))


def test_missing_type1_attributes_are_named_with_the_way_to_supply_them(
        caplog: pytest.LogCaptureFixture, dciodvfy: Validator) -> None:
    mr = series(count=2, modality="MR")
    for ds in mr:
        del ds.ScanningSequence, ds.SequenceVariant
    volume = Volume.from_datasets(mr)
    with caplog.at_level(logging.WARNING, logger="dcmnode.dicom"):
        derived_series(volume.array, volume, series_description="x")
    assert any("ScanningSequence" in r.getMessage() and "keyword arguments" in r.getMessage()
               for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dcmnode.dicom"):
        fixed = derived_series(volume.array, volume, series_description="x",
                               ScanningSequence="GR", SequenceVariant="NONE")
    assert not [r for r in caplog.records if "Type 1" in r.getMessage()]
    assert dciodvfy(fixed[0]) == []


def test_derived_pet_restates_its_own_slice_indices(dciodvfy: Validator) -> None:
    volume = Volume.from_datasets(series(count=6, modality="PT"))
    crop = Volume(volume.array[1:4], volume.affine @ _shift(1))
    result = derived_series(crop, volume, series_description="crop")
    assert [int(ds.ImageIndex) for ds in result] == [1, 2, 3]
    assert {int(ds.NumberOfSlices) for ds in result} == {3}
    assert list(result[0].ImageType[:2]) == ["DERIVED", "PRIMARY"]  # PET allows only PRIMARY
    assert dciodvfy(result[1]) == []


def test_anonymized_enhanced_keeps_type1_dates_as_dummies(dciodvfy: Validator) -> None:
    from dcmnode.dicom import anonymize

    from .cases import enhanced_ct

    source = enhanced_ct()
    (copy,) = anonymize(source)
    assert copy.ContentDate == "19000101" and copy.ContentTime == "000000"
    assert copy.AcquisitionContextSequence is not None and len(copy.AcquisitionContextSequence) == 0
    assert dciodvfy(copy) == []


def _shift(slices: int) -> np.ndarray:
    shift = np.eye(4)
    shift[0, 3] = slices
    return shift

