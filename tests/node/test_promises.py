"""Promises on the paths where they used to break: stop, bad values, slow checks.

Each test here failed before its fix (issue 9, items 1, 9, 10 and 16).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from dcmnode import Input, Job, Node, Pipeline, events
from dcmnode.testing import JobRecorder, running, series
from pipelines import Recording
from sending import store_all


def _finished_for(node: Node, patient: str) -> threading.Event:
    done = threading.Event()

    def on_finished(job: Job, duration: float) -> None:
        if job.patient_id == patient:
            done.set()

    node.events.on(events.JOB_FINISHED, on_finished)
    return done


def test_stop_hands_unfinished_jobs_back_and_the_next_start_runs_them(tmp_path):
    """Item 1 (stop turned the backlog into failed jobs) and item 9 (work lost at stop)."""
    gate, started = threading.Event(), threading.Event()
    running_series, queued = series("RUNNING", count=5), series("QUEUED")
    first, late = running_series[:3], running_series[3:]
    data = str(tmp_path / "data")
    try:
        node = Node(
            Recording(
                port=0,
                data_directory=data,
                workers=1,
                queue_size=4,
                shutdown_timeout=1,
                gate=gate,
                started=started,
            )
        ).start()
        assert store_all(node, first) == [0] * 3
        assert started.wait(30)  # RUNNING's job holds the only worker
        assert store_all(node, queued) == [0] * len(queued)  # waits in the runner's queue
        assert store_all(node, late) == [0] * 2  # RUNNING's next generation
        node.stop()  # runs out of time: both jobs are cut short
        # A job that ended during the runner's stop asked for a check of the
        # late data; nothing may be left counting once stop has returned.
        assert node.activity.count == 0
    finally:
        gate.set()  # the abandoned thread may end now; its result is ignored

    node = Node(Recording(port=0, data_directory=data))
    recorder = JobRecorder(node)  # before start: the start itself runs them
    with node:
        assert node.wait_idle(60)
        assert node.store.failed() == []
        ran = {job.patient_id: job.instance_count for job in recorder.finished}
    assert ran == {"RUNNING": 5, "QUEUED": len(queued)}


def _with_bad_instance_number(count: int) -> list[Dataset]:
    datasets = series("BADNUMBER", count=count)
    # Written raw: an IS value no integer parser accepts, as some senders do.
    tag = Tag("InstanceNumber")
    datasets[1][tag] = RawDataElement(tag, "IS", 4, b"abc ", 0, False, True)  # type: ignore[assignment]
    return datasets


def test_a_value_that_breaks_the_readiness_check_fails_the_patient_visibly():
    """Item 16: the check raised at every round and the patient waited forever."""
    with running(Recording) as node:
        recorder = JobRecorder(node)
        assert store_all(node, _with_bad_instance_number(3)) == [0] * 3
        assert node.wait_idle(60)
        failed = node.store.failed()
        assert [f.patient for f in failed] == ["BADNUMBER"]
        assert "abc" in failed[0].reason
        assert [job.patient_id for job, _ in recorder.failed] == ["BADNUMBER"]
        # Retryable: a retry checks again (and fails again, visibly, no loop).
        assert node.store.retry_failed("BADNUMBER") == 3
        node._dispatcher.check(["BADNUMBER"])
        assert node.wait_idle(60)
        assert [f.patient for f in node.store.failed()] == ["BADNUMBER"]
        assert len(recorder.failed) == 2


def test_a_raising_is_complete_fails_the_patient_with_its_traceback():
    class Exploding(Input):
        required_values = {"Modality": "CT"}

        def is_complete(self, datasets: Sequence[Dataset]) -> bool:
            raise ZeroDivisionError("the user's check is broken")

    class Node_(Recording):
        inputs = {"ct": Exploding}

    with running(Node_) as node:
        assert store_all(node, series("BROKEN", count=2)) == [0, 0]
        assert node.wait_idle(60)
        (failed,) = node.store.failed()
        assert "Exploding.is_complete raised" in failed.reason
        assert "ZeroDivisionError" in failed.reason


class _Gated(Input):
    """An input whose check blocks for one patient until the test lets it go."""

    required_values = {"Modality": "CT"}
    slow_patient = "SLOW"
    entered = threading.Event()
    release = threading.Event()

    def is_complete(self, datasets: Sequence[Dataset]) -> bool:
        if str(datasets[0].PatientID) == self.slow_patient:
            type(self).entered.set()
            assert type(self).release.wait(60)
        return True


class _GatedPipeline(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": _Gated}

    def process(self, job: Job) -> None:
        return None


def test_a_slow_check_for_one_patient_does_not_delay_another():
    """Item 10: one dispatcher thread ran every user check in turn."""
    _Gated.entered.clear()
    _Gated.release.clear()
    with running(_GatedPipeline) as node:
        fast_done = _finished_for(node, "FAST")
        try:
            assert store_all(node, series("SLOW", count=2)) == [0, 0]
            assert _Gated.entered.wait(30)  # SLOW's check is stuck in user code
            assert store_all(node, series("FAST", count=2)) == [0, 0]
            assert fast_done.wait(30), "FAST waited behind SLOW's check"
        finally:
            _Gated.release.set()
        assert node.wait_idle(60)


def test_checks_for_one_patient_are_merged_while_one_runs():
    """Item 10: every association close queued its own check (quadratic)."""
    count = 20
    calls: list[int] = []
    entered, release = threading.Event(), threading.Event()

    class Counting(Input):
        required_values = {"Modality": "CT"}

        def is_complete(self, datasets: Sequence[Dataset]) -> bool:
            calls.append(len(datasets))
            if len(calls) == 1:
                entered.set()
                assert release.wait(60)
            return len(datasets) == 10 * count  # more are to come

    class Node_(Recording):
        inputs = {"ct": Counting}

    datasets = series("MERGED", count=count)
    with running(Node_) as node:
        try:
            assert store_all(node, datasets[:1]) == [0]
            assert entered.wait(30)
            for ds in datasets[1:]:  # one association per image, as some modalities do
                assert store_all(node, [ds]) == [0]
        finally:
            release.set()
        assert node.wait_idle(60)
    assert calls == [1, count]  # the first check, then one for all 19 closes


def test_pause_holds_ready_patients_and_resume_runs_them():
    with running(Recording) as node:
        recorder = JobRecorder(node)
        node.pause()
        node.pause()  # idempotent
        assert node.paused
        assert store_all(node, series("PAUSED", count=2)) == [0, 0]
        assert node.wait_idle(60)
        assert recorder.started == []  # received, not processed
        assert node.store.pending() == ["PAUSED"]
        node.resume()
        assert node.wait_idle(60)
        assert [job.patient_id for job in recorder.finished] == ["PAUSED"]
        assert not node.paused


def test_force_processes_an_incomplete_patient_even_while_paused():
    with running(Recording) as node:
        recorder = JobRecorder(node)
        node.pause()
        gap = series("GAP", count=3)
        assert store_all(node, [gap[0], gap[2]]) == [0, 0]  # 2 is missing: not complete
        assert node.wait_idle(60)
        assert node.store.pending() == ["GAP"]
        assert node.force("GAP")
        assert not node.force("NOBODY")
        assert node.wait_idle(60)
        assert [job.instance_count for job in recorder.finished] == [2]


def _poke(node: Node, barrier: threading.Barrier, force: bool) -> None:
    barrier.wait()
    if force:
        node.force("RACE")
    else:
        node._dispatcher.check(["RACE"])


def test_many_threads_forcing_and_checking_one_patient_make_one_job():
    for _ in range(20):
        with running(Recording) as node:
            recorder = JobRecorder(node)
            node.pause()
            assert store_all(node, series("RACE", count=2)) == [0, 0]
            assert node.wait_idle(60)
            barrier = threading.Barrier(8)

            threads = [
                threading.Thread(target=_poke, args=(node, barrier, i % 2 == 1)) for i in range(8)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            node.resume()
            assert node.wait_idle(60)
            assert [job.patient_id for job in recorder.finished] == ["RACE"]



def test_of_many_racing_pauses_and_resumes_exactly_one_changes_the_state():
    """The API says "done" for one caller only: test and set must be one step."""
    with running(Recording) as node:
        for _ in range(100):
            for action in (node.pause, node.resume):
                barrier = threading.Barrier(8)
                answers: list[bool] = []
                lock = threading.Lock()

                def press(act=action, gate=barrier, out=answers, guard=lock) -> None:  # type: ignore[no-untyped-def]
                    gate.wait(30)
                    answer = act()
                    with guard:
                        out.append(answer)

                threads = [threading.Thread(target=press) for _ in range(8)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                assert sorted(answers) == [False] * 7 + [True]
