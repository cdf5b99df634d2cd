"""Fixtures for the result builders: validation with dciodvfy, a DCMTK storescp."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from dcmnode.grinders import Volume
from dcmnode.testing.volumes import ct_series
from support import require_tool, reserved_port, wait_for_scp

tool = require_tool  # fails under CI=true, skips elsewhere, when missing


Validator = Callable[[Dataset], list[str]]


@pytest.fixture
def dciodvfy(tmp_path: Path) -> Validator:
    """Write a dataset as a file, run dciodvfy on it, return its error lines.

    Warnings are allowed (dciodvfy warns about optional attributes and
    private coding schemes); errors are not.
    """
    executable = tool("dciodvfy")
    counter = iter(range(1_000_000))

    def validate(ds: Dataset) -> list[str]:
        path = tmp_path / f"validate-{next(counter)}.dcm"
        ds.save_as(path, enforce_file_format=True)
        run = subprocess.run([executable, str(path)], capture_output=True, text=True,
                             timeout=60)
        lines = (run.stdout + run.stderr).splitlines()
        return [line for line in lines if line.startswith("Error")]

    return validate


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A DCMTK storescp on a free port, writing what it receives to a folder.

    The port stays reserved while storescp runs (see `reserved_port`), so
    no other test can take it between choosing the number and storescp
    binding it; storescp says nothing when it listens, so a C-ECHO tells.
    """
    executable = tool("storescp")
    folder = tmp_path / "received"
    folder.mkdir()
    with reserved_port() as port:
        process = subprocess.Popen([executable, "-od", str(folder), "-aet", "STORESCP", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_scp("STORESCP", port, process)
            yield port, folder
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def ct() -> list[Dataset]:
    """An oblique synthetic CT series in shuffled order."""
    return ct_series(row_direction=(0.8, 0.6, 0.0), column_direction=(0.0, 0.0, -1.0),
                     shuffle=True)


@pytest.fixture
def ct_volume(ct: list[Dataset]) -> Volume:
    return Volume.from_datasets(ct)
