"""Volume from synthetic series: order, geometry, rescale and refusals."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from dcmnode.grinders import (
    InconsistentGeometryError,
    MissingSliceError,
    MixedSeriesError,
    NonUniformSpacingError,
    Volume,
    VolumeGrinder,
)
from dcmnode.testing.volumes import ct_series, default_ct_array

from .conftest import corners, expected_world

SPACING = (2.5, 0.8, 0.7)
ORIGIN = (-100.0, -80.0, 50.0)


def check_corners(volume: Volume, **geometry: object) -> None:
    for index in corners(volume.shape):
        expected = expected_world(index, **geometry)  # type: ignore[arg-type]
        np.testing.assert_allclose(volume.world_coordinates(np.array(index)), expected, atol=1e-4)


def test_shuffled_series_is_ordered_by_position_not_arrival() -> None:
    datasets = ct_series(shuffle=True, seed=3)
    assert [int(ds.InstanceNumber) for ds in datasets] != sorted(
        int(ds.InstanceNumber) for ds in datasets)
    volume = Volume.from_datasets(datasets)
    np.testing.assert_array_equal(volume.array, default_ct_array())
    check_corners(volume, origin=ORIGIN, row_direction=(1, 0, 0), column_direction=(0, 1, 0),
                  spacing=SPACING)
    assert volume.spacing == pytest.approx(SPACING)
    assert volume.issues == ()


def test_order_ignores_misleading_instance_numbers() -> None:
    datasets = ct_series()
    for ds, number in zip(datasets, reversed(range(1, len(datasets) + 1)), strict=True):
        ds.InstanceNumber = number  # reversed numbering: feet-first export habits
    volume = Volume.from_datasets(datasets)
    np.testing.assert_array_equal(volume.array, default_ct_array())


def test_oblique_orientation() -> None:
    angle = np.radians(30)
    row = (np.cos(angle), np.sin(angle), 0.0)
    column = (0.0, 0.0, -1.0)  # a coronal-oblique plane
    volume = Volume.from_datasets(ct_series(row_direction=row, column_direction=column,
                                            shuffle=True))
    np.testing.assert_array_equal(volume.array, default_ct_array())
    check_corners(volume, origin=ORIGIN, row_direction=row, column_direction=column,
                  spacing=SPACING)
    np.testing.assert_allclose(volume.orientation, (*row, *column), atol=1e-9)


def test_gantry_tilt_is_reported_and_placed_exactly() -> None:
    volume = Volume.from_datasets(ct_series(gantry_tilt=12.0, shuffle=True))
    assert any("tilt" in issue for issue in volume.issues)
    check_corners(volume, origin=ORIGIN, row_direction=(1, 0, 0), column_direction=(0, 1, 0),
                  spacing=SPACING, gantry_tilt=12.0)
    assert volume.spacing[0] == pytest.approx(2.5)  # distance between planes


def test_nonuniform_spacing_is_refused_by_default_and_reported_when_allowed() -> None:
    offsets = [0.0, 2.0, 4.0, 7.0, 10.5, 12.0, 13.0, 16.2]
    datasets = ct_series(slice_positions=offsets, shuffle=True)
    with pytest.raises(NonUniformSpacingError, match="non-uniform slice spacing"):
        Volume.from_datasets(datasets)
    volume = Volume.from_datasets(datasets, allow_nonuniform=True)
    assert any("non-uniform" in issue for issue in volume.issues)
    assert not volume.is_uniform
    np.testing.assert_allclose(volume.slice_offsets - volume.slice_offsets[0], offsets)
    np.testing.assert_array_equal(volume.array, default_ct_array())
    for k in (0, 7):  # first and last slices sit exactly where the data says
        np.testing.assert_allclose(
            volume.position_of(k),
            expected_world((k, 0, 0), origin=ORIGIN, row_direction=(1, 0, 0),
                           column_direction=(0, 1, 0), spacing=SPACING, offsets=offsets),
            atol=1e-6)


def test_missing_slice_is_named() -> None:
    datasets = ct_series(shuffle=True)
    ordered = sorted(datasets, key=lambda ds: float(ds.ImagePositionPatient[2]))
    missing = ordered[4]
    datasets.remove(missing)
    with pytest.raises(MissingSliceError, match="1 slice"):
        Volume.from_datasets(datasets)


def test_mixed_series_is_refused() -> None:
    first = ct_series()
    second = ct_series(study_instance_uid=first[0].StudyInstanceUID,
                       frame_of_reference_uid=first[0].FrameOfReferenceUID)
    with pytest.raises(MixedSeriesError, match="SeriesInstanceUID"):
        Volume.from_datasets(first + second[:2])


def test_inconsistent_orientation_is_refused() -> None:
    datasets = ct_series()
    datasets[3].ImageOrientationPatient = [1, 0, 0, 0, 0.9, 0.43589]
    with pytest.raises(InconsistentGeometryError, match="ImageOrientationPatient"):
        Volume.from_datasets(datasets)


def test_inconsistent_pixel_spacing_and_size_are_refused() -> None:
    datasets = ct_series()
    datasets[2].PixelSpacing = [0.9, 0.7]
    with pytest.raises(InconsistentGeometryError, match="PixelSpacing"):
        Volume.from_datasets(datasets)
    datasets = ct_series()
    datasets[2].Rows = 15
    with pytest.raises(InconsistentGeometryError, match="Rows"):
        Volume.from_datasets(datasets)


def test_duplicate_positions_are_refused() -> None:
    datasets = ct_series()
    datasets[5].ImagePositionPatient = datasets[4].ImagePositionPatient
    with pytest.raises(InconsistentGeometryError, match="share the slice position"):
        Volume.from_datasets(datasets)


def test_positions_off_a_line_are_refused() -> None:
    datasets = ct_series()
    position = [float(v) for v in datasets[4].ImagePositionPatient]
    datasets[4].ImagePositionPatient = [position[0] + 5.0, position[1], position[2]]
    with pytest.raises(InconsistentGeometryError, match="not on one line"):
        Volume.from_datasets(datasets)


def test_empty_input_is_refused() -> None:
    with pytest.raises(InconsistentGeometryError, match="empty"):
        Volume.from_datasets([])


def test_rescale_dtype_rules() -> None:
    datasets = ct_series()
    assert Volume.from_datasets(datasets).array.dtype == np.int16  # integer slope/intercept
    for ds in datasets:
        ds.RescaleSlope = "0.5"
    halved = Volume.from_datasets(datasets)
    assert halved.array.dtype == np.float32
    np.testing.assert_allclose(halved.array, (default_ct_array() + 1024) * 0.5 - 1024)
    for ds in datasets:
        del ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType
    raw = Volume.from_datasets(datasets)
    assert raw.array.dtype == np.uint16  # no rescale: stored values as stored
    np.testing.assert_array_equal(raw.array, default_ct_array() + 1024)
    forced = Volume.from_datasets(ct_series(), dtype=np.float64)
    assert forced.array.dtype == np.float64


def test_per_slice_rescale_is_applied_per_slice() -> None:
    datasets = ct_series()
    datasets[2].RescaleIntercept = "-1000"
    volume = Volume.from_datasets(datasets)
    expected = default_ct_array().astype(np.int32)
    expected[2] += 24
    np.testing.assert_array_equal(volume.array, expected)


def test_single_slice_volume() -> None:
    volume = Volume.from_datasets(ct_series()[:1])
    assert volume.shape == (1, 16, 12)
    assert any("single slice" in issue for issue in volume.issues)
    assert volume.spacing[0] == pytest.approx(2.5)  # from SliceThickness


def test_volume_and_grinder_pickle() -> None:
    grinder = VolumeGrinder(allow_nonuniform=True)
    volume = pickle.loads(pickle.dumps(grinder))(ct_series())
    again = pickle.loads(pickle.dumps(volume))
    np.testing.assert_array_equal(again.array, volume.array)
    np.testing.assert_array_equal(again.affine, volume.affine)
    assert len(again.datasets) == 8
    assert again.frame_numbers == volume.frame_numbers


def test_grinder_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="spacing_tolerance"):
        VolumeGrinder(spacing_tolerance=2)


def test_with_array_keeps_geometry_and_checks_shape() -> None:
    volume = Volume.from_datasets(ct_series())
    mask = volume.with_array(volume.array > 0)
    np.testing.assert_array_equal(mask.affine, volume.affine)
    with pytest.raises(ValueError, match="does not match"):
        volume.with_array(np.zeros((2, 2, 2)))


def test_missing_slice_can_be_accepted_explicitly() -> None:
    datasets = ct_series()
    del datasets[4]
    volume = Volume.from_datasets(datasets, allow_nonuniform=True)
    assert any("1 slice(s) missing" in issue for issue in volume.issues)
    assert volume.shape[0] == 7


def test_integer_dtype_with_fractional_rescale_is_rounded_not_truncated() -> None:
    datasets = ct_series()
    for ds in datasets:
        ds.RescaleSlope = "0.5"
    volume = Volume.from_datasets(datasets, dtype=np.int16)
    expected = np.rint((default_ct_array().astype(float) + 1024) * 0.5 - 1024)
    np.testing.assert_array_equal(volume.array, expected.astype(np.int16))
