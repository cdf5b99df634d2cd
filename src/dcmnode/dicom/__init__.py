"""Build DICOM results next to their source, and de-identify datasets.

Every builder copies the patient and study from the reference series, makes
new UIDs and returns datasets with ``file_meta`` set, ready for C-STORE or
``dcmwrite(..., enforce_file_format=True)``.

``segmentation``, ``measurement_report``, ``secondary_capture`` (highdicom)
and ``pdf_report`` / ``render_pdf`` (matplotlib) need the ``results`` extra,
``pip install 'dcmnode[results]'``; the others need no extra.
"""

from .deid import (
    BurnedInAnnotationError,
    Crosswalk,
    ReidentificationError,
    anonymize,
    anonymizing,
    burned_in_annotation,
    find_burned_in,
)
from .derived import PixelEncoding, derived_series, pixel_encoding
from .documents import encapsulated_pdf, pdf_report, render_pdf, secondary_capture
from .measurements import Measurement, measurement_report
from .segmentation import Segment, segmentation

__all__ = [
    "BurnedInAnnotationError",
    "Crosswalk",
    "Measurement",
    "PixelEncoding",
    "ReidentificationError",
    "Segment",
    "anonymize",
    "anonymizing",
    "burned_in_annotation",
    "derived_series",
    "encapsulated_pdf",
    "find_burned_in",
    "measurement_report",
    "pdf_report",
    "pixel_encoding",
    "render_pdf",
    "secondary_capture",
    "segmentation",
]
