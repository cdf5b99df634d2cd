"""The SEG-returning example pipeline, without a network."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import highdicom as hd
import numpy as np
import pytest

from dcmnode.grinders import Volume
from dcmnode.testing.volumes import ct_series

from .conftest import Validator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "segment_threshold.py"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("segment_threshold_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_threshold_segmentation_marks_the_right_voxels(example: ModuleType,
                                                       dciodvfy: Validator) -> None:
    volume = Volume.from_datasets(ct_series(shuffle=True, row_direction=(0.8, 0.6, 0.0),
                                            column_direction=(0.0, 0.0, -1.0)))
    seg = example.threshold_segmentation(volume, threshold=300.0)
    assert dciodvfy(seg) == []
    expected = volume.array >= 300
    read = hd.seg.Segmentation.from_dataset(seg)
    found = np.zeros(volume.shape, dtype=bool)
    for index, item in enumerate(read.PerFrameFunctionalGroupsSequence):
        position = np.array([float(v) for v in
                             item.PlanePositionSequence[0].ImagePositionPatient])
        k = int(np.argmin([np.linalg.norm(volume.position_of(i) - position)
                           for i in range(volume.shape[0])]))
        found[k] = read.pixel_array[index].astype(bool)
    np.testing.assert_array_equal(found, expected)
    assert seg.SeriesDescription == "Threshold 300 HU"


def test_pipeline_grinds_a_volume_and_processes_it(example: ModuleType) -> None:
    from dcmnode import Job, NoOutput, Sender

    datasets = ct_series(shuffle=True)
    ct_input = example.CT()
    assert all(ct_input.accepts(ds) for ds in datasets)
    volume = ct_input.grind(datasets)
    assert isinstance(volume, Volume)
    job = Job(id="test", patient_id="SYN001", generation=1, datasets={"ct": datasets},
              sender=Sender("TEST", "127.0.0.1"), inputs={"ct": volume})
    assert isinstance(example.SegmentThreshold().process(job), NoOutput)
