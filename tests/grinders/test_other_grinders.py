"""Tags, NIfTI and composite grinders."""

from __future__ import annotations

import pickle
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dcmnode.grinders import (
    NiftiFile,
    NiftiGrinder,
    TagsGrinder,
    Volume,
    VolumeGrinder,
    compose,
    datasets_grinder,
)
from dcmnode.testing.volumes import ct_series, default_ct_array

from .conftest import corners, expected_world

ROW, COLUMN = (0.8, 0.6, 0.0), (0.0, 0.0, -1.0)


def test_tags_grinder_returns_plain_values() -> None:
    result = TagsGrinder(["PatientWeight", "PatientName", "PixelSpacing", "InstitutionAddress"])(
        ct_series(shuffle=True))
    assert result == {"PatientWeight": 70.0, "PatientName": "Synthetic^Patient",
                      "PixelSpacing": [0.8, 0.7], "InstitutionAddress": None}
    assert pickle.loads(pickle.dumps(result)) == result


def test_tags_grinder_dataclass_pickles() -> None:
    record = TagsGrinder(["PatientWeight", "Modality"], as_dataclass=True)(ct_series())
    assert record.PatientWeight == 70.0 and record.Modality == "CT"
    assert pickle.loads(pickle.dumps(record)) == record


def test_tags_grinder_checks_keywords_and_required() -> None:
    with pytest.raises(ValueError, match="unknown DICOM keywords"):
        TagsGrinder(["PatientWieght"])
    with pytest.raises(TypeError, match="sequence of keywords"):
        TagsGrinder("PatientWeight")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="InstitutionAddress"):
        TagsGrinder(["InstitutionAddress"], required=True)(ct_series())


def test_nifti_affine_maps_voxels_to_ras() -> None:
    image = NiftiGrinder()(ct_series(row_direction=ROW, column_direction=COLUMN, shuffle=True))
    data = np.asarray(image.dataobj)
    values = default_ct_array()
    assert data.shape == (values.shape[2], values.shape[1], values.shape[0])
    np.testing.assert_array_equal(np.transpose(data, (2, 1, 0)), values)
    for k, r, c in corners(values.shape):
        lps = expected_world((k, r, c), origin=(-100.0, -80.0, 50.0), row_direction=ROW,
                             column_direction=COLUMN, spacing=(2.5, 0.8, 0.7))
        ras = image.affine @ np.array([c, r, k, 1.0])
        np.testing.assert_allclose(ras[:3], [-lps[0], -lps[1], lps[2]], atol=1e-4)
    assert int(image.header["sform_code"]) == 1


def test_nifti_grinder_writes_a_file_the_caller_cleans_up(tmp_path: Path) -> None:
    result = NiftiGrinder(write_file=True, directory=tmp_path)(ct_series())
    assert isinstance(result, NiftiFile)
    assert result.path.exists() and result.path.parent == result.directory
    loaded = nib.load(str(result.path))
    np.testing.assert_allclose(loaded.affine, result.image.affine, atol=1e-5)
    result.cleanup()
    assert not result.directory.exists()


def test_compose_runs_each_grinder() -> None:
    grinder = compose(volume=VolumeGrinder(), tags=TagsGrinder(["Modality"]),
                      datasets=datasets_grinder)
    result = pickle.loads(pickle.dumps(grinder))(ct_series(shuffle=True))
    assert isinstance(result["volume"], Volume)
    assert result["tags"] == {"Modality": "CT"}
    assert [int(ds.InstanceNumber) for ds in result["datasets"]] == list(range(1, 9))


def test_compose_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="at least one"):
        compose()
    with pytest.raises(TypeError, match="'volume' is not callable"):
        compose(volume=42)  # type: ignore[arg-type]


def test_nifti_image_pickles() -> None:
    image = NiftiGrinder()(ct_series())
    again = pickle.loads(pickle.dumps(image))
    np.testing.assert_array_equal(np.asarray(again.dataobj), np.asarray(image.dataobj))
    np.testing.assert_allclose(again.affine, image.affine)
