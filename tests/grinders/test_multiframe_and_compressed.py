"""Volumes from multi-frame objects and from every compressed transfer syntax."""

from __future__ import annotations

import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import (
    JPEG2000,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from dcmnode.grinders import Volume
from dcmnode.testing.volumes import ct_series, default_ct_array

from .conftest import corners, expected_world, tool

ROW, COLUMN = (0.8, 0.6, 0.0), (0.0, 0.0, -1.0)


def test_enhanced_multiframe_ct_matches_the_single_frame_series() -> None:
    series = ct_series(shuffle=True, row_direction=ROW, column_direction=COLUMN)
    # highdicom's legacy converter writes the Shared and Per-frame Functional
    # Groups of Enhanced CT; the frames come out in its own order.
    enhanced = hd.legacy.LegacyConvertedEnhancedCTImage(
        series, series_instance_uid=hd.UID(), series_number=9, sop_instance_uid=hd.UID(),
        instance_number=1)
    volume = Volume.from_datasets([enhanced])
    np.testing.assert_array_equal(volume.array, default_ct_array())
    for index in corners(volume.shape):
        np.testing.assert_allclose(
            volume.world_coordinates(np.array(index)),
            expected_world(index, origin=(-100.0, -80.0, 50.0), row_direction=ROW,
                           column_direction=COLUMN, spacing=(2.5, 0.8, 0.7)),
            atol=1e-4)
    assert {frame for _, frame in volume.frame_numbers} == set(range(1, 9))
    assert len(volume.datasets) == 1


def test_multiframe_secondary_capture_without_geometry_says_so() -> None:
    path = get_testdata_file("SC_rgb_rle_2frame.dcm")
    ds = pydicom.dcmread(path)
    volume = Volume.from_datasets([ds])
    assert volume.shape == (2, int(ds.Rows), int(ds.Columns), 3)
    np.testing.assert_array_equal(volume.array, ds.pixel_array)
    assert not volume.has_geometry
    assert any("no patient geometry" in issue for issue in volume.issues)


@pytest.mark.parametrize("compressed", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
                                        "MR_small_jpeg_ls_lossless.dcm"])
def test_pydicom_compressed_files_decode_like_the_uncompressed_original(compressed: str) -> None:
    reference = Volume.from_datasets([pydicom.dcmread(get_testdata_file("MR_small.dcm"))])
    volume = Volume.from_datasets([pydicom.dcmread(get_testdata_file(compressed))])
    np.testing.assert_array_equal(volume.array, reference.array)
    np.testing.assert_allclose(volume.affine, reference.affine)


def test_jpeg_baseline_decodes_close_to_the_lossless_original() -> None:
    lossy = pydicom.dcmread(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))
    assert lossy.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    original = pydicom.dcmread(get_testdata_file("SC_rgb_rle.dcm"))
    volume = Volume.from_datasets([lossy])
    difference = np.abs(volume.array[0].astype(int) - original.pixel_array.astype(int))
    assert difference.mean() < 3  # lossy, but the same picture


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless])
def test_compressed_synthetic_series_round_trip(syntax: str, tmp_path: Path) -> None:
    values = default_ct_array((4, 64, 64))  # J2K needs a few resolution levels
    series = ct_series(values, shuffle=True)
    for i, ds in enumerate(series):
        ds.compress(syntax)
        ds.save_as(tmp_path / f"{i}.dcm", enforce_file_format=True)
    reread = [pydicom.dcmread(p) for p in sorted(tmp_path.iterdir())]
    assert {str(ds.file_meta.TransferSyntaxUID) for ds in reread} == {syntax}
    np.testing.assert_array_equal(Volume.from_datasets(reread).array, values)


def test_jpeg_lossless_from_dcmtk_round_trips(tmp_path: Path) -> None:
    dcmcjpeg = tool("dcmcjpeg")
    series = ct_series(shuffle=True)
    for i, ds in enumerate(series):
        ds.save_as(tmp_path / f"u{i}.dcm", enforce_file_format=True)
        subprocess.run([dcmcjpeg, str(tmp_path / f"u{i}.dcm"), str(tmp_path / f"c{i}.dcm")],
                       check=True)
    reread = [pydicom.dcmread(tmp_path / f"c{i}.dcm") for i in range(len(series))]
    assert {str(ds.file_meta.TransferSyntaxUID) for ds in reread} == {JPEGLosslessSV1}
    np.testing.assert_array_equal(Volume.from_datasets(reread).array, default_ct_array())


def test_jpeg2000_lossy_file_decodes() -> None:
    ds = pydicom.dcmread(get_testdata_file("JPEG2000.dcm"))
    assert ds.file_meta.TransferSyntaxUID == JPEG2000
    volume = Volume.from_datasets([ds])
    assert volume.shape[1:] == (int(ds.Rows), int(ds.Columns))


@pytest.mark.parametrize("name", ["JPGExtended.dcm", "JPEGLSNearLossless_16.dcm",
                                  "JPEGLSNearLossless_08.dcm", "693_J2KI.dcm"])
def test_other_bundled_compressed_files_decode(name: str) -> None:
    ds = pydicom.dcmread(get_testdata_file(name))
    volume = Volume.from_datasets([ds])
    assert volume.shape[:3] == (int(ds.get("NumberOfFrames", 1)), int(ds.Rows), int(ds.Columns))
    assert np.isfinite(volume.array.astype(float)).all()
