"""SR measurement reports, Encapsulated PDF and Secondary Capture."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest
from matplotlib.figure import Figure
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import EncapsulatedPDFStorage

from dcmnode.dicom import (
    Measurement,
    encapsulated_pdf,
    measurement_report,
    pdf_report,
    secondary_capture,
    segmentation,
)
from dcmnode.grinders import Volume

from .conftest import Validator


def figure() -> Figure:
    fig = Figure(figsize=(4, 3), dpi=50)
    axes = fig.add_subplot()
    axes.plot([0, 1, 2], [3, 1, 2])
    axes.set_title("HU profile")
    return fig


def test_measurement_report_tid1500(ct: list[Dataset], ct_volume: Volume,
                                    dciodvfy: Validator) -> None:
    labels = np.zeros(ct_volume.shape, dtype=np.uint8)
    labels[1:4, 2:6, 2:6] = 1
    seg = segmentation(labels, ct_volume, segments=["Lesion", "Empty"])
    sr = measurement_report(ct_volume, [
        Measurement(codes.SCT.Volume, 48.0, "mm3", segment_number=1),
        Measurement("Mean attenuation", 12.5, "[hnsf'U]", segment_number=1),
        Measurement(codes.SCT.Volume, 0.0, "mm3", segment_number=2),
        Measurement("Noise", 3.2, "[hnsf'U]"),
    ], segmentation=seg)
    assert dciodvfy(sr) == []
    assert sr.StudyInstanceUID == ct[0].StudyInstanceUID
    parsed = hd.sr.Comprehensive3DSR.from_dataset(sr)
    assert parsed.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    groups = parsed.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == 2
    names = {m.name.meaning for m in groups[0].get_measurements()}
    assert names == {"Volume", "Mean attenuation"}
    assert groups[0].referenced_segment.referenced_segment_numbers == [1]
    assert groups[0].referenced_segment.referenced_sop_instance_uid == seg.SOPInstanceUID
    evidence = {str(item.ReferencedSOPInstanceUID)
                for study in sr.CurrentRequestedProcedureEvidenceSequence
                for series in study.ReferencedSeriesSequence
                for item in series.ReferencedSOPSequence}
    assert {str(ds.SOPInstanceUID) for ds in ct} | {str(seg.SOPInstanceUID)} == evidence


def test_measurement_report_checks_arguments(ct_volume: Volume) -> None:
    with pytest.raises(ValueError, match="argument 'measurements' must be a non-empty list"):
        measurement_report(ct_volume, [])
    with pytest.raises(ValueError, match="argument 'segmentation' must be given"):
        measurement_report(ct_volume, [Measurement("Volume", 1.0, "mm3", segment_number=1)])
    with pytest.raises(TypeError, match=r"measurements\[0\]"):
        measurement_report(ct_volume, [("Volume", 1.0, "mm3")])  # type: ignore[list-item]


def test_pdf_report_is_valid_encapsulated_pdf(ct: list[Dataset], dciodvfy: Validator) -> None:
    ds = pdf_report(ct, title="Lesion report", figures=[figure()],
                    table=[["Lesion", "Volume (mm3)"], ["1", "48.0"]], text="Automatic.")
    assert dciodvfy(ds) == []
    assert ds.SOPClassUID == EncapsulatedPDFStorage
    assert ds.PatientID == ct[0].PatientID and ds.StudyInstanceUID == ct[0].StudyInstanceUID
    document = bytes(ds.EncapsulatedDocument)[: int(ds.EncapsulatedDocumentLength)]
    assert document.startswith(b"%PDF-") and document.rstrip().endswith(b"%%EOF")
    assert len(ds.SourceInstanceSequence) == len(ct)


def test_encapsulated_pdf_checks_its_input(ct: list[Dataset]) -> None:
    with pytest.raises(ValueError, match="bytes of a PDF"):
        encapsulated_pdf(b"hello", ct)


def test_secondary_capture_of_a_figure(ct: list[Dataset], dciodvfy: Validator) -> None:
    ds = secondary_capture(figure(), ct, series_description="Profile", series_number=61)
    assert dciodvfy(ds) == []
    assert (int(ds.Rows), int(ds.Columns)) == (150, 200)
    assert ds.PhotometricInterpretation == "RGB"
    assert ds.StudyInstanceUID == ct[0].StudyInstanceUID
    grey = secondary_capture(np.zeros((10, 12), np.uint8), ct)
    assert dciodvfy(grey) == []
    with pytest.raises(ValueError, match="uint8"):
        secondary_capture(np.zeros((10, 12)), ct)
