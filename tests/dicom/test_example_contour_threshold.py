"""The RTSTRUCT-returning example pipeline: its builder alone, then a real node end to end."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from dcmnode.grinders import Volume
from dcmnode.testing import RecordingSCP, running
from dcmnode.testing.volumes import ct_series
from sending import store_all

from .conftest import Validator
from .test_rtstruct import dice, read_back

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contour_threshold.py"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("contour_threshold_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def phantom() -> np.ndarray:
    """Air around an elliptic body with two bones in it; every slice alike but the ends."""
    rows, columns = np.ogrid[:40, :36]
    array = np.full((6, 40, 36), -1000, dtype=np.int16)
    body = ((rows - 20) / 16) ** 2 + ((columns - 18) / 14) ** 2 <= 1
    bones = ((rows - 20) ** 2 + (columns - 11) ** 2 <= 9) | (
        (rows - 20) ** 2 + (columns - 25) ** 2 <= 9
    )
    for k in range(1, 5):
        array[k][body] = 40
        array[k][bones] = 700
    return array


def test_threshold_contours_outline_body_and_bone(example: ModuleType,
                                                  dciodvfy: Validator) -> None:
    volume = Volume.from_datasets(ct_series(phantom(), shuffle=True,
                                            row_direction=(0.8, 0.6, 0.0),
                                            column_direction=(0.0, 0.0, -1.0)))
    structure_set = example.threshold_contours(volume)
    assert dciodvfy(structure_set) == []
    assert [r.ROIName for r in structure_set.StructureSetROISequence] == ["Body", "Bone"]
    assert [o.RTROIInterpretedType for o in structure_set.RTROIObservationsSequence] == [
        "EXTERNAL", "ORGAN"]  # fmt: skip
    assert dice(read_back(structure_set, volume, 1), volume.array > -500) >= 0.97
    assert dice(read_back(structure_set, volume, 2), volume.array >= 300) >= 0.97
    bone_slice = [c for c in structure_set.ROIContourSequence[1].ContourSequence
                  if c.ContourImageSequence[0].ReferencedSOPInstanceUID
                  == volume.frame_numbers[2][0]]  # fmt: skip
    assert len(bone_slice) == 2  # two islands on a slice


def test_a_node_running_the_example_sends_the_structure_set_on(example: ModuleType) -> None:
    source = ct_series(phantom(), patient_id="RT1", shuffle=True)
    with RecordingSCP("TPS") as tps, running(
        example.ContourThreshold, ae_title="NODE", destination=tps.address
    ) as node:
        assert store_all(node, source) == [0] * len(source)
        assert node.wait_idle(60)
        assert tps.wait_for(1, timeout=60)
    (received,) = tps.received
    assert received.Modality == "RTSTRUCT" and received.PatientID == "RT1"
    volume = Volume.from_datasets(source)
    assert dice(read_back(received, volume, 2), volume.array >= 300) >= 0.97
    series = received.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    assert series.RTReferencedSeriesSequence[0].SeriesInstanceUID == source[0].SeriesInstanceUID
