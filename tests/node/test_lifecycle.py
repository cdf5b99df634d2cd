"""Generations, failures and slow processing through a real node over loopback."""

from __future__ import annotations

import threading

from dcmnode import Address
from dcmnode.network.scu import echo
from dcmnode.testing import JobRecorder, running, series
from pipelines import Recording
from sending import associate, store_all
from support import run_threads


def test_patient_resent_while_its_job_runs_gets_a_second_job_with_only_new_data():
    gate, started = threading.Event(), threading.Event()
    with running(Recording, gate=gate, started=started) as node:
        jobs = JobRecorder(node)
        first = series("PAT1", count=10)
        assert store_all(node, first) == [0] * 10
        assert started.wait(30)  # job 1 runs and waits on the gate
        second = series("PAT1", count=10, study_uid=first[0].StudyInstanceUID)
        assert store_all(node, second) == [0] * 10
        [status] = node.store.patients()
        assert status.running_job is not None and status.collecting == 10
        gate.set()
        assert node.wait_idle(60)
        assert len(jobs.finished) == 2 and not jobs.failed
        job1, job2 = jobs.finished
        uids = lambda job: {ds.SOPInstanceUID for ds in job.datasets["ct"]}  # noqa: E731
        assert uids(job1) == {ds.SOPInstanceUID for ds in first}
        assert uids(job2) == {ds.SOPInstanceUID for ds in second}
        assert job2.generation == job1.generation + 1
        assert node.store.patients() == []


def test_failing_process_keeps_data_and_node_keeps_serving():
    with running(Recording, fail_for=("BAD",)) as node:
        jobs = JobRecorder(node)
        bad = series("BAD", count=6)
        assert store_all(node, bad) == [0] * 6
        assert node.wait_idle(30)
        [(job, error)] = jobs.failed
        assert job.patient_id == "BAD" and "model exploded on BAD" in error
        [failed] = node.store.failed()
        assert failed.job_id == job.id and "model exploded" in failed.reason
        assert {i.sop_instance_uid for i in failed.inputs["ct"]} == {d.SOPInstanceUID for d in bad}
        [status] = node.store.patients()
        assert status.patient == "BAD" and len(status.failed) == 1
        # The node still answers and processes other patients.
        assert echo(Address("NODE", "127.0.0.1", node.port), "SCANNER") == 0
        assert store_all(node, series("GOOD", count=4)) == [0] * 4
        assert node.wait_idle(30)
        assert [j.patient_id for j in jobs.finished] == ["GOOD"]


def test_slow_process_never_holds_up_senders():
    """One worker stuck in process; six senders at once still get every answer."""
    gate, started = threading.Event(), threading.Event()
    with running(Recording, workers=1, gate=gate, started=started) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("FIRST", count=3)) == [0] * 3
        assert started.wait(30)
        results: dict[int, list[int]] = {}
        barrier = threading.Barrier(6)

        def sender(index: int) -> None:
            barrier.wait(60)
            results[index] = store_all(node, series(f"P{index}", count=8), f"SCANNER{index}")

        run_threads(sender, [(i,) for i in range(6)], barriers=[barrier])
        # Every C-STORE was answered while the only worker is still blocked.
        assert not gate.is_set() and jobs.finished == []
        assert all(results[i] == [0] * 8 for i in range(6))
        gate.set()
        assert node.wait_idle(60)
        assert sorted(j.patient_id for j in jobs.finished) == sorted(
            ["FIRST"] + [f"P{i}" for i in range(6)]
        )


def test_abort_counts_as_end_of_delivery():
    with running(Recording) as node:
        jobs = JobRecorder(node)
        assoc = associate(node)
        for ds in series("ABORTED", count=5):
            assert assoc.send_c_store(ds).Status == 0
        assoc.abort()
        assert node.wait_idle(30)
        assert [j.patient_id for j in jobs.finished] == ["ABORTED"]


def test_process_retries_run_the_job_again_then_keep_it_failed():
    with running(Recording, fail_for=("FLAKY",), process_retries=2) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("FLAKY", count=3)) == [0] * 3
        assert node.wait_idle(30)
        assert len(jobs.failed) == 3  # the first try and two retries
        assert len({job.id for job, _ in jobs.failed}) == 3
        [failed] = node.store.failed()
        assert failed.attempts == 3 and len(failed.inputs["ct"]) == 3
