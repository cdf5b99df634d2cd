"""DICOM Segmentation (SEG) objects from masks on a :class:`Volume`, via highdicom.

highdicom comes with the ``results`` extra: ``pip install 'dcmnode[results]'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from ..extras import require
from ..grinders.volume import Volume
from ._common import (
    ResultUIDs,
    add_file_meta,
    apply_overrides,
    check_producer,
    check_text,
    reference_datasets,
    series_number_for,
)
from ._conform import conform, header_copies

__all__ = ["Segment", "segmentation"]


@dataclass(frozen=True)
class Segment:
    """What one segment of a SEG represents.

    Parameters
    ----------
    label
        Short text shown by viewers (SegmentLabel).
    category, property_type
        Coded segmented property category (CID 7150) and type (CID 7151),
        e.g. ``codes.SCT.Tissue`` and ``codes.SCT.Bone``.
    tracking_id
        Optional identifier that links this segment to measurements in an SR.
    """

    label: str
    category: Code = field(default_factory=lambda: codes.SCT.Tissue)
    property_type: Code = field(default_factory=lambda: codes.SCT.Tissue)
    tracking_id: str | None = None

    def __post_init__(self) -> None:
        check_text(self.label, "label")
        for name in ("category", "property_type"):
            if not isinstance(getattr(self, name), Code):
                raise TypeError(
                    f"argument '{name}' must be a Code (e.g. codes.SCT.Tissue), "
                    f"got {type(getattr(self, name)).__name__}"
                )
        if self.tracking_id is not None:
            check_text(self.tracking_id, "tracking_id")


def segmentation(
    mask: NDArray[Any],
    reference: Volume | Sequence[Dataset],
    *,
    segments: Sequence[str | Segment],
    series_description: str = "Segmentation",
    series_number: int | None = None,
    algorithm_name: str = "dcmnode",
    algorithm_version: str = "1",
    manufacturer: str = "dcmnode",
    omit_empty_frames: bool = True,
    uid_seed: str | None = None,
    **overrides: Any,
) -> Dataset:
    """Build a binary DICOM SEG aligned with the reference volume.

    Parameters
    ----------
    mask
        Either a label map ``[slice, row, column]`` of integers (0 =
        background, ``n`` = ``segments[n-1]``) or a boolean array of that
        shape (one segment), on the reference volume's grid.
    reference
        The segmented series, as a :class:`Volume` or its datasets.
    segments
        One label (or :class:`Segment`) per segment number, in order.
    series_description, series_number
        Of the new SEG series. The series number defaults to the
        reference's SeriesNumber + 1000 (1000 when it has none).
    algorithm_name, algorithm_version
        Recorded as the segmentation algorithm (algorithm type AUTOMATIC).
    manufacturer
        General Equipment: who made the SEG (your node, not the scanner).
    omit_empty_frames
        Leave out frames with no segmented pixel (smaller objects).
    uid_seed
        Mixed into the UIDs, which are otherwise derived from the reference
        instances and the arguments, the segment labels and the algorithm
        (the same inputs give the same UIDs).
    **overrides
        DICOM keywords set on the result last.

    Raises
    ------
    MissingExtraError
        highdicom is not installed (``pip install 'dcmnode[results]'``).
    """
    hd = require("results", "highdicom", "segmentation()")
    check_text(series_description, "series_description")
    check_producer(algorithm_name, algorithm_version, manufacturer)
    specs = _segments(segments)
    sources = reference_datasets(reference)
    volume = reference if isinstance(reference, Volume) else Volume.from_datasets(sources)
    if not volume.has_geometry:
        raise ValueError(
            "argument 'reference' must have patient geometry (ImagePositionPatient and "
            "ImageOrientationPatient) to place a SEG on, got none"
        )
    series_number = series_number_for(series_number, sources)
    labels = _label_map(mask, volume, len(specs))
    uids = ResultUIDs(
        "segmentation",
        sources,
        [series_description, series_number, algorithm_name, algorithm_version]
        + [s.label for s in specs],
        uid_seed,
    )
    headers = _source_headers(volume, sources)
    seg = hd.seg.Segmentation(
        source_images=headers,
        pixel_array=labels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[
            _description(hd, i + 1, spec, algorithm_name, algorithm_version, uids)
            for i, spec in enumerate(specs)
        ],
        series_instance_uid=uids.series,
        series_number=series_number,
        sop_instance_uid=uids.instance(),
        instance_number=1,
        manufacturer=manufacturer,
        manufacturer_model_name=algorithm_name,
        software_versions=algorithm_version,
        device_serial_number="0",
        omit_empty_frames=omit_empty_frames,
        series_description=series_description,
        **_geometry(hd, volume, headers[0]),
    )
    dataset: Dataset = seg
    _stable_dimension_organization(dataset, uids)
    add_file_meta(dataset, str(seg.file_meta.TransferSyntaxUID))
    conform([dataset], "segmentation")
    apply_overrides([dataset], overrides)
    return dataset


def _segments(segments: Sequence[str | Segment]) -> list[Segment]:
    if isinstance(segments, str) or not segments:
        raise ValueError(
            f"argument 'segments' must be a non-empty list of labels or Segments, got {segments!r}"
        )
    return [s if isinstance(s, Segment) else Segment(label=s) for s in segments]


def _geometry(hd: ModuleType, volume: Volume, first: Dataset) -> dict[str, Any]:
    """Plane positions, orientation and pixel measures of every slice of ``volume``."""
    return {
        "plane_positions": [
            hd.PlanePositionSequence("PATIENT", volume.position_of(k).tolist())
            for k in range(volume.shape[0])
        ],
        "plane_orientation": hd.PlaneOrientationSequence("PATIENT", list(volume.orientation)),
        "pixel_measures": hd.PixelMeasuresSequence(
            pixel_spacing=list(volume.pixel_spacing),
            # From the cleaned header copy: a thickness is always there and valid.
            slice_thickness=float(first.SliceThickness),
            spacing_between_slices=volume.spacing[0],
        ),
    }


def _label_map(mask: NDArray[Any], volume: Volume, count: int) -> NDArray[Any]:
    array = np.asarray(mask)
    if array.shape != tuple(volume.shape[:3]):
        raise ValueError(
            f"argument 'mask' must have the reference volume's shape {volume.shape[:3]}, "
            f"got {array.shape}"
        )
    if array.dtype == bool:
        if count != 1:
            raise ValueError(
                f"argument 'mask' must be integer labels when 'segments' names {count} "
                "segments, got a boolean mask (which holds one)"
            )
        return array.astype(np.uint8)
    if array.dtype.kind not in "iu":
        raise ValueError(
            f"argument 'mask' must be boolean or integer labels, got dtype {array.dtype}"
        )
    if array.min() < 0 or array.max() > count:
        raise ValueError(
            f"argument 'mask' must have labels in 0..{count} (one per segment), "
            f"got labels {array.min()}..{array.max()}"
        )
    return array.astype(np.uint8 if count < 256 else np.uint16)


def _description(
    hd: ModuleType, number: int, spec: Segment, name: str, version: str, uids: ResultUIDs
) -> Any:
    check_text(spec.label, f"segments[{number - 1}].label")
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=spec.label,
        segmented_property_category=spec.category,
        segmented_property_type=spec.property_type,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name=name, family=codes.cid7162.ArtificialIntelligence, version=version
        ),
        tracking_uid=uids.uid("tracking", number) if spec.tracking_id else None,
        tracking_id=spec.tracking_id,
    )


def _source_headers(volume: Volume, sources: list[Dataset]) -> list[Dataset]:
    headers = header_copies(_ordered_sources(volume, sources), "segmentation")
    for header in headers:
        if not header.get("SliceThickness"):
            # highdicom takes the pixel measures from the source when they
            # agree, and a SEG's need a thickness (Type 1C): the spacing.
            header.SliceThickness = f"{volume.spacing[0]:.10g}"[:16]
    return headers


def _stable_dimension_organization(seg: Dataset, uids: ResultUIDs) -> None:
    # highdicom draws a random DimensionOrganizationUID; a re-run must make
    # an identical object, so it is replaced by a derived one everywhere.
    organizations = seg.get("DimensionOrganizationSequence") or []
    if len(organizations) != 1:
        return
    old = str(organizations[0].DimensionOrganizationUID)
    new = uids.uid("dimension organization")
    organizations[0].DimensionOrganizationUID = new
    for item in seg.get("DimensionIndexSequence") or []:
        if str(item.get("DimensionOrganizationUID", "")) == old:
            item.DimensionOrganizationUID = new


def _ordered_sources(volume: Volume, sources: list[Dataset]) -> list[Dataset]:
    # highdicom records every source image in the SEG's references; the
    # volume order keeps the Referenced Series list stable and readable.
    by_uid = {str(ds.SOPInstanceUID): ds for ds in sources}
    ordered: list[Dataset] = []
    for uid, _ in volume.frame_numbers:
        if by_uid.get(uid) is not None and by_uid[uid] not in ordered:
            ordered.append(by_uid[uid])
    return ordered or sources
