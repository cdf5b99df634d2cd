"""QueueRunner through a real node: one job at a time, setup once, priorities."""

from __future__ import annotations

import threading

from dcmnode import events
from dcmnode.testing import JobRecorder, running, series
from sending import store_all

from .common import send_at_once
from .pipelines import Sequential


def test_five_patients_at_once_run_strictly_one_after_another():
    record: list[tuple] = []
    with running(Sequential, record=record) as node:
        jobs = JobRecorder(node)
        queued: list[str] = []
        node.events.on(events.JOB_QUEUED, lambda job: queued.append(job.patient_id))
        patients = [f"P{i}" for i in range(5)]
        assert send_at_once(node, patients) == {p: [0, 0, 0] for p in patients}
        assert node.wait_idle(60)
        assert not jobs.failed and len(jobs.finished) == 5
    setup, *runs = record
    assert setup[0] == "setup"
    assert sorted(r[0] for r in runs) == patients
    # No job began before the previous one ended, all on the one worker that ran setup().
    for before, after in zip(runs, runs[1:], strict=False):
        assert after[1] >= before[2]
    assert {r[3] for r in runs} == {setup[1]}
    # Arrival order: the order in which the dispatcher queued them.
    assert [r[0] for r in runs] == queued


def test_pipeline_priority_overtakes_arrival_order_and_setup_runs_once():
    record: list[tuple] = []
    gate, started = threading.Event(), threading.Event()
    with running(Sequential, record=record, gate=gate, started=started) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("FIRST", count=2)) == [0, 0]
        assert started.wait(30)  # FIRST holds the only worker
        for patient in ("LATE1", "LATE2", "URGENT"):
            assert store_all(node, series(patient, count=2)) == [0, 0]
        assert node.runner.wait_for(lambda s: s.queued == 3, 30)
        gate.set()
        assert node.wait_idle(60)
        assert [j.patient_id for j in jobs.finished] == ["FIRST", "URGENT", "LATE1", "LATE2"]
    assert [r for r in record if r[0] == "setup"] == [record[0]]
