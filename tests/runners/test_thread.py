"""ThreadRunner through a real node: timeout, backpressure, one runner per node."""

from __future__ import annotations

import threading

from dcmnode import events
from dcmnode.runners import ThreadRunner
from dcmnode.testing import JobRecorder, running, series
from pipelines import Recording
from sending import store_all

from .common import send_at_once


class TimedRecording(Recording):
    runner = ThreadRunner(workers=1, timeout=5)  # room for NEXT on a loaded machine


def test_thread_job_over_its_timeout_fails_and_the_worker_moves_on():
    gate = threading.Event()
    try:
        with running(TimedRecording, gate=gate) as node:
            jobs = JobRecorder(node)
            assert store_all(node, series("STUCK", count=2)) == [0, 0]
            assert node.wait_idle(30)
            [(job, error)] = jobs.failed
            assert job.patient_id == "STUCK" and "exceeded its timeout of 5 s" in error
            gate.set()  # later jobs pass the gate
            assert store_all(node, series("NEXT", count=2)) == [0, 0]
            assert node.wait_idle(30)
            assert [j.patient_id for j in jobs.finished] == ["NEXT"]
    finally:
        gate.set()


def test_backpressure_more_ready_patients_than_workers_none_lost_none_refused(caplog):
    gate, started = threading.Event(), threading.Event()
    with running(Recording, workers=1, queue_size=1, gate=gate, started=started) as node:
        jobs = JobRecorder(node)
        waiting: list[tuple[str, int, int]] = []
        node.events.on(
            events.BACKPRESSURE,
            lambda job, queued, workers: waiting.append((job.patient_id, queued, workers)),
        )
        assert store_all(node, series("FIRST", count=2)) == [0, 0]
        assert started.wait(30)
        patients = [f"P{i}" for i in range(6)]
        # Every sender is answered while the only worker is blocked and the
        # one queue slot is taken: the dispatcher waits, the network does not.
        assert send_at_once(node, patients) == {p: [0, 0, 0] for p in patients}
        assert node.runner.wait_for(lambda s: s.backpressure >= 1, 30)
        assert "(backpressure)" in caplog.text
        assert waiting and all(p in patients and (q, w) == (1, 1) for p, q, w in waiting)
        gate.set()
        assert node.wait_idle(60)
        assert sorted(j.patient_id for j in jobs.finished) == sorted(["FIRST", *patients])
        stats = node.runner.stats()
        assert stats.submitted == stats.finished == 7 and stats.longest_wait > 0


def test_one_runner_class_attribute_serves_two_nodes_at_once():
    with running(TimedRecording) as first, running(TimedRecording) as second:
        assert first.runner is not second.runner
        assert TimedRecording.runner not in (first.runner, second.runner)
        recorders = JobRecorder(first), JobRecorder(second)
        assert store_all(first, series("A", count=2)) == [0, 0]
        assert store_all(second, series("B", count=2)) == [0, 0]
        assert first.wait_idle(30) and second.wait_idle(30)
        assert [[j.patient_id for j in r.finished] for r in recorders] == [["A"], ["B"]]


def test_stop_reports_a_stuck_thread_job_as_cancelled_exactly_once():
    gate, started = threading.Event(), threading.Event()
    try:
        with running(Recording, workers=1, gate=gate, started=started) as node:
            jobs = JobRecorder(node)
            assert store_all(node, series("STUCK", count=2)) == [0, 0]
            assert started.wait(30)
            assert store_all(node, series("QUEUED", count=2)) == [0, 0]
            assert node.runner.wait_for(lambda s: s.queued == 1, 30)
            assert node.stop(0.5) is False
            # Each job reported once, as cancelled -- which the node hands back
            # to its store for the next start rather than failing it.
            stats = node.runner.stats()
            assert (stats.cancelled, stats.failed, stats.finished) == (2, 2, 0)
            assert not jobs.failed and not node.store.failed()
            assert node.wait_idle(5)
            gate.set()  # the abandoned thread ends; its late result is ignored
            assert node.runner.wait_for(lambda s: s.running == 0, 30)
            stats = node.runner.stats()
            assert (stats.cancelled, stats.failed, stats.finished) == (2, 2, 0)
            assert not jobs.failed and not jobs.finished
    finally:
        gate.set()
