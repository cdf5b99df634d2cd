"""Durability: what a success status promises, across kill -9, restarts and failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from pydicom import dcmread

from dcmnode import Address, Input, Node, Pipeline
from dcmnode.errors import NetworkError
from dcmnode.network.scu import send
from dcmnode.network.status import Status
from dcmnode.testing import JobRecorder, running, series
from pipelines import CT, Recording
from sending import store_all
from support import Transcript, listening_port

PIPELINE = Path(__file__).with_name("durable_pipeline.py")


class NeverComplete(Input):
    required_values = {"Modality": "CT"}

    def is_complete(self, datasets) -> bool:  # type: ignore[no-untyped-def]
        return False


class Waiting(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": NeverComplete}

    def process(self, job):  # type: ignore[no-untyped-def]
        return None


class Processing(Recording):
    inputs = {"ct": CT}


def _files(data: Path) -> list[Path]:
    return sorted(p for p in data.rglob("*") if p.is_file() and p.suffix == ".dcm")


def test_restart_processes_a_complete_patient_without_new_data(tmp_path):
    data = tmp_path / "data"
    sent = series("WAITING", count=8)
    with running(Waiting, data_directory=str(data)) as node:
        assert store_all(node, sent) == [0] * 8
        assert node.wait_idle(30)
    assert len(_files(data / "instances")) == 8
    node = Node(Processing(port=0, data_directory=str(data)))
    jobs = JobRecorder(node)  # before start: the restart check runs at once
    with node:
        assert node.wait_idle(30)
        [job] = jobs.finished
        assert {ds.SOPInstanceUID for ds in job.datasets["ct"]} == {d.SOPInstanceUID for d in sent}
        assert all("PixelData" in ds for ds in job.datasets["ct"])  # read back from disk
    assert _files(data / "instances") == []  # cleaned up after success


def test_waiting_patients_do_not_hold_pixel_data_in_memory(tmp_path):
    with running(Waiting, data_directory=str(tmp_path / "d")) as node:
        assert store_all(node, series("LAZY", count=4)) == [0] * 4
        assert node.wait_idle(30)
        snapshot = node.store.snapshot("LAZY")
        assert snapshot is not None
        assert all("PixelData" not in ds for ds in snapshot.datasets("ct"))
        assert all(Path(i.path).is_file() for i in snapshot.inputs["ct"])


def test_duplicate_replaces_and_counts_once(tmp_path):
    data = tmp_path / "data"
    sent = series("DUP", count=3)
    with running(Waiting, data_directory=str(data)) as node:
        assert store_all(node, sent) == [0] * 3
        assert store_all(node, sent[:1]) == [0]
        assert node.wait_idle(30)
        assert node.store.patients()[0].collecting == 3
        assert node.store.journal.flush()
        assert len(_files(data / "instances")) == 3  # the replaced file is gone


def test_hostile_names_never_leave_the_data_directory(tmp_path):
    data = tmp_path / "data"
    hostile = [
        "../../etc/passwd", "a/b\\c", "..", "x" * 300, "Ünïcødé^名前", "/abs/path",
        "nul\x00byte", "C:\\Windows\\..",
    ]  # fmt: skip
    with running(Waiting, data_directory=str(data)) as node:
        for patient_id in hostile:
            ds = series(patient_id, count=1, series_description="s/../\x00" + "y" * 300)[0]
            ds.PatientName = "../" * 20
            ds.StudyDescription = "bad\\name/" * 6
            assert store_all(node, [ds]) == [0], patient_id
        assert node.wait_idle(30)
    every = [p for p in tmp_path.rglob("*")]
    assert all(p.resolve().is_relative_to(data.resolve()) for p in every if p != data)
    for path in _files(data / "instances"):
        relative = path.relative_to(data / "instances").parts
        assert all(part.replace(".dcm", "").isalnum() and part.isascii() for part in relative)
    assert len(_files(data / "instances")) == len(hostile)


def test_low_disk_space_refuses_with_out_of_resources_then_recovers(tmp_path):
    data = tmp_path / "data"
    with running(Waiting, data_directory=str(data), min_free_mb=10) as node:
        node.store.free_space = lambda path: 5 * 1024 * 1024  # below the watermark
        assert store_all(node, series("FULL", count=3)) == [Status.OUT_OF_RESOURCES] * 3
        assert _files(data) == [] and list((data / "tmp").iterdir()) == []
        node.store.free_space = lambda path: 50 * 1024 * 1024
        assert store_all(node, series("FULL", count=3)) == [0] * 3
        assert node.wait_idle(30)
    assert len(_files(data / "instances")) == 3


def _start(
    data: Path, results: Path, *extra: str
) -> tuple[subprocess.Popen[str], Transcript, Address]:
    """A `dcmnode run` child on a port it picks itself; returns once it listens."""
    child = subprocess.Popen(
        [sys.executable, "-m", "dcmnode", "--log-level", "INFO", "run", str(PIPELINE),
         "--port", "0", "--set", f"data_directory={data}", "--set", f"results={results}",
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "DURABLE_EXPECTED": "30"},
    )  # fmt: skip
    output = Transcript(child)
    try:
        port = listening_port(output.wait_for(" listening on "))
    except BaseException:
        child.kill()
        child.wait(30)
        raise
    return child, output, Address("DURABLE", "127.0.0.1", port)


def _processed(output: Transcript, results: Path, count: int) -> bool:
    """Wait until *count* jobs are recorded, re-checking whenever the node logs a line."""
    return output.wait_until(lambda: len(_results(results)) >= count, timeout=120)


def _stop(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGTERM)
    assert child.wait(60) == 0


def _results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def test_kill_9_mid_delivery_loses_no_acknowledged_instance(tmp_path):
    data, results = tmp_path / "data", tmp_path / "results.jsonl"
    patients = {f"KILL{i}": series(f"KILL{i}", count=30) for i in range(6)}
    acked: dict[str, set[str]] = {p: set() for p in patients}
    lock = threading.Condition()
    count = [0]
    errors: list[BaseException] = []  # raised here, not lost as a thread's warning
    child, _, address = _start(data, results)

    def deliver(patient: str) -> None:
        def progress(item, status):  # type: ignore[no-untyped-def]
            if status == 0:
                with lock:
                    acked[patient].add(str(item.SOPInstanceUID))
                    count[0] += 1
                    lock.notify_all()

        try:
            send(patients[patient], address, "SCANNER", progress=progress, timeout=10)
        except NetworkError:
            pass  # the node was killed under us
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(p,)) for p in patients]
    for t in threads:
        t.start()
    with lock:
        assert lock.wait_for(lambda: count[0] >= 60, timeout=60)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    for t in threads:
        t.join(60)
    assert not errors, errors
    total_acked = sum(len(v) for v in acked.values())
    assert 60 <= total_acked < 180, total_acked  # the kill landed mid-delivery

    # Restart: every acknowledged instance is there; nothing is processed yet
    # (each patient is incomplete until the rest is sent).
    child, output, address = _start(data, results)
    try:
        on_disk = {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in _files(data)}
        assert set().union(*acked.values()) <= on_disk
        # Send what was never acknowledged; now each patient completes once.
        for patient, datasets in patients.items():
            missing = [ds for ds in datasets if str(ds.SOPInstanceUID) not in acked[patient]]
            assert send(missing, address, "SCANNER").ok
        assert _processed(output, results, len(patients))
    finally:
        _stop(child)
    done = _results(results)
    assert sorted(r["patient"] for r in done) == sorted(patients)  # each exactly once
    for record in done:
        assert record["sops"] == sorted(str(d.SOPInstanceUID) for d in patients[record["patient"]])
        assert record["pixels"]
    assert _files(data / "instances") == []


def test_failed_job_is_kept_then_retried_from_the_cli(tmp_path):
    data, results = tmp_path / "data", tmp_path / "results.jsonl"
    flag = tmp_path / "fail"
    flag.touch()
    sent = series("RETRY", count=30)
    child, output, address = _start(data, results, "--set", f"fail_flag={flag}")
    try:
        assert send(sent, address, "SCANNER").ok
        output.wait_for("failing on purpose")  # the job ran and failed (logged by the node)
    finally:
        _stop(child)
    cli = [sys.executable, "-m", "dcmnode", "failed"]
    listing = subprocess.run([*cli, "list", str(data)], capture_output=True, text=True, check=True)
    assert "patient 'RETRY'  30 instances" in listing.stdout
    assert "failing on purpose" in listing.stdout
    assert len(_files(data / "instances")) == 30  # data kept
    flag.unlink()
    retried = subprocess.run(
        [*cli, "retry", str(data), "--patient", "RETRY"], capture_output=True, text=True
    )
    assert retried.returncode == 0 and "1 failed jobs" in retried.stdout
    child, output, _ = _start(data, results, "--set", f"fail_flag={flag}")
    try:
        assert _processed(output, results, 1)  # the retried job runs at the start
    finally:
        _stop(child)
    [record] = _results(results)
    assert record["patient"] == "RETRY" and len(record["sops"]) == 30
    assert _files(data / "instances") == []
    listing = subprocess.run([*cli, "list", str(data)], capture_output=True, text=True, check=True)
    assert "no failed jobs" in listing.stdout
