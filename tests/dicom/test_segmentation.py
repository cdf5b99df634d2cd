"""SEG from a mask on a Volume: valid, aligned with the source, readable by highdicom."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from dcmnode.dicom import Segment, segmentation
from dcmnode.grinders import Volume

from .conftest import Validator


def label_map(volume: Volume) -> np.ndarray:
    labels = np.zeros(volume.shape, dtype=np.uint8)
    labels[2:5, 3:9, 2:7] = 1
    labels[5:7, 10:14, 4:10] = 2
    return labels


def test_seg_is_valid_and_places_each_frame(ct: list[Dataset], ct_volume: Volume,
                                            dciodvfy: Validator) -> None:
    labels = label_map(ct_volume)
    seg = segmentation(labels, ct_volume, segments=[
        "Lesion", Segment("Bone", codes.SCT.Tissue, codes.SCT.Bone, tracking_id="bone-1")])
    assert dciodvfy(seg) == []
    assert seg.StudyInstanceUID == ct[0].StudyInstanceUID
    assert seg.FrameOfReferenceUID == ct[0].FrameOfReferenceUID
    assert seg.file_meta.MediaStorageSOPInstanceUID == seg.SOPInstanceUID
    read = hd.seg.Segmentation.from_dataset(seg)
    assert [int(s.SegmentNumber) for s in read.SegmentSequence] == [1, 2]
    # Every stored frame sits at the position of the source slice it segments.
    frames = read.pixel_array
    for index, item in enumerate(read.PerFrameFunctionalGroupsSequence):
        position = np.array([float(v) for v in
                             item.PlanePositionSequence[0].ImagePositionPatient])
        k = int(np.argmin([np.linalg.norm(ct_volume.position_of(i) - position)
                           for i in range(ct_volume.shape[0])]))
        np.testing.assert_allclose(ct_volume.position_of(k), position, atol=1e-4)
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        np.testing.assert_array_equal(frames[index].astype(bool), labels[k] == number)


def test_boolean_mask_makes_one_segment(ct_volume: Volume) -> None:
    seg = segmentation(ct_volume.array > 0, ct_volume, segments=["Above zero"],
                       series_description="Positive", series_number=33)
    assert len(seg.SegmentSequence) == 1 and seg.SeriesDescription == "Positive"


def test_seg_arguments_are_checked(ct_volume: Volume) -> None:
    labels = label_map(ct_volume)
    with pytest.raises(ValueError, match="shape"):
        segmentation(labels[:2], ct_volume, segments=["a", "b"])
    with pytest.raises(ValueError, match="argument 'mask' must have labels in 0..1"):
        segmentation(labels, ct_volume, segments=["only one"])
    with pytest.raises(ValueError, match="argument 'segments' must be a non-empty list"):
        segmentation(labels, ct_volume, segments=[])
    with pytest.raises(ValueError, match="boolean or integer"):
        segmentation(labels.astype(float), ct_volume, segments=["a", "b"])


def test_seg_on_an_enhanced_multiframe_source(ct: list[Dataset], dciodvfy: Validator) -> None:
    enhanced = hd.legacy.LegacyConvertedEnhancedCTImage(
        ct, series_instance_uid=hd.UID(), series_number=5, sop_instance_uid=hd.UID(),
        instance_number=1)
    volume = Volume.from_datasets([enhanced])
    seg = segmentation(label_map(volume), volume, segments=["a", "b"])
    assert dciodvfy(seg) == []
    referenced = seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence
    assert [item.ReferencedSOPInstanceUID for item in referenced] == [enhanced.SOPInstanceUID]
