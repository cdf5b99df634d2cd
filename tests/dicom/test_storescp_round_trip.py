"""Every built object survives a C-STORE to DCMTK's storescp unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE

from dcmnode.dicom import (
    Measurement,
    derived_series,
    pdf_report,
    secondary_capture,
    segmentation,
)
from dcmnode.grinders import Volume


def results(ct_volume: Volume) -> list[Dataset]:
    labels = np.zeros(ct_volume.shape, dtype=np.uint8)
    labels[2:5, 3:9, 2:7] = 1
    seg = segmentation(labels, ct_volume, segments=["Lesion"])
    from dcmnode.dicom import measurement_report

    sr = measurement_report(ct_volume, [Measurement("Volume", 42.0, "mm3", segment_number=1)],
                            segmentation=seg)
    derived = derived_series(ct_volume.array // 2, ct_volume, series_description="Half",
                             series_number=2)
    pdf = pdf_report(ct_volume, title="Report", table=[["a", "b"], [1, 2]])
    sc = secondary_capture(np.full((32, 48, 3), 128, np.uint8), ct_volume)
    return [derived[0], derived[-1], seg, sr, pdf, sc]


def comparable(ds: Dataset) -> dict[str, object]:
    content = ds.to_json_dict()
    return content


def test_results_round_trip_through_storescp(ct_volume: Volume, storescp: tuple[int, Path],
                                             tmp_path: Path) -> None:
    port, folder = storescp
    sent = results(ct_volume)
    ae = AE(ae_title="DCMNODE")
    for sop_class in {str(ds.SOPClassUID) for ds in sent}:
        ae.add_requested_context(sop_class, ExplicitVRLittleEndian)
    association = ae.associate("127.0.0.1", port, ae_title="STORESCP")
    assert association.is_established
    try:
        for ds in sent:
            status = association.send_c_store(ds)
            assert status.Status == 0x0000, f"C-STORE of {ds.SOPClassUID.name} failed"
    finally:
        association.release()
    received = {}
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        received[str(ds.SOPInstanceUID)] = ds
    assert len(received) == len(sent)
    for original in sent:
        # Compare the dataset as the file pydicom writes it with what arrived.
        local = tmp_path / "local.dcm"
        original.save_as(local, enforce_file_format=True)
        assert comparable(pydicom.dcmread(local)) == comparable(
            received[str(original.SOPInstanceUID)]), original.SOPClassUID.name


def test_results_round_trip_through_orthanc(ct_volume: Volume, tmp_path: Path) -> None:
    """A real PACS (Orthanc, started here on free ports) stores them unchanged."""
    import json
    import subprocess
    import urllib.request
    from contextlib import ExitStack

    from support import drain, read_until, require_tool, reserved_port

    executable = require_tool("Orthanc")
    held = ExitStack()  # both ports stay ours until Orthanc has ended (see reserved_port)
    dicom_port, http_port = (held.enter_context(reserved_port()) for _ in range(2))
    config = tmp_path / "orthanc.json"
    config.write_text(json.dumps({
        "Name": "dcmnode-test", "StorageDirectory": str(tmp_path / "storage"),
        "IndexDirectory": str(tmp_path / "storage"), "DicomAet": "ORTHANC",
        "DicomPort": dicom_port, "HttpPort": http_port, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "Plugins": [], "DicomCheckCalledAet": False,
    }))
    process = subprocess.Popen([executable, str(config)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{http_port}"
    try:
        # Logged once both its DICOM and its HTTP server listen.
        read_until(process, "Orthanc has started")
        drain(process)
        sent = results(ct_volume)
        ae = AE(ae_title="DCMNODE")
        for sop_class in {str(ds.SOPClassUID) for ds in sent}:
            ae.add_requested_context(sop_class, ExplicitVRLittleEndian)
        association = ae.associate("127.0.0.1", dicom_port, ae_title="ORTHANC")
        assert association.is_established
        try:
            for ds in sent:
                assert association.send_c_store(ds).Status == 0x0000
        finally:
            association.release()
        with urllib.request.urlopen(base + "/instances", timeout=10) as response:
            ids = json.load(response)
        assert len(ids) == len(sent)
        stored = {}
        for identifier in ids:
            with urllib.request.urlopen(f"{base}/instances/{identifier}/file",
                                        timeout=10) as response:
                path = tmp_path / f"{identifier}.dcm"
                path.write_bytes(response.read())
            ds = pydicom.dcmread(path)
            stored[str(ds.SOPInstanceUID)] = ds
        for original in sent:
            local = tmp_path / "local.dcm"
            original.save_as(local, enforce_file_format=True)
            assert comparable(pydicom.dcmread(local)) == comparable(
                stored[str(original.SOPInstanceUID)]), original.SOPClassUID.name
    finally:
        process.terminate()
        process.wait(timeout=30)
        held.close()
