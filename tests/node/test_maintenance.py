"""Quiet periods and expiry, driven by the maintenance thread over a real node."""

from __future__ import annotations

import threading
from pathlib import Path

from dcmnode import Input, Node, Pipeline, events
from dcmnode.testing import JobRecorder, series
from sending import store_all
from support import logged


class QuietCT(Input):
    required_values = {"Modality": "CT"}
    stable_after = 2.0

    def is_complete(self, datasets) -> bool:  # type: ignore[no-untyped-def]
        return True  # anything counts once the patient has been quiet


class Quiet(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": QuietCT}
    maintenance_interval = 0.05

    def process(self, job):  # type: ignore[no-untyped-def]
        return None


class AnyCT(Input):
    required_values = {"Modality": "CT"}


class Processing(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": AnyCT}

    def process(self, job):  # type: ignore[no-untyped-def]
        return None


class NeverCT(Input):
    required_values = {"Modality": "CT"}

    def is_complete(self, datasets) -> bool:  # type: ignore[no-untyped-def]
        return False


class Expiring(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": NeverCT}
    maintenance_interval = 0.05

    def process(self, job):  # type: ignore[no-untyped-def]
        return None


def _wait_quieting(node: Node, patient: str) -> None:
    """Until the check after the last association found *patient* waiting for quiet.

    A patient in its quiet period counts as activity, so wait_idle() would
    wait the period out; the dispatcher's own record says the check has run.
    """
    dispatcher = node._dispatcher
    with dispatcher._cond:
        assert dispatcher._cond.wait_for(
            lambda: patient in dispatcher._quieting and patient not in dispatcher._wanted, 30
        )


def test_quiet_period_delays_the_job_until_no_data_came_for_stable_after(monkeypatch):
    # An hour of quiet while the test looks, so that "not yet" cannot depend on
    # how fast this machine is; then a short one, so that the job runs.
    monkeypatch.setattr(QuietCT, "stable_after", 3600.0)
    node = Node(Quiet(port=0, data_directory=None))
    jobs = JobRecorder(node)
    done = threading.Event()
    node.events.on(events.JOB_FINISHED, lambda job, duration: done.set())
    with node:
        first = series("QUIET", count=3)
        assert store_all(node, first[:2]) == [0, 0]
        _wait_quieting(node, "QUIET")
        assert jobs.started == []  # released and complete, but not yet quiet
        assert store_all(node, first[2:]) == [0]
        _wait_quieting(node, "QUIET")
        assert jobs.started == []
        monkeypatch.setattr(QuietCT, "stable_after", 0.1)
        assert done.wait(30)
        assert node.wait_idle(30)
    [job] = jobs.finished
    assert len(job.datasets["ct"]) == 3


def test_expiry_removes_untouched_patients_and_their_files(tmp_path: Path):
    data = tmp_path / "data"
    node = Node(Expiring(port=0, data_directory=str(data), expire_after=0.3, quiet_period=0))
    with node, logged("dcmnode.maintenance", "expired") as expired:
        assert store_all(node, series("OLD", count=3)) == [0] * 3
        assert node.wait_idle(30)
        files = lambda: [p for p in (data / "instances").rglob("*.dcm")]  # noqa: E731
        assert len(files()) == 3
        assert expired.wait(30)  # logged once the store has removed the patient
        assert node.store.patients() == []
        assert node.store.journal.flush()
        assert files() == []


class Deadlined(Expiring):
    deadline = 0.3


def _wait_for(event_name: str, node: Node) -> threading.Event:
    happened = threading.Event()
    node.events.on(event_name, lambda **payload: happened.set())
    return happened


def test_deadline_process_runs_what_arrived():
    node = Node(Deadlined(port=0, data_directory=None, deadline_policy="process"))
    jobs = JobRecorder(node)
    finished = _wait_for(events.JOB_FINISHED, node)
    forced: list[tuple[str, str]] = []
    node.events.on(events.DEADLINE_PASSED, lambda job, policy: forced.append((job.id, policy)))
    with node:
        assert store_all(node, series("LATE", count=3)) == [0] * 3
        assert finished.wait(30)
        assert node.wait_idle(30)
    [job] = jobs.finished
    assert len(job.datasets["ct"]) == 3
    assert forced == [(job.id, "process")]


def test_deadline_fail_keeps_the_data_as_failed():
    node = Node(Deadlined(port=0, data_directory=None, deadline_policy="fail"))
    failed = _wait_for(events.JOB_FAILED, node)
    forced: list[tuple[str, str]] = []
    node.events.on(events.DEADLINE_PASSED, lambda job, policy: forced.append((job.id, policy)))
    with node:
        assert store_all(node, series("LATE", count=2)) == [0] * 2
        assert failed.wait(30)
        assert node.wait_idle(30)
        [generation] = node.store.failed()
        assert "deadline" in generation.reason and len(generation.inputs["ct"]) == 2
    assert forced == [(generation.job_id, "fail")]


def test_an_association_that_ends_without_a_close_event_is_swept():
    """If pynetdicom ever lost a close event, the patient must not wait forever."""
    from pynetdicom import evt

    from sending import associate

    node = Node(Processing(port=0, data_directory=None, maintenance_interval=0.05))
    finished = _wait_for(events.JOB_FINISHED, node)
    with node:
        assoc = associate(node)
        for ds in series("SILENT", count=3):
            assert assoc.send_c_store(ds).Status == 0
        # Simulate the lost event: the node's close handler is unbound from
        # the server side of this association before the sender releases.
        for server_side in node._scp._ae.active_associations:
            server_side.unbind(evt.EVT_CONN_CLOSE, node._scp._handle_close)
        assoc.release()
        assert finished.wait(30)  # the maintenance sweep closed it; the job ran
        assert node.wait_idle(30)


def test_deadline_counts_from_the_first_instance_not_from_the_epoch():
    # The maintenance thread sleeps for an hour: the test runs the round
    # itself, so that it knows one has run. Counted from the epoch, an
    # hour's deadline would have passed long ago; counted from the first
    # instance, it cannot have. (That a deadline does fire once it has
    # passed: the two tests above.)
    node = Node(
        Deadlined(
            port=0,
            data_directory=None,
            deadline=3600.0,
            maintenance_interval=3600.0,
            quiet_period=0,  # no maintenance round may be needed to end a quiet period
        )
    )
    jobs = JobRecorder(node)
    with node:
        assert store_all(node, series("EARLY", count=2)) == [0] * 2
        assert node.wait_idle(30)
        node._maintenance.tick()
        assert node.wait_idle(30)  # a forced patient counts as activity until it ran
        assert jobs.started == [] and node.store.failed() == []
        [status] = node.store.patients()
        assert status.patient == "EARLY"


class QuickCT(QuietCT):
    stable_after = 0.3


class QuickQuiet(Quiet):
    inputs = {"ct": QuickCT}


def test_quiet_period_applies_again_to_the_next_generation():
    """Same patient, same number of instances twice: each generation gets its job."""
    node = Node(QuickQuiet(port=0, data_directory=None))
    jobs = JobRecorder(node)
    done = threading.Semaphore(0)
    node.events.on(events.JOB_FINISHED, lambda job, duration: done.release())
    with node:
        for _ in range(2):
            assert store_all(node, series("AGAIN", count=2)) == [0, 0]
            assert done.acquire(timeout=30)
            assert node.wait_idle(30)
    assert [len(j.datasets["ct"]) for j in jobs.finished] == [2, 2]
