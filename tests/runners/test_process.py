"""ProcessRunner through a real node: crashes, timeouts, output, working directories."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dcmnode import Address
from dcmnode.network.scu import echo
from dcmnode.testing import JobRecorder, running, series
from sending import store_all

from .common import Rendezvous, exited, send_at_once
from .pipelines import MEGABYTE_LINE, KeepingFailed, Misbehaving, SlowProcess, TimingOut


def still_serving(node, jobs: JobRecorder) -> None:
    """The node answers, receives and processes another patient."""
    assert echo(Address("NODE", "127.0.0.1", node.port), "SCANNER") == 0
    assert store_all(node, series("GOOD", count=2)) == [0] * 2
    assert node.wait_idle(60)
    assert [j.patient_id for j in jobs.finished] == ["GOOD"]


@pytest.mark.parametrize(
    ("patient", "reason"),
    [
        ("RAISE", "ValueError: the model raised"),
        ("EXIT3", "exited with code 3"),
        ("SEGV", "was killed by SIGSEGV (11)"),
        ("KILL9", "was killed by SIGKILL (9) (out of memory?"),
        ("PRINTRAISE", "failed after printing 10 MB"),
    ],
)
def test_a_crashing_job_fails_with_its_reason_and_the_node_keeps_serving(patient, reason):
    with running(Misbehaving) as node:  # no timeout: the crash itself must end the job
        jobs = JobRecorder(node)
        assert store_all(node, series(patient, count=2)) == [0] * 2
        assert node.wait_idle(60)
        [(job, error)] = jobs.failed
        assert job.patient_id == patient and reason in error
        [failed] = node.store.failed()
        assert reason in failed.reason
        still_serving(node, jobs)


def test_a_job_over_its_timeout_is_killed_with_its_children(tmp_path):
    with running(TimingOut, probe=str(tmp_path)) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("HANGKIDS", count=2)) == [0] * 2
        assert node.wait_idle(60)
        [(job, error)] = jobs.failed
        assert "exceeded its timeout of 20 s; killed" in error
        grandchild = int((tmp_path / "grandchild").read_text())
        assert exited(grandchild, 30)  # it would sleep for 600 s unless killed
        still_serving(node, jobs)


def test_printing_10_mb_neither_blocks_nor_loses_a_line(caplog):
    caplog.set_level(logging.INFO, logger="dcmnode.job.output")
    with running(Misbehaving) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("PRINT", count=2)) == [0] * 2
        assert node.wait_idle(30)
        [job] = jobs.finished
        assert not jobs.failed
        lines = [r for r in caplog.records if r.getMessage().endswith(MEGABYTE_LINE)]
        assert len(lines) == 10 * 1024
        assert all(str(job) in r.getMessage() for r in lines[:3])
        messages = [r.getMessage() for r in caplog.records]
        assert f"{job} stderr: end of the chatter" in messages
        # The job's logging reaches the node's log, under its logger, with the job id.
        [logged] = [r for r in caplog.records if r.name == "tests.runners.job"]
        assert logged.getMessage().startswith(f"{job}: logged from the job, pid ")
        assert logged.levelno == logging.WARNING


def test_job_has_its_own_working_directory_and_the_node_keeps_its_own(tmp_path):
    before = os.getcwd()
    with running(Misbehaving, probe=str(tmp_path)) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("CWD", count=2)) == [0] * 2
        assert node.wait_idle(30)
        assert len(jobs.finished) == 1, jobs.failed
        assert os.getcwd() == before
    workdir = Path((tmp_path / "cwd").read_text())
    assert workdir != Path(before)
    assert workdir.parent == Path(tempfile.gettempdir()).resolve() / "dcmnode-processing"
    assert not workdir.exists()  # removed after the job


def test_failed_job_directory_is_kept_when_asked():
    with running(KeepingFailed) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("RAISE", count=2)) == [0] * 2
        assert node.wait_idle(30)
        [(job, _)] = jobs.failed
    base = Path(tempfile.gettempdir()) / "dcmnode-processing"
    [kept] = list(base.glob(f"{job.id}-*"))
    try:
        assert (kept / "job.pickle").is_file()
    finally:
        shutil.rmtree(kept)


def test_stop_cancels_a_running_job_and_kills_it(tmp_path):
    hanging = Rendezvous(tmp_path / "hanging")
    with running(Misbehaving, probe=str(tmp_path)) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("HANG", count=2)) == [0] * 2
        pid = int(hanging.read())  # the job process runs and sleeps for 600 s
        assert node.stop(1.0) is False
        # Reported once, as cancelled, which the node hands back to its store.
        assert node.runner.stats().cancelled == 1
        assert not jobs.failed and not node.store.failed()
        assert exited(pid, 30)
        assert node.wait_idle(5)


def test_more_patients_than_processes_all_run_none_refused():
    with running(SlowProcess) as node:
        jobs = JobRecorder(node)
        patients = [f"P{i}" for i in range(5)]
        results = send_at_once(node, patients, count=2)
        assert results == {p: [0, 0] for p in patients}
        assert node.wait_idle(60)
        assert sorted(j.patient_id for j in jobs.finished) == patients
        assert not jobs.failed
        stats = node.runner.stats()
        assert (stats.submitted, stats.finished, stats.queued, stats.running) == (5, 5, 0, 0)


def test_stop_cancels_queued_jobs_too_and_every_job_ends_once(tmp_path):
    with running(Misbehaving, probe=str(tmp_path)) as node:  # two job processes
        jobs = JobRecorder(node)
        for patient in ("HANG", "HANG2", "HANG3"):
            assert store_all(node, series(patient, count=2)) == [0] * 2
        stats = node.runner.stats
        assert node.runner.wait_for(lambda s: s.submitted == 3 and s.running == 2, 60)
        assert stats().queued == 1
        assert node.stop(1.0) is False
        # Each reported once, as cancelled, which the node hands back to its store.
        assert not jobs.failed and not node.store.failed()
        assert node.wait_idle(5)
        stats = node.runner.stats()
        assert (stats.cancelled, stats.failed, stats.finished) == (3, 3, 0)


def test_a_job_resetting_logging_leaves_the_node_logging_alone():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with running(Misbehaving) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("RESETLOG", count=2)) == [0] * 2
        assert node.wait_idle(30)
        assert len(jobs.finished) == 1
    assert root.handlers == handlers and root.level == level
    assert logging.getLogger("dcmnode").isEnabledFor(logging.CRITICAL)


def test_job_process_reads_its_data_from_the_on_disk_store(tmp_path):
    data = tmp_path / "data"
    with running(Misbehaving, probe=str(tmp_path), data_directory=str(data)) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("CWD", count=3)) == [0] * 3
        assert node.wait_idle(30)
        assert len(jobs.finished) == 1, jobs.failed
    assert (tmp_path / "cwd").is_file()


NODE_SCRIPT = """
import sys, time
from dcmnode.testing import running, series
from sending import store_all
from runners.pipelines import Misbehaving

with running(Misbehaving, probe=sys.argv[1]) as node:
    store_all(node, series("HANG", count=2))
    time.sleep(600)
"""


def test_job_processes_die_with_a_killed_node(tmp_path):
    tests = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]))
    hanging = Rendezvous(tmp_path / "hanging")
    node = subprocess.Popen([sys.executable, "-c", NODE_SCRIPT, str(tmp_path)], env=env)
    try:
        job = int(hanging.read())
        node.kill()  # no clean-up of any kind in the node
        node.wait(10)
        assert exited(job, 30)  # it would sleep for 600 s unless it noticed
    finally:
        node.kill()
        node.wait(10)
