"""Automatic process retries revive exactly the failed job's data, with a fresh deadline."""

from __future__ import annotations

import threading
from typing import Any

from dcmnode import Input, Job, Pipeline, events
from dcmnode.store import Instance, MemoryStore, Sender
from dcmnode.testing import JobRecorder, running, series
from sending import store_all

SENDER = Sender("SCANNER", "127.0.0.1")


class AnyCT(Input):
    required_values = {"Modality": "CT"}


class AlwaysFailing(Pipeline):
    ae_title = "NODE"
    quiet_period = 0.0  # checked as soon as the sender is done
    inputs = {"ct": AnyCT}
    calls: Any = None  # list of the SOP Instance UIDs each process() call saw

    def process(self, job: Job) -> None:
        self.calls.append(frozenset(str(ds.SOPInstanceUID) for ds in job.datasets["ct"]))
        raise RuntimeError("always fails")


def _uids(datasets) -> frozenset[str]:  # type: ignore[no-untyped-def]
    return frozenset(str(ds.SOPInstanceUID) for ds in datasets)


def test_automatic_retry_revives_only_the_failed_jobs_generation():
    calls: list[frozenset[str]] = []
    with running(AlwaysFailing, process_retries=1, calls=calls) as node:
        first = series("TWICE", count=2)
        assert store_all(node, first) == [0, 0]
        assert node.wait_idle(30)  # two tries, then kept as failed: out of retries
        second = series("TWICE", count=2)  # new data for the same patient
        assert store_all(node, second) == [0, 0]
        assert node.wait_idle(30)
        failed = node.store.failed()
    # The second job's retry must not bring the first generation (already
    # out of retries) back: each try saw exactly one generation's data.
    assert calls == [_uids(first), _uids(first), _uids(second), _uids(second)]
    assert len(failed) == 2
    kept = {(_uids([i.dataset for i in f.inputs["ct"]]), f.attempts) for f in failed}
    assert kept == {(_uids(first), 2), (_uids(second), 2)}


class PairAfterQuiet(Input):
    required_values = {"Modality": "CT"}
    stable_after = 1.0  # the revived data waits this long, while the deadline ticks

    def is_complete(self, datasets) -> bool:  # type: ignore[no-untyped-def]
        return len(datasets) >= 2


class FailsOnceAfterTheClock(Pipeline):
    """Patient RETRY's first try ends only after CLOCK -- sent first -- passed its deadline."""

    ae_title = "NODE"
    inputs = {"ct": PairAfterQuiet}
    deadline = 4.0
    deadline_policy = "fail"
    process_retries = 1
    maintenance_interval = 0.05
    clock: Any = None  # threading.Event: CLOCK failed at its deadline
    tried: Any = None  # threading.Event: RETRY's first try ran

    def process(self, job: Job) -> None:
        if job.patient_id == "RETRY" and not self.tried.is_set():
            self.tried.set()
            assert self.clock.wait(60)
            raise RuntimeError("first try fails")


def test_automatic_retry_gets_a_fresh_deadline():
    clock, tried = threading.Event(), threading.Event()
    with running(FailsOnceAfterTheClock, clock=clock, tried=tried) as node:
        jobs = JobRecorder(node)
        node.events.on(
            events.JOB_FAILED,
            lambda job, duration, error: job.patient_id == "CLOCK" and clock.set(),
        )
        assert store_all(node, series("CLOCK", count=1)) == [0]  # never complete
        assert store_all(node, series("RETRY", count=2)) == [0, 0]
        assert clock.wait(60) and tried.is_set()
        done = threading.Event()
        node.events.on(
            events.JOB_FINISHED, lambda job, duration: job.patient_id == "RETRY" and done.set()
        )
        node.events.on(
            events.JOB_FAILED,
            lambda job, duration, error: (
                "deadline" in error and job.patient_id == "RETRY" and done.set()
            ),
        )
        assert done.wait(60)
        assert node.wait_idle(30)
        failed = {f.patient: f.reason for f in node.store.failed()}
    # RETRY's deadline was long past when its first try failed; the retry
    # must get a deadline of its own, not be failed at once as "incomplete".
    assert "RETRY" not in failed, failed["RETRY"]
    assert [j.patient_id for j in jobs.finished] == ["RETRY"]
    assert "deadline" in failed["CLOCK"]


def _instance(uid: str) -> Instance:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.SOPInstanceUID = uid
    return Instance(uid, "1.2.840.10008.5.1.4.1.1.2", "1.2.3", ds)


def _fail(store: MemoryStore, patient: str, uid: str, job_id: str) -> None:
    store.add(0, patient, [("ct", False)], _instance(uid), SENDER)
    snapshot = store.snapshot(patient)
    assert snapshot is not None and store.claim(snapshot, job_id)
    store.finish(patient, job_id, "boom")


def test_manual_retry_still_revives_every_failed_generation_of_the_patient():
    store = MemoryStore()
    _fail(store, "P", "1.1", "job-1")
    _fail(store, "P", "1.2", "job-2")
    assert store.retry_failed("P", "job-2") == 1  # the automatic kind: one job
    assert [f.job_id for f in store.failed()] == ["job-1"]
    snapshot = store.snapshot("P")
    assert snapshot is not None and [i.sop_instance_uid for i in snapshot.inputs["ct"]] == ["1.2"]
    assert store.claim(snapshot, "job-2b") and store.finish("P", "job-2b") is False
    _fail(store, "P", "1.3", "job-3")
    assert store.retry_failed("P") == 2  # the person's kind: all of the patient
    assert store.failed() == []
    snapshot = store.snapshot("P")
    assert snapshot is not None and sorted(i.sop_instance_uid for i in snapshot.inputs["ct"]) == [
        "1.1", "1.3",
    ]  # fmt: skip
    assert store.retry_failed("P", "job-404") == 0


def test_disk_store_retry_of_one_job_and_a_superseded_copy_survive_a_restart(tmp_path):
    from io import BytesIO
    from pathlib import Path

    from dcmnode.store import DiskStore

    def add(store: DiskStore, ds) -> Instance:  # type: ignore[no-untyped-def]
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        path, receipt = store.write("P", buffer.getvalue())
        instance = Instance(
            ds.SOPInstanceUID, ds.SOPClassUID, ds.SeriesInstanceUID, ds, path, receipt
        )
        store.add(0, "P", [("ct", False)], instance, SENDER)
        return instance

    def fail(store: DiskStore, job_id: str) -> None:
        snapshot = store.snapshot("P")
        assert snapshot is not None and store.claim(snapshot, job_id)
        store.finish("P", job_id, "boom")

    data = tmp_path / "data"
    one, two = series("P", count=2)
    store = DiskStore(data, fsync=False)
    add(store, one)
    fail(store, "job-1")
    old_two = add(store, two)
    fail(store, "job-2")
    new_two = add(store, two)  # a newer copy waits when job-2 is retried
    assert store.retry_failed("P", "job-2") == 1
    assert store.journal.flush()
    assert not Path(str(old_two.path)).exists()  # superseded: its file went with its row
    store.close()

    store = DiskStore(data, fsync=False)
    assert [f.job_id for f in store.failed()] == ["job-1"]
    snapshot = store.snapshot("P")
    assert snapshot is not None
    assert [i.receipt for i in snapshot.inputs["ct"]] == [new_two.receipt]
    store.close()


def test_a_manual_retry_keeps_the_newest_copy_of_an_instance_in_two_failed_jobs():
    store = MemoryStore()
    old, new = _instance("1.1"), _instance("1.1")
    old.dataset.ImageComments, new.dataset.ImageComments = "old", "new"
    for copy, job_id in ((old, "job-1"), (new, "job-2")):
        store.add(0, "P", [("ct", False)], copy, SENDER)
        snapshot = store.snapshot("P")
        assert snapshot is not None and store.claim(snapshot, job_id)
        store.finish("P", job_id, "boom")
    assert store.retry_failed("P") == 1
    snapshot = store.snapshot("P")
    assert snapshot is not None
    assert [ds.ImageComments for ds in snapshot.datasets("ct")] == ["new"]
