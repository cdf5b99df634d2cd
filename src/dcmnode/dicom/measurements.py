"""Measurements as a DICOM SR Measurement Report (TID 1500), via highdicom.

highdicom comes with the ``results`` extra: ``pip install 'dcmnode[results]'``.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

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

__all__ = ["Measurement", "measurement_report"]

# Private coding scheme for free-text measurement names ("99" prefix marks a
# local scheme in DICOM; PS3.16 section 8.2).
LOCAL_SCHEME = "99DCMNODE"


@dataclass(frozen=True)
class Measurement:
    """One numeric measurement (TID 300).

    Parameters
    ----------
    name
        A code (e.g. ``codes.SCT.Volume``) or free text, coded in the local
        scheme ``99DCMNODE``.
    value
        The number.
    unit
        A code or a UCUM unit string such as ``"mm3"``, ``"[hnsf'U]"``, ``"1"``.
    segment_number
        The SEG segment the value describes (needs ``segmentation=``); ``None``
        for a value about the whole image series.
    """

    name: str | Code
    value: float
    unit: str | Code
    segment_number: int | None = None

    def __post_init__(self) -> None:
        # Checked here, where the caller made the mistake, not deep in highdicom.
        for name in ("name", "unit"):
            value = getattr(self, name)
            if not isinstance(value, str | Code) or (isinstance(value, str) and not value):
                raise TypeError(
                    f"argument '{name}' must be a Code or a non-empty str, got {value!r}"
                )
        if isinstance(self.value, bool) or not isinstance(self.value, numbers.Real):
            raise TypeError(f"argument 'value' must be a number, got {type(self.value).__name__}")
        if self.segment_number is not None and (
            isinstance(self.segment_number, bool)
            or not isinstance(self.segment_number, numbers.Integral)
            or self.segment_number < 1
        ):
            raise ValueError(
                f"argument 'segment_number' must be a positive int or None, "
                f"got {self.segment_number!r}"
            )


def _concept(value: str | Code, scheme: str, argument: str) -> Code:
    if isinstance(value, Code):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(f"argument '{argument}' must be a Code or a non-empty str, got {value!r}")
    code = value
    if scheme != "UCUM" and len(value) > 16:
        # Code values are at most 16 characters (SH); a digest keeps two long
        # names with the same beginning from sharing a code.
        code = value[:7] + "-" + hashlib.sha256(value.encode()).hexdigest()[:8]
    return Code(value=code, scheme_designator=scheme, meaning=value[:64])


def measurement_report(
    reference: Volume | Sequence[Dataset],
    measurements: Sequence[Measurement],
    *,
    segmentation: Dataset | None = None,
    procedure: Code | None = None,
    series_description: str = "Measurements",
    series_number: int | None = None,
    algorithm_name: str = "dcmnode",
    algorithm_version: str = "1",
    manufacturer: str = "dcmnode",
    uid_seed: str | None = None,
    **overrides: Any,
) -> Dataset:
    """Build a Comprehensive 3D SR holding a TID 1500 Measurement Report.

    Parameters
    ----------
    reference
        The measured series (datasets or :class:`Volume`); also recorded as
        evidence.
    measurements
        Values to report. Those with a ``segment_number`` are grouped per
        segment as volumetric ROI measurements referencing ``segmentation``;
        the others form one group about the image series.
    segmentation
        The SEG dataset the segment numbers refer to.
    procedure
        Procedure reported (default: "Imaging procedure").
    series_description, series_number
        Of the new SR series. The series number defaults to the reference's
        SeriesNumber + 1000 (1000 when it has none).
    algorithm_name, algorithm_version
        The device observer and the algorithm identification.
    uid_seed
        Mixed into the UIDs, which are otherwise derived from the reference
        instances, the segmentation, the arguments and the measurement names
        (the same inputs give the same UIDs).
    **overrides
        DICOM keywords set on the result last.

    Raises
    ------
    MissingExtraError
        highdicom is not installed (``pip install 'dcmnode[results]'``).
    """
    hd = require("results", "highdicom", "measurement_report()")
    check_text(series_description, "series_description")
    check_producer(algorithm_name, algorithm_version, manufacturer)
    sources = reference_datasets(reference)
    series_number = series_number_for(series_number, sources)
    _check_measurements(measurements, segmentation)
    uids = ResultUIDs(
        "measurement_report",
        sources,
        [series_description, series_number, algorithm_name, algorithm_version]
        + [segmentation.SOPInstanceUID if segmentation is not None else None]
        + [(str(m.name), m.segment_number) for m in measurements],
        uid_seed,
    )
    # highdicom copies patient and study from the evidence and refuses
    # invalid or missing values: it gets cleaned, completed header copies.
    sources = header_copies(sources, "measurement_report")
    algorithm = hd.sr.AlgorithmIdentification(name=algorithm_name, version=algorithm_version)
    groups = _groups(hd, measurements, sources, segmentation, algorithm, uids)
    report = hd.sr.MeasurementReport(
        observation_context=_observer(hd, algorithm_name, algorithm_version, manufacturer),
        procedure_reported=procedure or codes.SCT.ImagingProcedure,
        imaging_measurements=groups,
    )
    evidence = list(sources) + ([segmentation] if segmentation is not None else [])
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report[0],
        series_instance_uid=uids.series,
        series_number=series_number,
        sop_instance_uid=uids.instance(),
        instance_number=1,
        manufacturer=manufacturer,
        is_complete=True,
        series_description=series_description,
    )
    dataset: Dataset = sr
    add_file_meta(dataset, str(sr.file_meta.TransferSyntaxUID))
    conform([dataset], "measurement_report")
    apply_overrides([dataset], overrides)
    return dataset


def _observer(hd: ModuleType, name: str, version: str, manufacturer: str) -> Any:
    # The device UID names the algorithm, not the report: the same for every job.
    device = ResultUIDs("device", [], [name, version, manufacturer])
    return hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=device.uid("device"), name=name, manufacturer_name=manufacturer
            ),
        )
    )


def _check_measurements(measurements: Sequence[Measurement], segmentation: Dataset | None) -> None:
    if isinstance(measurements, Measurement) or not measurements:
        raise ValueError(
            f"argument 'measurements' must be a non-empty list of Measurement, got {measurements!r}"
        )
    if segmentation is not None and not isinstance(segmentation, Dataset):
        raise TypeError(
            f"argument 'segmentation' must be a SEG Dataset, got {type(segmentation).__name__}"
        )
    for i, m in enumerate(measurements):
        if not isinstance(m, Measurement):
            raise TypeError(
                f"argument 'measurements[{i}]' must be a Measurement, got {type(m).__name__}"
            )
        if m.segment_number is not None and segmentation is None:
            raise ValueError(
                f"argument 'segmentation' must be given: measurements[{i}] names segment "
                f"{m.segment_number}, got None"
            )


def _groups(
    hd: ModuleType,
    measurements: Sequence[Measurement],
    sources: list[Dataset],
    segmentation: Dataset | None,
    algorithm: Any,
    uids: ResultUIDs,
) -> list[Any]:
    by_segment: dict[int | None, list[Any]] = {}
    for i, m in enumerate(measurements):
        item = hd.sr.Measurement(
            name=_concept(m.name, LOCAL_SCHEME, f"measurements[{i}].name"),
            value=float(m.value),
            unit=_concept(m.unit, "UCUM", f"measurements[{i}].unit"),
            algorithm_id=algorithm,
        )
        by_segment.setdefault(m.segment_number, []).append(item)
    groups: list[Any] = []
    for number, items in by_segment.items():
        if number is None:
            groups.append(
                hd.sr.MeasurementsAndQualitativeEvaluations(
                    tracking_identifier=hd.sr.TrackingIdentifier(
                        uid=uids.uid("tracking", None), identifier="Image measurements"
                    ),
                    measurements=items,
                    source_images=[
                        hd.sr.SourceImageForMeasurementGroup.from_source_image(ds)
                        for ds in sources[:1]
                    ],
                )
            )
            continue
        assert segmentation is not None
        groups.append(
            hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=uids.uid("tracking", number), identifier=f"Segment {number}"
                ),
                referenced_segment=_referenced_segment(hd, segmentation, number, sources),
                measurements=items,
            )
        )
    return groups


def _referenced_segment(
    hd: ModuleType, segmentation: Dataset, number: int, sources: list[Dataset]
) -> Any:
    numbers = [int(item.SegmentNumber) for item in segmentation.SegmentSequence]
    if number not in numbers:
        raise ValueError(
            f"argument 'segment_number' must be one of the segmentation's segments {numbers}, "
            f"got {number}"
        )
    # Reference the segment, not its frames: the SR image reference macro
    # forbids ReferencedSegmentNumber together with ReferencedFrameNumber
    # (dciodvfy flags it), and an empty segment has no frames anyway.
    return hd.sr.ReferencedSegment(
        sop_class_uid=segmentation.SOPClassUID,
        sop_instance_uid=segmentation.SOPInstanceUID,
        segment_number=number,
        source_series=hd.sr.SourceSeriesForSegmentation(str(sources[0].SeriesInstanceUID)),
    )
