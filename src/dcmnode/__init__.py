"""dcmnode: turn an image-processing function into a DICOM node.

The public API is what this module exports; everything else may change.

The names are loaded on first use (PEP 562), so that a tool importing one
part -- ``dcmnode.network.scp``, ``dcmnode.dicom`` -- does not load the
whole engine with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from dcmnode.errors import (
        ConfigError,
        DcmnodeError,
        ExportError,
        NetworkError,
        PipelineError,
    )
    from dcmnode.inputs.base import Input
    from dcmnode.job import Job
    from dcmnode.network.address import Address
    from dcmnode.network.association import Sender
    from dcmnode.node import Node
    from dcmnode.outputs import DicomOutput, FileOutput, NoOutput, Output
    from dcmnode.pipeline import Pipeline

_EXPORTS = {
    "Address": "dcmnode.network.address",
    "ConfigError": "dcmnode.errors",
    "DcmnodeError": "dcmnode.errors",
    "DicomOutput": "dcmnode.outputs",
    "ExportError": "dcmnode.errors",
    "FileOutput": "dcmnode.outputs",
    "Input": "dcmnode.inputs.base",
    "Job": "dcmnode.job",
    "NetworkError": "dcmnode.errors",
    "NoOutput": "dcmnode.outputs",
    "Node": "dcmnode.node",
    "Output": "dcmnode.outputs",
    "Pipeline": "dcmnode.pipeline",
    "PipelineError": "dcmnode.errors",
    "Sender": "dcmnode.network.association",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dcmnode' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
