"""Outputs: where a job's results go."""

from dcmnode.outputs.base import ExportContext, NoOutput, Output, normalise
from dcmnode.outputs.dicom import DicomOutput
from dcmnode.outputs.file import FileOutput

__all__ = ["DicomOutput", "ExportContext", "FileOutput", "NoOutput", "Output", "normalise"]
