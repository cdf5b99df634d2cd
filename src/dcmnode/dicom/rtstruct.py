"""RT Structure Sets (RTSTRUCT): planar contours of masks on a :class:`Volume`.

A treatment planning system imports structures as closed polygons, one or
more per image plane. The polygons are traced by scikit-image's marching
squares (``skimage.measure.find_contours``) at the 0.5 level of each mask
slice, so a vertex lies half-way between an inside and an outside pixel
centre and the polygon encloses exactly the mask's pixel centres. A slice
with several islands gets one contour per island, and a hole one contour of
its own inside the outer one: readers combine the contours of a plane by
the even-odd rule (a point inside two contours is outside the ROI), as
SlicerRT, platipy and dcmrtstruct2nii do.

scikit-image comes with the ``results`` extra: ``pip install 'dcmnode[results]'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from ..extras import require
from ..grinders.volume import Volume
from ._common import (
    PATIENT_KEYWORDS,
    STUDY_KEYWORDS,
    ResultUIDs,
    add_file_meta,
    apply_overrides,
    check_text,
    copy_keywords,
    now,
    reference_datasets,
    series_number_for,
)
from ._conform import conform
from ._contours import contour_data, slice_contours

__all__ = ["ROI", "RTStructureSetStorage", "rtstruct"]

RTStructureSetStorage = "1.2.840.10008.5.1.4.1.1.481.3"
# RT Referenced Study Sequence names the study by the (retired) Detached
# Study Management SOP Class, the value planning systems commonly write.
_DETACHED_STUDY_MANAGEMENT = "1.2.840.10008.3.1.2.3.1"

#: Defined terms of RT ROI Interpreted Type (3006,00A4), PS3.3 C.8.8.8.
INTERPRETED_TYPES = frozenset(
    "EXTERNAL PTV CTV GTV TREATED_VOLUME IRRAD_VOLUME OAR BOLUS AVOIDANCE ORGAN MARKER "
    "REGISTRATION ISOCENTER CONTRAST_AGENT CAVITY BRACHY_CHANNEL BRACHY_ACCESSORY "
    "BRACHY_SRC_APP BRACHY_CHNL_SHLD SUPPORT FIXATION DOSE_REGION CONTROL "
    "DOSE_MEASUREMENT".split()
)
_ALGORITHMS = ("AUTOMATIC", "SEMIAUTOMATIC", "MANUAL")


@dataclass(frozen=True)
class ROI:
    """One region of interest of a structure set.

    Parameters
    ----------
    name
        ROI Name shown by the planning system, e.g. ``"Liver"`` or ``"PTV"``.
    color
        ROI Display Color, ``(red, green, blue)`` each 0-255.
    interpreted_type
        RT ROI Interpreted Type: one of :data:`INTERPRETED_TYPES` (``"ORGAN"``,
        ``"OAR"``, ``"PTV"``, ``"GTV"``, ``"EXTERNAL"``, ...), or ``""`` for
        unknown.
    algorithm
        ROI Generation Algorithm: ``"AUTOMATIC"`` (a model made it),
        ``"SEMIAUTOMATIC"`` or ``"MANUAL"``.
    description
        Optional ROI Description.
    """

    name: str
    color: tuple[int, int, int] = (255, 0, 0)
    interpreted_type: str = "ORGAN"
    algorithm: str = "AUTOMATIC"
    description: str | None = None

    def __post_init__(self) -> None:
        check_text(self.name, "ROI.name")
        if not self.name.strip():
            raise ValueError("argument 'ROI.name' must not be empty")
        color = tuple(self.color)
        if len(color) != 3 or not all(
            isinstance(c, int | np.integer) and not isinstance(c, bool) and 0 <= c <= 255
            for c in color
        ):
            raise ValueError(
                f"argument 'ROI.color' must be three integers 0-255 (red, green, blue), "
                f"got {self.color!r}"
            )
        object.__setattr__(self, "color", tuple(int(c) for c in color))
        if self.interpreted_type not in INTERPRETED_TYPES | {""}:
            raise ValueError(
                f"argument 'ROI.interpreted_type' must be one of "
                f"{', '.join(sorted(INTERPRETED_TYPES))} or '', got {self.interpreted_type!r}"
            )
        if self.algorithm not in _ALGORITHMS:
            raise ValueError(
                f"argument 'ROI.algorithm' must be one of {', '.join(_ALGORITHMS)}, "
                f"got {self.algorithm!r}"
            )
        if self.description is not None:
            check_text(self.description, "ROI.description", 1024)


def rtstruct(
    masks: NDArray[Any] | Sequence[NDArray[Any]],
    reference: Volume | Sequence[Dataset],
    *,
    rois: Sequence[str | ROI],
    label: str = "dcmnode",
    series_description: str = "Structure set",
    series_number: int | None = None,
    manufacturer: str = "dcmnode",
    uid_seed: str | None = None,
    **overrides: Any,
) -> Dataset:
    """Build an RT Structure Set with the contours of ``masks`` on the reference series.

    Parameters
    ----------
    masks
        On the reference volume's grid ``[slice, row, column]``: a boolean
        array (one ROI); an integer label map (0 = background, ``n`` =
        ``rois[n-1]``); or one boolean array per ROI (a sequence, or an
        array with a leading ROI axis), where ROIs may overlap (a PTV
        around its CTV).
    reference
        The contoured series, as a :class:`Volume` or its datasets. It must
        have patient geometry and a FrameOfReferenceUID.
    rois
        One name (or :class:`ROI`) per ROI, in order.
    label
        Structure Set Label (at most 16 characters).
    series_description, series_number
        Of the new RTSTRUCT series. The series number defaults to the
        reference's SeriesNumber + 1000 (1000 when it has none).
    manufacturer
        General Equipment: who made the structure set (your node).
    uid_seed
        Mixed into the UIDs, which are otherwise derived from the reference
        instances, the ROI names and the arguments above (the same inputs
        give the same UIDs, so a re-run is stored once).
    **overrides
        DICOM keywords set on the result last.

    Returns
    -------
    Dataset
        The RTSTRUCT, with file meta, ready for C-STORE. The contours of a
        plane combine by the even-odd rule (holes are contours inside
        contours); an ROI with no voxel has no contours.

    Raises
    ------
    MissingExtraError
        scikit-image is not installed (``pip install 'dcmnode[results]'``).
    """
    measure = require("results", "skimage.measure", "rtstruct()")
    check_text(label, "label", 16)
    check_text(series_description, "series_description")
    check_text(manufacturer, "manufacturer")
    if isinstance(rois, str) or not rois:
        raise ValueError(f"argument 'rois' must be a non-empty list of names or ROIs, got {rois!r}")
    specs = [r if isinstance(r, ROI) else ROI(name=str(r)) for r in rois]
    sources = reference_datasets(reference)
    volume = reference if isinstance(reference, Volume) else Volume.from_datasets(sources)
    frame_of_reference = _frame_of_reference(volume, sources)
    per_roi = _roi_masks(masks, volume, len(specs))
    number = series_number_for(series_number, sources)
    uids = ResultUIDs(
        "rtstruct",
        sources,
        [label, series_description, number, *(s.name for s in specs)],
        uid_seed,
    )
    ds = _header(sources[0], uids, label, series_description, number, manufacturer)
    # Frame of Reference module (current PS3.3 has it in the RT Structure Set
    # IOD, and dciodvfy asks for it): the images' patient coordinate system.
    ds.FrameOfReferenceUID = frame_of_reference
    ds.PositionReferenceIndicator = sources[0].get("PositionReferenceIndicator")
    images = _contour_images(volume)
    ds.ReferencedFrameOfReferenceSequence = [
        _referenced_frame(sources[0], frame_of_reference, images)
    ]
    ds.StructureSetROISequence = [
        _structure_set_roi(i, spec, frame_of_reference) for i, spec in enumerate(specs, 1)
    ]
    ds.RTROIObservationsSequence = [_observation(i, spec) for i, spec in enumerate(specs, 1)]
    add_file_meta(ds)
    # Before the contours: they are valid by construction, and conform would
    # visit each of their (many) coordinates.
    conform([ds], "rtstruct")
    ds.ROIContourSequence = [
        _roi_contour(measure, i, spec, mask, volume, images)
        for i, (spec, mask) in enumerate(zip(specs, per_roi, strict=True), 1)
    ]
    apply_overrides([ds], overrides)
    return ds


def _frame_of_reference(volume: Volume, sources: Sequence[Dataset]) -> str:
    if not volume.has_geometry:
        raise ValueError(
            "argument 'reference' must have patient geometry (ImagePositionPatient and "
            "ImageOrientationPatient) to place contours on, got none"
        )
    uid = sources[0].get("FrameOfReferenceUID")
    if not uid:
        raise ValueError(
            "argument 'reference' must have a FrameOfReferenceUID: a planning system "
            "places the contours by it, got none"
        )
    return str(uid)


def _roi_masks(
    masks: NDArray[Any] | Sequence[NDArray[Any]], volume: Volume, count: int
) -> list[NDArray[np.bool_]]:
    """One boolean ``[slice, row, column]`` mask per ROI, whatever form came in."""
    grid = tuple(volume.shape[:3])
    if isinstance(masks, np.ndarray) and masks.shape == grid:
        if masks.dtype == bool:
            if count != 1:
                raise ValueError(
                    f"argument 'masks' is one boolean mask (one ROI) but 'rois' names {count}; "
                    "pass a label map or one mask per ROI"
                )
            return [masks]
        if masks.dtype.kind not in "iu":
            raise ValueError(
                f"argument 'masks' must be boolean or integer labels, got {masks.dtype}"
            )
        if masks.min() < 0 or masks.max() > count:
            raise ValueError(
                f"argument 'masks' must hold labels 0..{count} (one per ROI), "
                f"got {masks.min()}..{masks.max()}"
            )
        return [masks == n for n in range(1, count + 1)]
    stack = [np.asarray(m) for m in masks]
    if len(stack) != count or any(m.shape != grid for m in stack):
        shapes = sorted({m.shape for m in stack})
        raise ValueError(
            f"argument 'masks' must be a mask or label map of shape {grid}, or {count} such "
            f"masks (one per ROI), got {len(stack)} of shape(s) {shapes}"
        )
    if any(m.dtype != bool and m.dtype.kind not in "iu" for m in stack):
        # A probability map would be cut at "not zero": make the threshold the caller's.
        raise ValueError(
            "argument 'masks' must hold boolean (or 0/1 integer) masks, got dtype(s) "
            f"{sorted({str(m.dtype) for m in stack})}"
        )
    return [m.astype(bool) for m in stack]


def _header(
    first: Dataset, uids: ResultUIDs, label: str, description: str, number: int, maker: str
) -> Dataset:
    ds = Dataset()
    if "SpecificCharacterSet" in first:  # copied names keep their encoding
        ds.SpecificCharacterSet = first.SpecificCharacterSet
    copy_keywords(first, ds, PATIENT_KEYWORDS + STUDY_KEYWORDS)
    created = now()
    ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = uids.instance()
    ds.InstanceCreationDate = created.strftime("%Y%m%d")
    ds.InstanceCreationTime = created.strftime("%H%M%S")
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = uids.series
    ds.SeriesNumber = number
    ds.SeriesDescription = description
    ds.OperatorsName = None
    ds.Manufacturer = maker
    ds.InstanceNumber = 1
    ds.StructureSetLabel = label
    ds.StructureSetDate = created.strftime("%Y%m%d")
    ds.StructureSetTime = created.strftime("%H%M%S")
    # Approval module: contours a model made wait for a person's approval.
    ds.ApprovalStatus = "UNAPPROVED"
    return ds


def _contour_images(volume: Volume) -> list[Dataset]:
    """Per slice, the Contour Image item naming its source image (and frame)."""
    classes = {str(ds.SOPInstanceUID): ds for ds in volume.datasets}
    items: list[Dataset] = []
    for uid, frame in volume.frame_numbers:
        source = classes[uid]
        item = Dataset()
        item.ReferencedSOPClassUID = source.SOPClassUID
        item.ReferencedSOPInstanceUID = uid
        if int(source.get("NumberOfFrames", 1) or 1) > 1:
            item.ReferencedFrameNumber = frame
        items.append(item)
    return items


def _referenced_frame(first: Dataset, frame_of_reference: str, images: list[Dataset]) -> Dataset:
    series = Dataset()
    series.SeriesInstanceUID = first.SeriesInstanceUID
    unique = {(str(i.ReferencedSOPInstanceUID), i.get("ReferencedFrameNumber")): i for i in images}
    series.ContourImageSequence = [_copy(i) for i in unique.values()]
    study = Dataset()
    study.ReferencedSOPClassUID = _DETACHED_STUDY_MANAGEMENT
    study.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study.RTReferencedSeriesSequence = [series]
    item = Dataset()
    item.FrameOfReferenceUID = frame_of_reference
    item.RTReferencedStudySequence = [study]
    return item


def _structure_set_roi(number: int, spec: ROI, frame_of_reference: str) -> Dataset:
    item = Dataset()
    item.ROINumber = number
    item.ReferencedFrameOfReferenceUID = frame_of_reference
    item.ROIName = spec.name
    if spec.description:
        item.ROIDescription = spec.description
    item.ROIGenerationAlgorithm = spec.algorithm
    return item


def _roi_contour(
    measure: ModuleType,
    number: int,
    spec: ROI,
    mask: NDArray[np.bool_],
    volume: Volume,
    images: list[Dataset],
) -> Dataset:
    item = Dataset()
    item.ReferencedROINumber = number
    item.ROIDisplayColor = list(spec.color)
    contours: list[Dataset] = []
    for k in np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1)):
        for polygon in slice_contours(measure, mask[k]):
            data, count = contour_data(measure, volume, int(k), polygon)
            contour = Dataset()
            contour.ContourImageSequence = [_copy(images[k])]
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = count
            contour.ContourNumber = len(contours) + 1
            contour[data.tag] = data
            # Marked as read explicit VR little endian, so that pydicom writes
            # the pre-encoded Contour Data as it is in that transfer syntax.
            contour.set_original_encoding(False, True, contour._character_set)
            contours.append(contour)
    if contours:
        item.ContourSequence = contours
    return item


def _observation(number: int, spec: ROI) -> Dataset:
    item = Dataset()
    item.ObservationNumber = number
    item.ReferencedROINumber = number
    item.RTROIInterpretedType = spec.interpreted_type or None
    item.ROIInterpreter = None
    return item


def _copy(item: Dataset) -> Dataset:
    copy = Dataset()
    for element in item:
        copy.add_new(element.tag, element.VR, element.value)
    return copy
