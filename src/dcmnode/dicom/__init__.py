"""Build DICOM results next to their source, and de-identify datasets.

Every builder copies the patient and study from the reference series and
returns datasets with ``file_meta`` set, ready for C-STORE or
``dcmwrite(..., enforce_file_format=True)``. The results conform to their
IOD whatever the reference lacks (absent Type 2 attributes written empty,
invalid values cleaned, with a warning); their UIDs are derived from the
reference instances and the arguments, so building again from the same
inputs gives the same UIDs (``uid_seed=`` tells versions apart); the series
number defaults to the reference's plus 1000.

``segmentation``, ``measurement_report``, ``secondary_capture`` (highdicom),
``rtstruct`` (scikit-image)
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
from .rtstruct import ROI, rtstruct
from .segmentation import Segment, segmentation

__all__ = [
    "BurnedInAnnotationError",
    "Crosswalk",
    "Measurement",
    "PixelEncoding",
    "ROI",
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
    "rtstruct",
    "secondary_capture",
    "segmentation",
]
