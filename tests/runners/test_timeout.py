"""A job over its timeout is failed at once, but never runs next to another job in its slot.

A thread (ThreadRunner, QueueRunner) cannot be killed: the timed-out job's
code runs on, and its worker stays busy until it returns, so a runner never
has more ``process`` calls in flight than workers -- with or without
``process_retries``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from dcmnode import Job, Pipeline, events
from dcmnode.runners import QueueRunner, Runner, ThreadRunner
from dcmnode.testing import running, series
from pipelines import CT
from sending import store_all


class Probe:
    """Counts ``process`` calls in flight; the first *blocking* calls wait for `release`."""

    def __init__(self, blocking: int) -> None:
        self.blocking = blocking
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.calls = self.now = self.most = 0

    def __call__(self) -> None:
        with self._lock:
            self.calls += 1
            self.now += 1
            self.most = max(self.most, self.now)
            block = self.calls <= self.blocking
        try:
            if block:
                # Bounded only so that a broken runner cannot hang the suite.
                self.release.wait(120)
        finally:
            with self._lock:
                self.now -= 1


class Blocking(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": CT}
    probe: Any = None

    def process(self, job: Job) -> None:
        self.probe()


def blocking(runner: Runner) -> type[Blocking]:
    return type("BlockingPipeline", (Blocking,), {"runner": runner})


RUNNERS = [
    pytest.param(QueueRunner(timeout=2), 1, id="queue"),
    pytest.param(ThreadRunner(workers=1, timeout=2), 1, id="thread-1"),
    pytest.param(ThreadRunner(workers=2, timeout=2), 2, id="thread-2"),
]


@pytest.mark.parametrize(("runner", "workers"), RUNNERS)
@pytest.mark.parametrize("retries", [0, 1])
def test_a_timed_out_job_keeps_its_worker_until_its_code_returns(runner, workers, retries):
    probe = Probe(blocking=workers)
    failed: list[str] = []
    reported = threading.Semaphore(0)

    def on_failed(job: Job, duration: float, error: str) -> None:
        failed.append(job.patient_id)
        reported.release()

    stuck = [f"STUCK{i}" for i in range(workers)]
    try:
        with running(blocking(runner), probe=probe, process_retries=retries) as node:
            node.events.on(events.JOB_FAILED, on_failed)
            for patient in [*stuck, "NEXT"]:
                assert store_all(node, series(patient, count=2)) == [0, 0]
            waiting = 1 + retries * workers  # NEXT, and each stuck patient's retry
            # Joined on either outcome: every blocked job timed out and what
            # came after waits for its worker -- or (the defect) another
            # process() call ran while a timed-out one was still blocked.
            assert node.runner.wait_for(
                lambda s: (
                    probe.calls > workers or (s.overrunning == workers and s.queued == waiting)
                ),
                60,
            )
            assert probe.most <= workers, f"{probe.most} process() calls ran at once"
            stats = node.runner.stats()
            assert (stats.running, stats.timed_out, stats.failed) == (workers, workers, workers)
            # Reported at once, while the code still runs.
            assert all(reported.acquire(timeout=60) for _ in stuck)
            assert sorted(failed) == stuck and probe.now == workers
            probe.release.set()
            assert node.wait_idle(60)
            # Idle means every job was reported; the abandoned code may return later still.
            assert node.runner.wait_for(lambda s: s.overrunning == s.running == s.queued == 0, 60)
            assert node.runner.stats().finished == 1 + retries * workers
        assert probe.most == workers
        assert probe.calls == workers + waiting
    finally:
        probe.release.set()


def test_a_stop_while_a_timed_out_job_runs_on_reports_every_job_once():
    probe = Probe(blocking=1)
    try:
        with running(blocking(QueueRunner(timeout=1)), probe=probe) as node:
            for patient in ("STUCK", "NEXT"):
                assert store_all(node, series(patient, count=2)) == [0, 0]
            assert node.runner.wait_for(lambda s: s.overrunning == 1 and s.queued == 1, 60)
            # The stuck thread outlives the stop, which says so; NEXT never started.
            assert node.stop(0.5) is False
            stats = node.runner.stats()
            assert (stats.timed_out, stats.cancelled, stats.failed) == (1, 1, 2)
            assert probe.calls == 1
            probe.release.set()
            assert node.runner.wait_for(lambda s: s.running == s.overrunning == 0, 60)
            assert node.runner.stats().failed == 2  # its late return reports nothing
    finally:
        probe.release.set()
