"""The example pipeline end to end: real senders, a real node, real destinations."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from dcmnode import Address
from dcmnode.cli.run import load_pipeline
from dcmnode.grinders import Volume
from dcmnode.network.scu import send
from dcmnode.testing import JobRecorder, RecordingSCP, running, series
from support import require_tool, reserved_port, wait_for_scp

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE = EXAMPLES / "derive_ct.py"
SLICES = 16


def _write(datasets, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets:
        path = folder / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _check_derived(sent, received) -> None:
    assert len(received) == len(sent)
    assert len({ds.SOPInstanceUID for ds in received}) == len(sent)  # once each
    assert not {ds.SOPInstanceUID for ds in received} & {ds.SOPInstanceUID for ds in sent}
    assert len({ds.SeriesInstanceUID for ds in received}) == 1
    assert received[0].SeriesInstanceUID != sent[0].SeriesInstanceUID
    for ds in received:
        assert ds.PatientID == sent[0].PatientID
        assert ds.StudyInstanceUID == sent[0].StudyInstanceUID
    source, result = Volume.from_datasets(sent), Volume.from_datasets(received)
    assert np.allclose(result.affine, source.affine)  # same place in the patient
    expected = source.array.max() + source.array.min() - source.array
    assert np.allclose(result.array, expected)


def _sender_pynetdicom(node, datasets, folder):
    report = send(datasets, Address(node.pipeline.ae_title, "127.0.0.1", node.port), "SCANNER")
    assert report.ok, report.summary()


def _sender_storescu(node, datasets, folder):
    storescu = require_tool("storescu")
    _write(datasets, folder)
    subprocess.run(
        [storescu, "-aet", "SCANNER", "-aec", node.pipeline.ae_title, "+sd", "+r",
         "127.0.0.1", str(node.port), str(folder)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    "sender", [_sender_pynetdicom, _sender_storescu], ids=["pynetdicom", "storescu"]
)
def test_derived_series_reaches_a_pynetdicom_scp(sender, tmp_path):
    sent = series("E2E", count=SLICES)
    with RecordingSCP("PACS") as pacs:
        with running(load_pipeline(str(EXAMPLE)), destination=pacs.address) as node:
            jobs = JobRecorder(node)
            sender(node, sent, tmp_path / "in")
            assert node.wait_idle(60)
        assert len(jobs.finished) == 1 and not jobs.failed
        _check_derived(sent, pacs.received)


@pytest.mark.parametrize(
    "sender", [_sender_pynetdicom, _sender_storescu], ids=["pynetdicom", "storescu"]
)
def test_derived_series_reaches_dcmtk_storescp(sender, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with _dcmtk_pacs(out) as address:
        sent = series("E2E-DCMTK", count=SLICES)
        with running(load_pipeline(str(EXAMPLE)), destination=address) as node:
            jobs = JobRecorder(node)
            sender(node, sent, tmp_path / "in")
            # The job ends only after storescp acknowledged (and wrote) every instance.
            assert node.wait_idle(60)
        assert len(jobs.finished) == 1 and not jobs.failed
        received = [dcmread(p) for p in sorted(out.iterdir())]
        _check_derived(sent, received)


@contextmanager
def _dcmtk_pacs(out: Path) -> Iterator[Address]:
    """DCMTK's storescp writing into *out*, on a port held for it until it ended."""
    storescp = require_tool("storescp")
    with reserved_port() as port:
        server = subprocess.Popen(
            [storescp, "-aet", "DCMTKPACS", "-od", str(out), "--fork", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for_scp("DCMTKPACS", port, server)  # storescp says nothing when it listens
            yield Address("DCMTKPACS", "127.0.0.1", port)
        finally:
            server.terminate()
            server.wait(10)


def test_segmentation_example_returns_a_seg_over_the_network():
    sent = series("SEG1", count=8)  # values 0..170: the threshold picks the bright quadrants
    with RecordingSCP("PACS") as pacs:
        pipeline = load_pipeline(str(EXAMPLES / "segment_threshold.py"))
        with running(pipeline, destination=pacs.address, threshold=100) as node:
            jobs = JobRecorder(node)
            report = send(sent, Address("SEGNODE", "127.0.0.1", node.port), "SCANNER")
            assert report.ok
            assert node.wait_idle(60)
        assert len(jobs.finished) == 1 and not jobs.failed
    [seg] = pacs.received
    assert seg.Modality == "SEG" and seg.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4"
    assert seg.StudyInstanceUID == sent[0].StudyInstanceUID and seg.PatientID == "SEG1"
    referenced = {
        item.ReferencedSOPInstanceUID
        for series_item in seg.ReferencedSeriesSequence
        for item in series_item.ReferencedInstanceSequence
    }
    assert referenced <= {ds.SOPInstanceUID for ds in sent} and referenced
