"""Every result builder and a range of reference series, for tests that cover them all.

To cover a new builder, append a :class:`Builder` to ``BUILDERS``: the
validity, determinism and series-number tests then run it against every
source in ``SOURCES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from dcmnode.dicom import (
    Measurement,
    anonymize,
    derived_series,
    encapsulated_pdf,
    measurement_report,
    rtstruct,
    secondary_capture,
    segmentation,
)
from dcmnode.grinders import Volume
from dcmnode.testing import series
from dcmnode.testing.volumes import ct_series

Build = Callable[..., list[Dataset]]

# ---------------------------------------------------------------- sources


def pydicom_file(name: str) -> list[Dataset]:
    return [pydicom.dcmread(get_testdata_file(name))]


def enhanced_ct() -> list[Dataset]:
    return enhanced(ct_series(), "CT")


def enhanced(sources: list[Dataset], modality: str) -> list[Dataset]:
    import highdicom as hd

    convert = {"CT": hd.legacy.LegacyConvertedEnhancedCTImage,
               "MR": hd.legacy.LegacyConvertedEnhancedMRImage}[modality]
    for ds in sources:
        # The converter needs a window for its Frame VOI LUT macro (Type 1).
        ds.WindowCenter, ds.WindowWidth = 40, 400
    enhanced = convert(sources, series_instance_uid=hd.UID(), series_number=5,
                       sop_instance_uid=hd.UID(), instance_number=1)
    # highdicom's converter lists the classic sources in the Common Instance
    # Reference module without referencing them from any frame, which
    # dciodvfy reports as an error in the source itself.
    del enhanced.ReferencedSeriesSequence
    return [enhanced]


# What a reference must keep to be placed at all: identity, geometry, pixels
# and the Type 1 attributes of its modality module. Everything else (Type 2,
# 2C and 3) goes, as in the sparsest files scanners and converters write.
_KEEP = {
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality",
    "FrameOfReferenceUID", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
    "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "PixelData", "RescaleIntercept",
    "RescaleSlope", "ImageType", "ScanningSequence", "SequenceVariant", "SpecificCharacterSet",
}


def sparse(datasets: list[Dataset]) -> list[Dataset]:
    for ds in datasets:
        for element in list(ds):
            if element.keyword not in _KEEP:
                del ds[element.tag]
    return datasets


# Values their VR or an enumerated list forbids, as real exporters write them.
INVALID = {
    "PatientSex": "Male", "StudyDate": "2020-01-02", "PatientAge": "54",
    "InstitutionName": "x" * 100, "Laterality": "X", "BodyPartExamined": "Chest",
    "KVP": "120.000000000000001", "AcquisitionNumber": "abc", "StudyTime": "12:00",
    "PatientWeight": "seventy", "StudyID": "y" * 20, "PatientBirthDate": "19701350",
    "ReferringPhysicianName": "a^b^c^d^e^f",
}


def invalid(datasets: list[Dataset]) -> list[Dataset]:
    for ds in datasets:
        for keyword, text in INVALID.items():
            tag = tag_for_keyword(keyword)
            assert tag is not None
            raw = text.encode() + (b" " if len(text) % 2 else b"")
            # A raw element is what dcmread leaves for a value it has not parsed.
            ds[tag] = RawDataElement(tag, dictionary_VR(tag), len(raw), raw, 0, False, True)
    return datasets


SOURCES: dict[str, Callable[[], list[Dataset]]] = {
    "pydicom-CT_small": lambda: pydicom_file("CT_small.dcm"),
    "pydicom-MR_small": lambda: pydicom_file("MR_small.dcm"),
    "series-CT": lambda: series(count=4),
    "series-MR": lambda: series(count=4, modality="MR"),
    "series-PT": lambda: series(count=4, modality="PT"),
    "ct_series-oblique": lambda: ct_series(row_direction=(0.8, 0.6, 0.0),
                                          column_direction=(0.0, 0.0, -1.0), shuffle=True),
    "enhanced-CT": enhanced_ct,
    "enhanced-MR": lambda: enhanced(series(count=4, modality="MR"), "MR"),
    "sparse-CT_small": lambda: sparse(pydicom_file("CT_small.dcm")),
    "sparse-MR_small": lambda: sparse(pydicom_file("MR_small.dcm")),
    "sparse-ct_series": lambda: sparse(ct_series()),
    "invalid-ct_series": lambda: invalid(ct_series()),
}

# ---------------------------------------------------------------- builders


@dataclass(frozen=True)
class Builder:
    """One result builder: ``build(sources, **arguments)`` returns its datasets.

    ``arguments`` may hold ``series_description`` and ``series_number`` when
    ``named`` is set (every builder that makes a new series); ``refuses`` names
    sources the builder declines with a ValueError by design.
    """

    name: str
    build: Build
    named: bool = True
    refuses: frozenset[str] = field(default_factory=frozenset)


def _volume(sources: list[Dataset]) -> Volume:
    return Volume.from_datasets(sources)


def _derived(sources: list[Dataset], **arguments: Any) -> list[Dataset]:
    volume = _volume(sources)
    arguments.setdefault("series_description", "Derived")
    return derived_series(volume.array // 2, volume, **arguments)


def _seg(sources: list[Dataset], **arguments: Any) -> list[Dataset]:
    volume = _volume(sources)
    mask = volume.array > np.median(volume.array)
    return [segmentation(mask, volume, segments=["Bright"], **arguments)]


def _sr(sources: list[Dataset], **arguments: Any) -> list[Dataset]:
    return [measurement_report(_volume(sources), [Measurement("Mean", 1.5, "[hnsf'U]")],
                               **arguments)]


def _sr_on_seg(sources: list[Dataset], **arguments: Any) -> list[Dataset]:
    volume = _volume(sources)
    seg = segmentation(volume.array > np.median(volume.array), volume, segments=["Bright"])
    return [measurement_report(volume, [Measurement("Volume", 2.0, "mm3", segment_number=1)],
                               segmentation=seg, **arguments)]


def _pdf(sources: list[Dataset], **arguments: Any) -> list[Dataset]:
    return [encapsulated_pdf(b"%PDF-1.4\n%%EOF\n", sources, **arguments)]


def _sc(sources: list[Dataset], **arguments: Any) -> list[Dataset]:
    return [secondary_capture(np.full((16, 24, 3), 90, np.uint8), sources, **arguments)]


def _rtstruct(sources: list[Dataset], **arguments: Any) -> list[Dataset]:
    volume = _volume(sources)
    return [rtstruct(volume.array > np.median(volume.array), volume, rois=["Bright"], **arguments)]


def _anonymized(sources: list[Dataset], **arguments: Any) -> list[Dataset]:
    return anonymize(sources, **arguments)


BUILDERS: list[Builder] = [
    Builder("derived_series", _derived),
    Builder("segmentation", _seg),
    Builder("measurement_report", _sr),
    Builder("measurement_report+seg", _sr_on_seg),
    Builder("encapsulated_pdf", _pdf),
    Builder("secondary_capture", _sc),
    Builder("rtstruct", _rtstruct),
    Builder("anonymize", _anonymized, named=False),
]
