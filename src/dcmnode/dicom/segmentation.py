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
    add_file_meta,
    apply_overrides,
    check_number,
    check_text,
    new_uid,
    reference_datasets,
)

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


def segmentation(
    mask: NDArray[Any],
    reference: Volume | Sequence[Dataset],
    *,
    segments: Sequence[str | Segment],
    series_description: str = "Segmentation",
    series_number: int = 300,
    algorithm_name: str = "dcmnode",
    algorithm_version: str = "1",
    manufacturer: str = "dcmnode",
    omit_empty_frames: bool = True,
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
        Of the new SEG series.
    algorithm_name, algorithm_version
        Recorded as the segmentation algorithm (algorithm type AUTOMATIC).
    manufacturer
        General Equipment: who made the SEG (your node, not the scanner).
    omit_empty_frames
        Leave out frames with no segmented pixel (smaller objects).
    **overrides
        DICOM keywords set on the result last.

    Raises
    ------
    MissingExtraError
        highdicom is not installed (``pip install 'dcmnode[results]'``).
    """
    hd = require("results", "highdicom", "segmentation()")
    check_text(series_description, "series_description")
    check_number(series_number, "series_number")
    if not segments:
        raise ValueError("segments must name at least one segment")
    volume = reference if isinstance(reference, Volume) else Volume.from_datasets(reference)
    sources = reference_datasets(volume)
    if not volume.has_geometry:
        raise ValueError("reference has no patient geometry: a SEG cannot be placed on it")
    labels = _label_map(mask, volume, len(segments))
    descriptions = [
        _description(hd, i + 1, s, algorithm_name, algorithm_version)
        for i, s in enumerate(segments)
    ]
    first = sources[0]
    seg = hd.seg.Segmentation(
        source_images=_ordered_sources(volume, sources),
        pixel_array=labels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=new_uid(),
        series_number=series_number,
        sop_instance_uid=new_uid(),
        instance_number=1,
        manufacturer=manufacturer,
        manufacturer_model_name=algorithm_name,
        software_versions=algorithm_version,
        device_serial_number="0",
        plane_positions=[
            hd.PlanePositionSequence("PATIENT", volume.position_of(k).tolist())
            for k in range(volume.shape[0])
        ],
        plane_orientation=hd.PlaneOrientationSequence("PATIENT", list(volume.orientation)),
        pixel_measures=hd.PixelMeasuresSequence(
            pixel_spacing=list(volume.pixel_spacing),
            slice_thickness=float(first.get("SliceThickness") or volume.spacing[0]),
            spacing_between_slices=volume.spacing[0],
        ),
        omit_empty_frames=omit_empty_frames,
        series_description=series_description,
    )
    dataset: Dataset = seg
    add_file_meta(dataset, str(seg.file_meta.TransferSyntaxUID))
    apply_overrides([dataset], overrides)
    return dataset


def _label_map(mask: NDArray[Any], volume: Volume, count: int) -> NDArray[Any]:
    array = np.asarray(mask)
    if array.shape != tuple(volume.shape[:3]):
        raise ValueError(f"mask has shape {array.shape}, the reference volume {volume.shape[:3]}")
    if array.dtype == bool:
        if count != 1:
            raise ValueError("a boolean mask holds one segment; segments names several")
        return array.astype(np.uint8)
    if array.dtype.kind not in "iu":
        raise ValueError(f"mask must be boolean or integer labels, got dtype {array.dtype}")
    if array.min() < 0 or array.max() > count:
        raise ValueError(
            f"mask labels must be in 0..{count} (one per segment), got {array.min()}..{array.max()}"
        )
    return array.astype(np.uint8 if count < 256 else np.uint16)


def _description(
    hd: ModuleType, number: int, segment: str | Segment, name: str, version: str
) -> Any:
    spec = segment if isinstance(segment, Segment) else Segment(label=str(segment))
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
        tracking_uid=new_uid() if spec.tracking_id else None,
        tracking_id=spec.tracking_id,
    )


def _ordered_sources(volume: Volume, sources: list[Dataset]) -> list[Dataset]:
    # highdicom records every source image in the SEG's references; the
    # volume order keeps the Referenced Series list stable and readable.
    by_uid = {str(ds.SOPInstanceUID): ds for ds in sources}
    ordered: list[Dataset] = []
    for uid, _ in volume.frame_numbers:
        if by_uid.get(uid) is not None and by_uid[uid] not in ordered:
            ordered.append(by_uid[uid])
    return ordered or sources
