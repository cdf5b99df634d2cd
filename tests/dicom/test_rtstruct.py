"""RT Structure Sets: contours read back and rasterised match the masks; dciodvfy accepts them."""

from __future__ import annotations

from typing import Any

import highdicom as hd
import numpy as np
import pytest
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from dcmnode.dicom import ROI, rtstruct
from dcmnode.grinders import Volume
from dcmnode.testing.volumes import ct_series

from .conftest import Validator

GRID = (7, 48, 40)  # slices, rows, columns

ORIENTATIONS = {
    "axial": {},
    "oblique": {"row_direction": (0.8, 0.6, 0.0), "column_direction": (0.0, 0.0, -1.0)},
    "tilted": {"gantry_tilt": 12.0},
}


def volume(**geometry: Any) -> Volume:
    array = np.full(GRID, -1000, dtype=np.int16)
    return Volume.from_datasets(ct_series(array, shuffle=True, **geometry))


def ring() -> NDArray[np.bool_]:
    """A ring (a hole on every slice) that shrinks towards the ends."""
    rows, columns = np.ogrid[: GRID[1], : GRID[2]]
    mask = np.zeros(GRID, dtype=bool)
    for k, outer in zip(range(1, 6), (8, 12, 14, 12, 9), strict=True):
        distance = (rows - 23.3) ** 2 + (columns - 19.6) ** 2
        mask[k] = (distance <= outer**2) & (distance >= (outer - 5) ** 2)
    return mask


def islands() -> NDArray[np.bool_]:
    """Two islands per slice, one touching the image border, one a diagonal line."""
    mask = np.zeros(GRID, dtype=bool)
    mask[2:6, 0:9, 0:7] = True  # in the corner: contours must still close
    mask[2:6, 30:41, 22:35] = True
    mask[3, 33:37, 25:29] = False  # and a square hole in the second on one slice
    for i in range(8):  # a diagonal line of pixels is one island ("high" connectivity)
        mask[4, 12 + i, 20 + i] = True
    return mask


def read_back(structure_set: Dataset, vol: Volume, number: int) -> NDArray[np.bool_]:
    """Rasterise ROI ``number`` onto ``vol``'s grid: pixel centres inside, even-odd rule."""
    inverse = np.linalg.inv(vol.affine)
    found = np.zeros(vol.shape[:3], dtype=bool)
    (item,) = [i for i in structure_set.ROIContourSequence if i.ReferencedROINumber == number]
    for contour in item.get("ContourSequence", []):
        assert contour.ContourGeometricType == "CLOSED_PLANAR"
        points = np.array(contour.ContourData, dtype=float).reshape(-1, 3)
        assert len(points) == contour.NumberOfContourPoints
        indices = (np.c_[points, np.ones(len(points))] @ inverse.T)[:, :3]
        k = int(round(indices[0, 0]))
        # On the image's plane, to the 0.01 mm the coordinates are written with.
        np.testing.assert_allclose(indices[:, 0] * vol.spacing[0], k * vol.spacing[0], atol=0.01)
        (image,) = contour.ContourImageSequence
        assert image.ReferencedSOPInstanceUID == vol.frame_numbers[k][0]
        if "ReferencedFrameNumber" in image:
            assert image.ReferencedFrameNumber == vol.frame_numbers[k][1]
        found[k] ^= fill(indices[:, 1], indices[:, 2], vol.shape[1:3])
    return found


def fill(rows: NDArray[np.float64], columns: NDArray[np.float64],
         shape: tuple[int, ...]) -> NDArray[np.bool_]:
    """Pixels whose centre is inside the closed polygon (a scanline fill, even-odd rule).

    Written here rather than taken from scikit-image, so the check does not
    share code with what it checks (and stays fast on a 2048-pixel matrix).
    """
    inside = np.zeros(shape[:2], dtype=bool)
    next_rows, next_columns = np.roll(rows, -1), np.roll(columns, -1)
    lines = np.arange(max(0, int(rows.min())), min(shape[0], int(rows.max()) + 2))
    centres = np.arange(shape[1])
    for y in lines:
        # Edges crossing the line through this row's pixel centres (half-open).
        crossing = (rows <= y) & (y < next_rows) | (next_rows <= y) & (y < rows)
        r0, r1 = rows[crossing], next_rows[crossing]
        c0, c1 = columns[crossing], next_columns[crossing]
        xs = np.sort(c0 + (y - r0) * (c1 - c0) / (r1 - r0))
        inside[y] = np.searchsorted(xs, centres, side="right") % 2 == 1
    return inside


def dice(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    return float(2 * np.sum(a & b) / (np.sum(a) + np.sum(b)))


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_contours_read_back_match_the_masks(orientation: str) -> None:
    vol = volume(**ORIENTATIONS[orientation])
    masks = [ring(), islands()]
    result = rtstruct(masks, vol, rois=[ROI("Ring", (0, 255, 0)), ROI("Islands", (0, 0, 255))])
    for number, mask in enumerate(masks, 1):
        assert dice(read_back(result, vol, number), mask) >= 0.97
        # Tracing at the 0.5 level encloses exactly the mask's pixel centres.
        np.testing.assert_array_equal(read_back(result, vol, number), mask)
    hole = [c for c in result.ROIContourSequence[0].ContourSequence]
    assert len(hole) == 2 * 5  # outer and inner contour on each of the five slices


def test_a_label_map_gives_one_roi_per_label_with_names_colours_and_types() -> None:
    vol = volume(**ORIENTATIONS["oblique"])
    labels = ring().astype(np.uint8) + 2 * islands().astype(np.uint8)
    labels[labels == 3] = 2
    result = rtstruct(
        labels, vol,
        rois=[ROI("CTV", (255, 0, 0), "CTV"), ROI("Lung", (0, 128, 255), "OAR", "SEMIAUTOMATIC")],
    )  # fmt: skip
    assert [r.ROIName for r in result.StructureSetROISequence] == ["CTV", "Lung"]
    assert [r.ROIGenerationAlgorithm for r in result.StructureSetROISequence] == [
        "AUTOMATIC", "SEMIAUTOMATIC"]  # fmt: skip
    assert [list(r.ROIDisplayColor) for r in result.ROIContourSequence] == [
        [255, 0, 0], [0, 128, 255]]  # fmt: skip
    assert [o.RTROIInterpretedType for o in result.RTROIObservationsSequence] == ["CTV", "OAR"]
    for number in (1, 2):
        assert dice(read_back(result, vol, number), labels == number) >= 0.97


def test_references_the_source_series_and_frame_of_reference() -> None:
    source = ct_series(np.full(GRID, -1000, dtype=np.int16), shuffle=True)
    vol = Volume.from_datasets(source)
    result = rtstruct(ring(), vol, rois=["Ring"])
    first = source[0]
    assert result.SOPClassUID == "1.2.840.10008.5.1.4.1.1.481.3"
    assert result.Modality == "RTSTRUCT"
    assert result.PatientID == first.PatientID and result.StudyInstanceUID == first.StudyInstanceUID
    assert result.SeriesInstanceUID != first.SeriesInstanceUID
    assert result.SeriesNumber == int(first.SeriesNumber) + 1000
    (frame,) = result.ReferencedFrameOfReferenceSequence
    assert frame.FrameOfReferenceUID == first.FrameOfReferenceUID == result.FrameOfReferenceUID
    (study,) = frame.RTReferencedStudySequence
    assert study.ReferencedSOPInstanceUID == first.StudyInstanceUID
    (series,) = study.RTReferencedSeriesSequence
    assert series.SeriesInstanceUID == first.SeriesInstanceUID
    assert {i.ReferencedSOPInstanceUID for i in series.ContourImageSequence} == {
        ds.SOPInstanceUID for ds in source}  # fmt: skip
    assert result.StructureSetROISequence[0].ReferencedFrameOfReferenceUID == (
        first.FrameOfReferenceUID)  # fmt: skip


def test_uids_derive_from_the_inputs() -> None:
    vol = volume()
    first = rtstruct(ring(), vol, rois=["Ring"])
    again = rtstruct(ring(), Volume.from_datasets(list(reversed(vol.datasets))), rois=["Ring"])
    assert (again.SOPInstanceUID, again.SeriesInstanceUID) == (
        first.SOPInstanceUID, first.SeriesInstanceUID)  # fmt: skip
    other = rtstruct(ring(), vol, rois=["Ring"], uid_seed="model v2")
    renamed = rtstruct(ring(), vol, rois=["Annulus"])
    assert len({first.SOPInstanceUID, other.SOPInstanceUID, renamed.SOPInstanceUID}) == 3


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_dciodvfy_accepts_it(orientation: str, dciodvfy: Validator) -> None:
    vol = volume(**ORIENTATIONS[orientation])
    empty = np.zeros(GRID, dtype=bool)  # an ROI without contours is valid too
    result = rtstruct([ring(), islands(), empty], vol, rois=["Ring", "Islands", "Nothing"])
    assert "ContourSequence" not in result.ROIContourSequence[2]
    assert dciodvfy(result) == []


def test_on_an_enhanced_multiframe_source_contours_name_their_frame(
    dciodvfy: Validator,
) -> None:
    source = ct_series(np.full(GRID, -1000, dtype=np.int16), **ORIENTATIONS["oblique"])
    enhanced = hd.legacy.LegacyConvertedEnhancedCTImage(
        source, series_instance_uid=hd.UID(), series_number=5, sop_instance_uid=hd.UID(),
        instance_number=1)  # fmt: skip
    vol = Volume.from_datasets([enhanced])
    result = rtstruct(islands(), vol, rois=["Islands"])
    assert dice(read_back(result, vol, 1), islands()) >= 0.97
    for contour in result.ROIContourSequence[0].ContourSequence:
        (image,) = contour.ContourImageSequence
        assert image.ReferencedSOPInstanceUID == enhanced.SOPInstanceUID
        assert image.ReferencedFrameNumber >= 1
    assert dciodvfy(result) == []


def test_on_a_sparse_reference_it_is_still_valid(dciodvfy: Validator) -> None:
    source = ct_series(np.full(GRID, -1000, dtype=np.int16))
    for ds in source:
        for keyword in ("PatientName", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                        "ReferringPhysicianName", "StudyID", "AccessionNumber", "SeriesNumber"):
            if keyword in ds:
                delattr(ds, keyword)
    result = rtstruct(islands(), source, rois=[ROI("Islands", interpreted_type="")])
    assert result.SeriesNumber == 1000
    assert dciodvfy(result) == []


def test_argument_errors_name_the_argument() -> None:
    vol = volume()
    with pytest.raises(ValueError, match="argument 'masks'.*one per ROI"):
        rtstruct([ring()], vol, rois=["A", "B"])
    with pytest.raises(ValueError, match=r"argument 'masks' must be a mask or label map of shape"):
        rtstruct(np.zeros((2, 3, 4), dtype=bool), vol, rois=["A"])
    with pytest.raises(ValueError, match=r"argument 'masks' must hold labels 0\.\.1"):
        rtstruct(np.full(GRID, 2, dtype=np.uint8), vol, rois=["A"])
    with pytest.raises(ValueError, match=r"argument 'masks' must hold boolean .*float64"):
        rtstruct([ring().astype(float)], vol, rois=["A"])
    with pytest.raises(ValueError, match="argument 'rois'"):
        rtstruct(ring(), vol, rois=[])
    with pytest.raises(ValueError, match="argument 'ROI.color'"):
        ROI("A", color=(0, 0, 300))
    with pytest.raises(ValueError, match="argument 'ROI.interpreted_type'.*got 'LIVER'"):
        ROI("A", interpreted_type="LIVER")
    no_frame = ct_series(np.full(GRID, 0, dtype=np.int16))
    for ds in no_frame:
        del ds.FrameOfReferenceUID
    with pytest.raises(ValueError, match="FrameOfReferenceUID"):
        rtstruct(ring(), no_frame, rois=["A"])


def test_a_contour_too_long_for_one_value_is_shortened_to_fit(
    dciodvfy: Validator, caplog: pytest.LogCaptureFixture
) -> None:
    # A body on a 2048-pixel matrix: ~2,900 vertices, more than the 65,534
    # bytes a DS value may hold in an explicit VR transfer syntax.
    size = 2048
    turn = np.radians(20)  # coordinates with every decimal in use
    vol = Volume.from_datasets(ct_series(np.zeros((2, size, size), dtype=np.int16),
                                         spacing=(2.0, 0.2441, 0.2441),
                                         row_direction=(np.cos(turn), np.sin(turn), 0.0),
                                         column_direction=(0.0, 0.0, -1.0)))  # fmt: skip
    rows, columns = np.ogrid[:size, :size]
    disk = (rows - 1023.7) ** 2 + (columns - 1024.1) ** 2 <= 1000**2
    mask = np.stack([disk, disk])
    result = rtstruct(mask, vol, rois=["Body"])
    for contour in result.ROIContourSequence[0].ContourSequence:
        assert contour.get_item("ContourData").length <= 0xFFFE
    assert "too long for one Contour Data value" in caplog.text
    assert dice(read_back(result, vol, 1), mask) >= 0.97
    assert dciodvfy(result) == []
