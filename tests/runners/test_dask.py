"""DaskRunner through a real node: a LocalCluster, and a separate scheduler + worker."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcmnode import events
from dcmnode.testing import JobRecorder, RecordingSCP, running, series
from sending import store_all
from support import drain, read_until

from .common import send_at_once
from .gated import gated_on_dask
from .pipelines import on_dask

distributed = pytest.importorskip("distributed")

TESTS = str(Path(__file__).resolve().parents[1])


def worker_pids(address: str) -> set[int]:
    with distributed.Client(address, set_as_default=False, timeout=30) as client:
        return set(client.run(os.getpid).values())


def round_trip(
    cls: type, destination: RecordingSCP, pids: set[int] | None, caplog: pytest.LogCaptureFixture
) -> None:
    """Three patients and a failing one; results come back and leave through the node."""
    caplog.set_level(logging.WARNING, logger="tests.runners.job")
    with running(cls, destination=destination.address) as node:
        jobs = JobRecorder(node)
        patients = ["D1", "D2", "D3"]
        statuses = send_at_once(node, [*patients, "RAISE"], count=2)
        assert all(s == [0, 0] for s in statuses.values())
        assert node.wait_idle(120)
        assert sorted(j.patient_id for j in jobs.finished) == patients
        [(job, error)] = jobs.failed
        assert job.patient_id == "RAISE" and "the model raised on a worker" in error
    assert destination.wait_for(6, timeout=30)
    ran_in = {int(str(ds.SeriesDescription).split()[1]) for ds in destination.received}
    assert os.getpid() not in ran_in  # computed elsewhere, exported by the node
    if pids is not None:
        assert ran_in <= pids
    assert {str(ds.PatientID) for ds in destination.received} == set(patients)
    # What the jobs logged on the workers is in the node's log, with the job.
    logged = [r.getMessage() for r in caplog.records if r.name == "tests.runners.job"]
    assert sorted(m.split(" (patient ")[1][:5] for m in logged) == ["'D1',", "'D2',", "'D3',"]
    assert all(m.startswith("job ") and ": stamping on a worker, pid " in m for m in logged)


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[object]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        resources={"GPU": 1},
    ) as cluster:
        yield cluster


def test_dask_runner_on_a_local_cluster_with_two_worker_processes(
    local_cluster, destination, caplog
):
    address = local_cluster.scheduler_address
    pids = worker_pids(address)
    assert len(pids) == 2
    round_trip(on_dask(address, resources={"GPU": 1}, workers=2), destination, pids, caplog)


def test_dask_runner_starts_its_own_local_cluster(destination, caplog):
    round_trip(on_dask(None, local_workers=1), destination, None, caplog)


@pytest.fixture(scope="module")
def scheduler_and_worker() -> Iterator[str]:
    dask = str(Path(sys.executable).with_name("dask"))
    # The worker imports the tests' pipelines by reference, like a real
    # worker imports the project's packages.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]))
    common = ["--host", "127.0.0.1", "--no-dashboard"]
    # Port 0: the scheduler binds a free port itself and says which once it listens.
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--port", "0", "--dashboard-address", "127.0.0.1:0", *common],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    processes: list[subprocess.Popen[str]] = [scheduler]
    try:
        address = read_until(scheduler, "Scheduler at:").split("Scheduler at:")[1].strip()
        drain(scheduler)  # it goes on logging; a full pipe would stall it
        processes.append(
            subprocess.Popen(
                [dask, "worker", address, "--nworkers", "1", "--nthreads", "1"]
                + ["--resources", "GPU=1", *common],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        )
        with distributed.Client(address, set_as_default=False, timeout=30) as client:
            client.wait_for_workers(1, timeout=60)  # the scheduler tells when it joined
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_dask_runner_on_a_separate_scheduler_and_worker(scheduler_and_worker, destination, caplog):
    address = scheduler_and_worker
    pids = worker_pids(address)
    round_trip(on_dask(address, resources={"GPU": 1}, workers=2), destination, pids, caplog)


def test_dask_job_over_its_timeout_fails_and_the_node_goes_on(local_cluster, destination):
    cls = on_dask(local_cluster.scheduler_address, workers=2, timeout=1)
    with running(cls, destination=destination.address) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("SLOW", count=2)) == [0, 0]
        assert node.wait_idle(30)
        [(job, error)] = jobs.failed
        assert "exceeded its timeout of 1 s" in error
        assert store_all(node, series("AFTER", count=2)) == [0, 0]
        assert node.wait_idle(30)
        assert [j.patient_id for j in jobs.finished] == ["AFTER"]


def test_a_timed_out_dask_job_keeps_its_slot_until_its_task_returns(local_cluster, tmp_path):
    # Two Dask workers, but the node may have one job on the cluster: the
    # timed-out task, which Dask cannot kill, keeps that place until it returns.
    cls = gated_on_dask(local_cluster.scheduler_address, workers=1, timeout=1)
    with running(cls, probe=str(tmp_path)) as node:
        jobs = JobRecorder(node)
        reported = threading.Event()
        node.events.on(events.JOB_FAILED, lambda job, duration, error: reported.set())
        assert store_all(node, series("STUCK", count=2)) == [0, 0]
        assert store_all(node, series("NEXT", count=2)) == [0, 0]
        # Joined on either outcome: STUCK reported and NEXT waiting -- or
        # (the defect) NEXT ran on the cluster next to the abandoned task.
        assert node.runner.wait_for(
            lambda s: (
                (tmp_path / "entered-NEXT").exists()
                or (s.overrunning == 1 and s.queued == 1 and s.failed == 1)
            ),
            60,
        )
        assert not (tmp_path / "overlap").exists(), "two jobs ran on the cluster at once"
        assert reported.wait(60)
        [(job, error)] = jobs.failed
        assert job.patient_id == "STUCK" and "exceeded its timeout of 1 s" in error
        (tmp_path / "release").touch()
        assert node.wait_idle(60)
        assert [j.patient_id for j in jobs.finished] == ["NEXT"]
        assert node.runner.wait_for(lambda s: s.overrunning == s.running == 0, 60)
    assert not (tmp_path / "overlap").exists()
