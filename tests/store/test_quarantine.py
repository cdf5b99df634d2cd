"""An indexed file that cannot be read at start-up is kept, quarantined and listed as failed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dcmnode import Input, Pipeline
from dcmnode.store import admin
from dcmnode.testing import running, series
from sending import store_all


class NeverComplete(Input):
    required_values = {"Modality": "CT"}

    def is_complete(self, datasets) -> bool:  # type: ignore[no-untyped-def]
        return False


class Waiting(Pipeline):
    ae_title = "NODE"
    quiet_period = 0.0  # checked as soon as the sender is done
    inputs = {"ct": NeverComplete}

    def process(self, job):  # type: ignore[no-untyped-def]
        return None


def _failed_list(data: Path) -> str:
    cli = [sys.executable, "-m", "dcmnode", "failed", "list", str(data)]
    return subprocess.run(cli, capture_output=True, text=True, check=True).stdout


def test_unreadable_file_at_restart_is_quarantined_listed_and_recoverable(tmp_path):
    data = tmp_path / "data"
    sent = series("BROKEN", count=3)
    with running(Waiting, data_directory=str(data)) as node:
        assert store_all(node, sent) == [0] * 3
        assert node.wait_idle(30)
        snapshot = node.store.snapshot("BROKEN")
        assert snapshot is not None
        victim = snapshot.inputs["ct"][0]
    path = Path(str(victim.path))
    intact = path.read_bytes()
    path.write_bytes(b"\0" * 1024)  # damaged while the node was down

    with running(Waiting, data_directory=str(data)) as node:
        [failed] = node.store.failed()
        [status] = node.store.patients()
        assert status.collecting == 2  # the readable rest waits as before
    assert failed.patient == "BROKEN" and not failed.retryable
    assert "unreadable at start-up" in failed.reason
    [kept] = failed.inputs["ct"]
    assert kept.sop_instance_uid == victim.sop_instance_uid
    quarantined = Path(str(kept.path))
    assert quarantined.read_bytes() == b"\0" * 1024 and not path.exists()
    relative = quarantined.relative_to(data).parts
    assert relative[0] == "quarantine"
    assert all(part.replace(".dcm", "").isalnum() and part.isascii() for part in relative)
    [job] = admin.failed_jobs(data)
    assert (job.patient, job.instances) == ("BROKEN", 1) and "unreadable" in job.reason
    assert "unreadable at start-up" in _failed_list(data)

    with running(Waiting, data_directory=str(data)) as node:  # and again: listed once
        assert [f.job_id for f in node.store.failed()] == [failed.job_id]
        assert node.store.patients()[0].collecting == 2

    # A person repairs the file and retries: the next start adopts it.
    quarantined.write_bytes(intact)
    assert admin.retry(data, patient="BROKEN") == 1
    with running(Waiting, data_directory=str(data)) as node:
        assert node.store.failed() == []
        snapshot = node.store.snapshot("BROKEN")
        assert snapshot is not None
        uids = sorted(i.sop_instance_uid for i in snapshot.inputs["ct"])
    assert uids == sorted(str(ds.SOPInstanceUID) for ds in sent)
