"""No runner keeps a job -- and with it the job's pixel data -- alive after the job ended."""

from __future__ import annotations

import gc
import logging
import weakref

import pytest

from dcmnode import Job, Pipeline, events
from dcmnode.runners import QueueRunner, Runner, ThreadRunner
from dcmnode.testing import running, series
from pipelines import CT
from sending import store_all


class Forgetful(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": CT}

    def process(self, job: Job) -> None:
        if job.patient_id.startswith("RAISE"):
            raise ValueError("the model raised")


IN_PROCESS = [
    pytest.param(ThreadRunner(workers=1), id="thread"),
    pytest.param(ThreadRunner(workers=2, timeout=60), id="thread-timeout"),
    pytest.param(QueueRunner(), id="queue"),
    pytest.param(QueueRunner(timeout=60), id="queue-timeout"),
]


@pytest.mark.parametrize("runner", IN_PROCESS)
@pytest.mark.parametrize("outcome", ["DONE", "RAISE"])
def test_no_runner_keeps_a_job_or_its_datasets_after_the_job_ended(
    runner: Runner, outcome: str, monkeypatch: pytest.MonkeyPatch
):
    # pytest keeps every log record of a test, and a record keeps its
    # arguments -- the job of "%s failed". Records still reach stderr.
    monkeypatch.setattr(logging.getLogger("dcmnode"), "propagate", False)
    cls = type("ForgetfulPipeline", (Forgetful,), {"runner": runner})
    refs: list[weakref.ref[object]] = []

    def remember(job: Job, **_: object) -> None:
        # Only weak references: the test itself must not keep the job alive.
        refs.append(weakref.ref(job))
        if outcome == "DONE":  # a failed job's data is kept by the store, on purpose
            refs.extend(weakref.ref(ds) for group in job.datasets.values() for ds in group)

    with running(cls) as node:
        node.events.on(events.JOB_FINISHED, remember)
        node.events.on(events.JOB_FAILED, remember)
        for index in range(3):  # several, so that every worker of a pool had one
            assert store_all(node, series(f"{outcome}{index}", count=3)) == [0, 0, 0]
            assert node.wait_idle(60)
        assert len(refs) == 3 * (4 if outcome == "DONE" else 1)
        gc.collect()
        alive = [type(ref()).__name__ for ref in refs if ref() is not None]
        assert alive == [], f"still referenced after the jobs ended: {alive}"
