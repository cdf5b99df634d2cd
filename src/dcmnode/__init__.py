"""dcmnode: turn an image-processing function into a DICOM node.

The public API is what this module exports; everything else may change.
"""

from dcmnode.errors import ConfigError, DcmnodeError, ExportError, NetworkError, PipelineError
from dcmnode.inputs.base import Input
from dcmnode.job import Job
from dcmnode.network.address import Address
from dcmnode.node import Node
from dcmnode.outputs import DicomOutput, FileOutput, NoOutput, Output
from dcmnode.pipeline import Pipeline
from dcmnode.store.model import Sender

__all__ = [
    "Address",
    "ConfigError",
    "DcmnodeError",
    "DicomOutput",
    "ExportError",
    "FileOutput",
    "Input",
    "Job",
    "NetworkError",
    "NoOutput",
    "Node",
    "Output",
    "Pipeline",
    "PipelineError",
    "Sender",
]

__version__ = "0.1.0"
