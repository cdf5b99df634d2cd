"""`FileOutput`: write results as Part-10 files, named from UIDs."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pydicom import dcmwrite
from pydicom.dataset import Dataset

from dcmnode.errors import ExportError, PipelineError
from dcmnode.outputs.base import ExportContext, Output, check_datasets

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


def uid_name(value: object, what: str) -> str:
    """Return *value* if it is a well-formed UID, safe as a file or folder name."""
    text = str(value).strip()
    if len(text) > 64 or not _UID.fullmatch(text):
        raise ExportError(f"{what} {text[:80]!r} is not a valid UID; refusing to use it as a name")
    return text


class FileOutput(Output):
    """Write datasets under ``directory/StudyInstanceUID/SeriesInstanceUID/SOPInstanceUID.dcm``.

    Names come only from UIDs (checked to be digits and dots), never from
    patient text. Each file is written to a temporary name and renamed, so a
    reader never sees half a file.
    """

    def __init__(self, datasets: Dataset | Iterable[Dataset], directory: str | os.PathLike[str]):
        self.datasets = check_datasets(datasets, "FileOutput.datasets")
        if directory is None or str(directory) == "":
            raise PipelineError("FileOutput.directory: a directory is required")
        self.directory = Path(directory)

    def export(self, context: ExportContext) -> None:
        # Check every name before writing anything: a bad UID fails the job
        # without leaving some of its files behind.
        targets = [
            self.directory
            / uid_name(ds.get("StudyInstanceUID", ""), "StudyInstanceUID")
            / uid_name(ds.get("SeriesInstanceUID", ""), "SeriesInstanceUID")
            / f"{uid_name(ds.SOPInstanceUID, 'SOPInstanceUID')}.dcm"
            for ds in self.datasets
        ]
        for ds, target in zip(self.datasets, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(ds, target)

    def describe(self) -> str:
        return f"FileOutput({len(self.datasets)} instances -> {self.directory})"


def _write_atomically(ds: Dataset, target: Path) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            dcmwrite(handle, ds, enforce_file_format=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
