"""Derived series: geometry and values survive series → Volume → series → Volume."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from dcmnode.dicom import derived_series, pixel_encoding
from dcmnode.grinders import Volume
from dcmnode.testing.volumes import ct_series

from .conftest import Validator


def test_round_trip_keeps_geometry_and_integer_values(ct: list[Dataset], ct_volume: Volume,
                                                      dciodvfy: Validator) -> None:
    result = derived_series(ct_volume.array - 100, ct_volume, series_description="Shifted",
                            series_number=101)
    again = Volume.from_datasets(result)
    np.testing.assert_array_equal(again.array, ct_volume.array - 100)
    np.testing.assert_allclose(again.affine, ct_volume.affine, atol=1e-5)
    assert dciodvfy(result[0]) == []
    assert dciodvfy(result[-1]) == []


def test_round_trip_of_float_values_uses_a_rescale(ct_volume: Volume) -> None:
    values = ct_volume.array.astype(np.float64) / 7.0
    result = derived_series(values, ct_volume, series_description="Scaled", series_number=102)
    assert float(result[0].RescaleSlope) != 1.0
    again = Volume.from_datasets(result)
    step = (values.max() - values.min()) / 65535
    np.testing.assert_allclose(again.array, values, atol=step)
    np.testing.assert_allclose(again.affine, ct_volume.affine, atol=1e-5)


def test_tilted_geometry_survives_the_round_trip() -> None:
    volume = Volume.from_datasets(ct_series(gantry_tilt=10.0, shuffle=True))
    again = Volume.from_datasets(derived_series(volume, volume.datasets,
                                                series_description="Tilted", series_number=5))
    np.testing.assert_allclose(again.affine, volume.affine, atol=1e-5)
    np.testing.assert_array_equal(again.array, volume.array)


def test_identity_modules_and_references(ct: list[Dataset], ct_volume: Volume) -> None:
    result = derived_series(ct_volume.array, ct, series_description="Copy", series_number=7,
                            window=(50, 350), derivation_description="identity")
    source_uids = {str(ds.SOPInstanceUID) for ds in ct}
    first = result[0]
    assert first.StudyInstanceUID == ct[0].StudyInstanceUID
    assert first.PatientID == ct[0].PatientID and first.PatientName == ct[0].PatientName
    assert first.FrameOfReferenceUID == ct[0].FrameOfReferenceUID
    assert first.SeriesInstanceUID != ct[0].SeriesInstanceUID
    assert len({str(ds.SeriesInstanceUID) for ds in result}) == 1
    assert not source_uids & {str(ds.SOPInstanceUID) for ds in result}
    assert first.SeriesDescription == "Copy" and int(first.SeriesNumber) == 7
    assert list(first.ImageType[:2]) == ["DERIVED", "SECONDARY"]
    assert (float(first.WindowCenter), float(first.WindowWidth)) == (50, 350)
    assert first.DerivationDescription == "identity"
    for k, ds in enumerate(result):
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == ct_volume.frame_numbers[k][0]


def test_overrides_are_applied_and_checked(ct_volume: Volume) -> None:
    result = derived_series(ct_volume.array, ct_volume, series_description="x", series_number=1,
                            BodyPartExamined="HEAD", InstitutionName=None)
    assert all(ds.BodyPartExamined == "HEAD" and "InstitutionName" not in ds for ds in result)
    with pytest.raises(ValueError, match="unknown DICOM keywords"):
        derived_series(ct_volume.array, ct_volume, series_description="x", series_number=1,
                       NotAKeyword=1)


def test_arguments_are_checked(ct_volume: Volume) -> None:
    with pytest.raises(ValueError, match="shape"):
        derived_series(np.zeros((2, 2, 2)), ct_volume, series_description="x", series_number=1)
    with pytest.raises(TypeError, match="series_number"):
        derived_series(ct_volume.array, ct_volume, series_description="x",
                       series_number="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="series_description"):
        derived_series(ct_volume.array, ct_volume, series_description="x" * 65, series_number=1)
    with pytest.raises(ValueError, match="NaN"):
        derived_series(ct_volume.array * np.nan, ct_volume, series_description="x",
                       series_number=1)
    with pytest.raises(ValueError, match="argument 'reference' must hold at least one dataset"):
        derived_series(ct_volume.array, [], series_description="x", series_number=1)


def test_pixel_encoding_choices() -> None:
    assert pixel_encoding(np.array([0, 4000])).signed is False
    assert pixel_encoding(np.array([-1024, 3000])).signed is True
    assert pixel_encoding(np.array([0, 60000])).slope == 1.0
    wide = pixel_encoding(np.array([-1.5, 2.25]))
    assert wide.slope == pytest.approx(3.75 / 65535) and wide.intercept == -1.5
    np.testing.assert_allclose(wide.encode(np.array([-1.5, 2.25])) * wide.slope + wide.intercept,
                               [-1.5, 2.25])


def test_mr_reference_from_pydicom(dciodvfy: Validator) -> None:
    import pydicom
    from pydicom.data import get_testdata_file

    mr = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    volume = Volume.from_datasets([mr])
    result = derived_series(volume.array // 2, volume, series_description="MR half",
                            series_number=3)
    assert "RescaleSlope" not in result[0]  # integers need no Modality LUT in MR
    assert dciodvfy(result[0]) == []
    again = Volume.from_datasets(result)
    np.testing.assert_array_equal(again.array, volume.array // 2)
    np.testing.assert_allclose(again.affine, volume.affine, atol=1e-5)


def test_a_cropped_volume_is_written_on_its_own_grid(ct_volume: Volume,
                                                     dciodvfy: Validator) -> None:
    shift = np.eye(4)
    shift[:3, 3] = (2, 4, 3)  # start at slice 2, row 4, column 3
    crop = Volume(ct_volume.array[2:6, 4:10, 3:9].copy(), ct_volume.affine @ shift)
    result = derived_series(crop, ct_volume, series_description="Crop", series_number=8)
    assert len(result) == 4 and (int(result[0].Rows), int(result[0].Columns)) == (6, 6)
    assert "SourceImageSequence" not in result[0]  # not the source grid: no 1:1 sources
    assert dciodvfy(result[0]) == []
    again = Volume.from_datasets(result)
    np.testing.assert_array_equal(again.array, crop.array)
    np.testing.assert_allclose(again.world_coordinates(np.array([0, 0, 0])),
                               ct_volume.world_coordinates(np.array([2, 4, 3])), atol=1e-5)
    np.testing.assert_allclose(again.affine, crop.affine, atol=1e-5)


def test_an_enhanced_multiframe_reference_gives_classic_images(dciodvfy: Validator) -> None:
    from pydicom.uid import CTImageStorage, LegacyConvertedEnhancedCTImageStorage

    from .cases import enhanced_ct

    (enhanced,) = enhanced_ct()
    volume = Volume.from_datasets([enhanced])
    result = derived_series(volume.array - 10, volume, series_description="From enhanced")
    assert {ds.SOPClassUID for ds in result} == {CTImageStorage}
    assert enhanced.SOPClassUID == LegacyConvertedEnhancedCTImageStorage  # source untouched
    assert float(result[0].KVP) == 120  # from the functional groups
    again = Volume.from_datasets(result)
    np.testing.assert_array_equal(again.array, volume.array - 10)
    np.testing.assert_allclose(again.affine, volume.affine, atol=1e-5)
    for k, ds in enumerate(result):
        item = ds.SourceImageSequence[0]
        assert item.ReferencedSOPInstanceUID == enhanced.SOPInstanceUID
        assert int(item.ReferencedFrameNumber) == volume.frame_numbers[k][1]
    assert dciodvfy(result[0]) == [] and dciodvfy(result[-1]) == []
