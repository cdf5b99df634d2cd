"""Outputs: argument checks, file names from UIDs, datasets built by hand."""

from __future__ import annotations

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from dcmnode import DicomOutput, FileOutput, PipelineError
from dcmnode.errors import ExportError
from dcmnode.outputs import ExportContext, normalise

CONTEXT = ExportContext("NODE", "job-1", "P1")


def bare(uid: str | None = None) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = uid or generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = "../../etc"
    return ds


def test_file_output_names_come_from_uids_and_meta_is_completed(tmp_path):
    ds = bare()
    FileOutput([ds], tmp_path).export(CONTEXT)
    [path] = list(tmp_path.rglob("*.dcm"))
    assert path.relative_to(tmp_path).parts == (
        ds.StudyInstanceUID,
        ds.SeriesInstanceUID,
        f"{ds.SOPInstanceUID}.dcm",
    )
    assert dcmread(path).file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert not list(tmp_path.rglob("*.tmp"))


def test_file_output_refuses_a_uid_that_is_a_path(tmp_path):
    with pytest.raises(ExportError, match="not a valid UID"):
        FileOutput([bare("1.2/../../x")], tmp_path).export(CONTEXT)
    assert not list(tmp_path.rglob("*"))


def test_output_arguments_are_checked():
    with pytest.raises(PipelineError, match="no destination"):
        DicomOutput([bare()], None)
    with pytest.raises(PipelineError, match="not a pydicom Dataset"):
        DicomOutput(["x"], "A@h:1")  # type: ignore[list-item]
    with pytest.raises(PipelineError, match="return an Output"):
        normalise(42)
    assert DicomOutput(bare(), "PACS@host:104").addresses[0].port == 104
