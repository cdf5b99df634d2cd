"""Reports for humans: Encapsulated PDF and Secondary Capture images of figures.

:func:`render_pdf` and :func:`pdf_report` need matplotlib, :func:`secondary_capture`
needs highdicom; both come with ``pip install 'dcmnode[results]'``.
:func:`encapsulated_pdf` needs neither.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import EncapsulatedPDFStorage

from ..extras import require
from ..grinders.volume import Volume
from ._common import (
    PATIENT_KEYWORDS,
    STUDY_KEYWORDS,
    ResultUIDs,
    add_file_meta,
    apply_overrides,
    check_number,
    check_text,
    copy_keywords,
    now,
    reference_datasets,
    series_number_for,
)
from ._conform import conform, header_copies

__all__ = ["encapsulated_pdf", "pdf_report", "render_pdf", "secondary_capture"]


def render_pdf(
    title: str,
    figures: Sequence[Any] = (),
    table: Sequence[Sequence[Any]] | None = None,
    text: str = "",
) -> bytes:
    """Lay out a title, optional text and table, then one figure per page, as PDF bytes.

    ``figures`` are matplotlib figures; ``table`` is a list of rows whose first
    row is the header. Needs matplotlib (``pip install 'dcmnode[results]'``;
    :class:`~dcmnode.errors.MissingExtraError` otherwise).
    """
    # Figure and PdfPages need no pyplot and no backend switch, so nothing
    # process-wide changes (no display is needed on a server either).
    feature = "render_pdf()/pdf_report()"
    backend_pdf = require("results", "matplotlib.backends.backend_pdf", feature)
    figure_module = require("results", "matplotlib.figure", feature)

    buffer = io.BytesIO()
    with backend_pdf.PdfPages(buffer) as pdf:
        page = figure_module.Figure(figsize=(8.27, 11.69))  # A4 portrait
        page.text(0.08, 0.94, title, fontsize=18, weight="bold", va="top")
        if text:
            page.text(0.08, 0.88, text, fontsize=10, va="top", wrap=True)
        if table:
            axes = page.add_axes((0.08, 0.1, 0.84, 0.65))
            axes.axis("off")
            header, *rows = [[str(cell) for cell in row] for row in table]
            drawn = axes.table(
                cellText=rows or [[""] * len(header)], colLabels=header, loc="upper center"
            )
            drawn.scale(1, 1.5)
        pdf.savefig(page)
        for figure in figures:
            pdf.savefig(figure)
    return buffer.getvalue()


def encapsulated_pdf(
    pdf: bytes,
    reference: Volume | Sequence[Dataset],
    *,
    document_title: str = "Report",
    series_description: str = "Report",
    series_number: int | None = None,
    manufacturer: str = "dcmnode",
    uid_seed: str | None = None,
    **overrides: Any,
) -> Dataset:
    """Wrap PDF bytes as an Encapsulated PDF Storage instance in the reference's study.

    Parameters
    ----------
    pdf
        The document (starts with ``%PDF``).
    reference
        The series the report is about: patient and study are copied and
        its instances listed in SourceInstanceSequence.
    document_title, series_description, series_number
        Shown by viewers and PACS. The series number defaults to the
        reference's SeriesNumber + 1000 (1000 when it has none).
    manufacturer
        General Equipment of the report's creator.
    uid_seed
        Mixed into the UIDs, which are otherwise derived from the reference
        instances and the arguments (the same inputs give the same UIDs).
    **overrides
        DICOM keywords set on the result last.
    """
    if not isinstance(pdf, bytes | bytearray):
        raise TypeError(f"argument 'pdf' must be bytes, got {type(pdf).__name__}")
    if not bytes(pdf[:5]) == b"%PDF-":
        raise ValueError(
            f"argument 'pdf' must be the bytes of a PDF document (starting with %PDF-), "
            f"got bytes starting with {bytes(pdf[:5])!r}"
        )
    check_text(document_title, "document_title")
    check_text(series_description, "series_description")
    check_text(manufacturer, "manufacturer")
    sources = reference_datasets(reference)
    series_number = series_number_for(series_number, sources)
    uids = ResultUIDs(
        "encapsulated_pdf", sources, [document_title, series_description, series_number], uid_seed
    )
    ds = _header(
        sources[0], EncapsulatedPDFStorage, "DOC", series_description, series_number, manufacturer
    )
    ds.SeriesInstanceUID, ds.SOPInstanceUID = uids.series, uids.instance()
    ds.BurnedInAnnotation = "YES"  # a report names the patient inside the document
    ds.DocumentTitle = document_title
    ds.ConceptNameCodeSequence = DicomSequence([])
    ds.AcquisitionDateTime = ""
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.SourceInstanceSequence = DicomSequence([_reference(s) for s in sources])
    data = bytes(pdf)
    ds.EncapsulatedDocumentLength = len(data)
    # OB values have even length; the pad byte is outside the stated length.
    ds.EncapsulatedDocument = data + (b"\0" if len(data) % 2 else b"")
    add_file_meta(ds)
    conform([ds], "encapsulated_pdf")
    apply_overrides([ds], overrides)
    return ds


def pdf_report(
    reference: Volume | Sequence[Dataset],
    *,
    title: str,
    figures: Sequence[Any] = (),
    table: Sequence[Sequence[Any]] | None = None,
    text: str = "",
    series_description: str = "Report",
    series_number: int | None = None,
    uid_seed: str | None = None,
    **overrides: Any,
) -> Dataset:
    """Render figures and a table to PDF and wrap it as Encapsulated PDF.

    See :func:`render_pdf` for the layout and :func:`encapsulated_pdf` for the
    DICOM side. Needs matplotlib (``pip install 'dcmnode[results]'``).
    """
    check_text(title, "title")
    pdf = render_pdf(title, figures, table, text)
    return encapsulated_pdf(
        pdf,
        reference,
        document_title=title,
        series_description=series_description,
        series_number=series_number,
        uid_seed=uid_seed,
        **overrides,
    )


def secondary_capture(
    image: Any,
    reference: Volume | Sequence[Dataset],
    *,
    series_description: str = "Figure",
    series_number: int | None = None,
    instance_number: int = 1,
    manufacturer: str = "dcmnode",
    burned_in_annotation: bool = False,
    uid_seed: str | None = None,
    **overrides: Any,
) -> Dataset:
    """A Secondary Capture image of a matplotlib figure or an RGB / grey array.

    Parameters
    ----------
    image
        A matplotlib ``Figure`` (rendered at its DPI), an ``(rows, columns,
        3)`` uint8 RGB array or an ``(rows, columns)`` uint8 grey array.
    reference
        Series whose patient and study the image joins.
    series_description, series_number, instance_number
        Where it shows up in the viewer. The series number defaults to the
        reference's SeriesNumber + 1000 (1000 when it has none); several
        figures of one series share it and differ in instance number.
    manufacturer
        General Equipment of the image's creator.
    burned_in_annotation
        Set when the picture shows text that identifies the patient (a name
        in a title, say), so that de-identification flags it.
    uid_seed
        Mixed into the UIDs, which are otherwise derived from the reference
        instances and the arguments (the same inputs give the same UIDs).
    **overrides
        DICOM keywords set on the result last.

    Raises
    ------
    MissingExtraError
        highdicom is not installed (``pip install 'dcmnode[results]'``).
    """
    hd = require("results", "highdicom", "secondary_capture()")
    check_text(series_description, "series_description")
    check_text(manufacturer, "manufacturer")
    check_number(instance_number, "instance_number")
    sources = reference_datasets(reference)
    series_number = series_number_for(series_number, sources)
    pixels = _pixels_of(image)
    rgb = pixels.ndim == 3
    # The series UID leaves out the instance number: figures 1, 2, 3 of
    # one call site belong to one series.
    uids = ResultUIDs("secondary_capture", sources, [series_description, series_number], uid_seed)
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=header_copies(sources[:1], "secondary_capture")[0],
        pixel_array=pixels,
        photometric_interpretation="RGB" if rgb else "MONOCHROME2",
        bits_allocated=8,
        coordinate_system="PATIENT",
        series_instance_uid=uids.series,
        series_number=series_number,
        sop_instance_uid=uids.instance(instance_number),
        instance_number=instance_number,
        manufacturer=manufacturer,
        patient_orientation=("L", "P"),
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        series_description=series_description,
    )
    dataset: Dataset = sc
    dataset.BurnedInAnnotation = "YES" if burned_in_annotation else "NO"
    # highdicom insists on a patient orientation; a chart has none, and the
    # attribute is Type 2, so state "unknown" rather than a made-up L/P.
    dataset.PatientOrientation = None
    if "Laterality" not in dataset:
        # Type 2C in General Series; validators cannot tell whether the figure
        # shows a paired organ, so state "unknown" explicitly.
        dataset.Laterality = ""
    add_file_meta(dataset, str(sc.file_meta.TransferSyntaxUID))
    conform([dataset], "secondary_capture")
    apply_overrides([dataset], overrides)
    return dataset


def _pixels_of(image: Any) -> NDArray[np.uint8]:
    if hasattr(image, "canvas") and hasattr(image, "savefig"):
        backend_agg = require(
            "results", "matplotlib.backends.backend_agg", "secondary_capture() of a Figure"
        )
        canvas: Any = backend_agg.FigureCanvasAgg(image)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(
            "argument 'image' must be a matplotlib Figure or a uint8 array, "
            f"got dtype {array.dtype}"
        )
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3):
        return array
    raise ValueError(
        f"argument 'image' must have shape (rows, columns) or (rows, columns, 3), got {array.shape}"
    )


def _header(
    source: Dataset, sop_class: str, modality: str, description: str, number: int, manufacturer: str
) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = source.get("SpecificCharacterSet", "ISO_IR 100")
    ds.SOPClassUID = sop_class
    copy_keywords(source, ds, PATIENT_KEYWORDS + STUDY_KEYWORDS)
    for keyword in (
        "PatientName",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        "StudyTime",
        "ReferringPhysicianName",
        "StudyID",
        "AccessionNumber",
    ):
        if keyword not in ds:
            setattr(ds, keyword, "")  # type 2: present, possibly empty
    ds.Modality = modality
    ds.SeriesNumber = number
    ds.SeriesDescription = description
    ds.Manufacturer = manufacturer
    ds.ConversionType = "WSD"  # workstation: made by software, not digitised
    ds.InstanceNumber = 1
    stamp = now()
    ds.ContentDate = ds.InstanceCreationDate = stamp.strftime("%Y%m%d")
    ds.ContentTime = ds.InstanceCreationTime = stamp.strftime("%H%M%S.%f")
    return ds


def _reference(source: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    return item
