"""`Output`: what ``process`` returns, and how it leaves the node."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from dcmnode.errors import PipelineError


@dataclass(frozen=True)
class ExportContext:
    """What an output needs to know about the node and the job it serves."""

    calling_ae: str
    job_id: str
    patient_id: str
    timeout: float = 60.0


class Output:
    """Base class of every output. Subclasses implement `export`."""

    def export(self, context: ExportContext) -> None:
        """Deliver the result; raise `~dcmnode.errors.ExportError` on failure."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short description for log lines."""
        return type(self).__name__


def check_datasets(datasets: Any, owner: str) -> list[Dataset]:
    """Accept one dataset or an iterable of datasets; reject anything else clearly."""
    if isinstance(datasets, Dataset):
        return [datasets]
    if isinstance(datasets, str | bytes) or not isinstance(datasets, Iterable):
        raise PipelineError(f"{owner}: expected a Dataset or a list of Datasets, got {datasets!r}")
    result = list(datasets)
    for index, ds in enumerate(result):
        if not isinstance(ds, Dataset):
            raise PipelineError(
                f"{owner}: item {index} is a {type(ds).__name__}, not a pydicom Dataset"
            )
        if "SOPInstanceUID" not in ds or "SOPClassUID" not in ds:
            raise PipelineError(f"{owner}: item {index} lacks SOPInstanceUID or SOPClassUID")
        ensure_file_meta(ds)
    return result


def ensure_file_meta(ds: Dataset) -> Dataset:
    """Give a dataset built by hand the file meta it needs to be sent or written.

    A missing transfer syntax becomes Explicit VR Little Endian; the media
    storage UIDs follow the dataset's own. Existing values are kept.
    """
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def normalise(result: object) -> Sequence[Output]:
    """Turn what ``process`` returned (None, one output, a list) into a list."""
    if result is None:
        return []
    if isinstance(result, Output):
        return [result]
    if isinstance(result, list | tuple):
        for index, item in enumerate(result):
            if not isinstance(item, Output):
                raise PipelineError(
                    f"process returned a list whose item {index} is a {type(item).__name__}, "
                    "not an Output (DicomOutput, FileOutput, NoOutput)"
                )
        return list(result)
    raise PipelineError(
        f"process returned a {type(result).__name__}; return an Output, a list of Outputs or None"
    )


class NoOutput(Output):
    """The job produces nothing to send (e.g. it only writes to a database)."""

    def export(self, context: ExportContext) -> None:
        return None
