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
