"""Actions on the running node through the API: each one, idempotent, racing, audited."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dcmnode import Input, Job, Pipeline
from dcmnode.testing import RecordingSCP, series
from pipelines import Echoing, Recording
from sending import store_all
from support import reserved_port

RACERS = 16


def race(action: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    """Run *action* on RACERS threads released together; return every answer."""
    barrier = threading.Barrier(RACERS)
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        answer = action()
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=run) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == RACERS
    return answers


def failed_job(api: Any, patient: str, count: int = 2) -> tuple[str, list[str]]:
    sent = series(patient, count)
    store_all(api.node, sent)
    api.node.wait_idle()
    (job,) = api.get("/api/failed")
    return job["id"], sorted(str(ds.SOPInstanceUID) for ds in sent)


def processed(api: Any, patient: str) -> list[list[str]]:
    """SOP lists of the patient's finished jobs."""
    jobs = [
        j for j in api.get("/api/jobs", params={"state": "finished"}) if j["patient"] == patient
    ]
    return [sorted(api.get(f"/api/jobs/{j['id']}")["sops"]) for j in jobs]


def test_retry_a_failed_job_after_fixing_the_cause_exactly_one_racer_wins(serve: Any) -> None:
    with serve(Recording, fail_for=("P1",)) as api:
        job_id, sops = failed_job(api, "P1")
        api.node.pipeline.fail_for = ()  # the cause is fixed
        answers = race(lambda: api.post(f"/api/jobs/{job_id}/retry"))
        assert sum(a["done"] for a in answers) == 1
        api.node.wait_idle()
        assert api.get("/api/failed") == []
        assert processed(api, "P1") == [sops]
        again = api.post(f"/api/jobs/{job_id}/retry")
        assert again == {"done": False, "message": "not a failed job (any more)"}


def test_discard_a_failed_job_exactly_one_racer_wins_and_the_data_goes(
    serve: Any, tmp_path: Any
) -> None:
    with serve(Recording, fail_for=("P2",), data_directory=str(tmp_path)) as api:
        job_id, _ = failed_job(api, "P2", 3)
        answers = race(lambda: api.post(f"/api/jobs/{job_id}/discard"))
        assert sum(a["done"] for a in answers) == 1
        assert api.get("/api/failed") == []
        assert api.get("/api/patients") == []
    with serve(Recording, data_directory=str(tmp_path)) as api:  # and it stays gone
        assert api.get("/api/failed") == []


class NeverComplete(Input):
    required_values = {"Modality": "CT"}

    def is_complete(self, datasets: Any) -> bool:
        return False


class Incomplete(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": NeverComplete}

    def process(self, job: Job) -> None:
        return None


def test_force_processes_a_waiting_patient_once_however_many_press_it(serve: Any) -> None:
    with serve(Incomplete) as api:
        sent = series("P3", 3)
        store_all(api.node, sent)
        api.node.wait_idle()
        assert len(api.get("/api/patients")) == 1
        race(lambda: api.post("/api/patients/P3/force"))
        api.node.wait_idle()
        assert processed(api, "P3") == [sorted(str(ds.SOPInstanceUID) for ds in sent)]
        assert api.post("/api/patients/P3/force")["done"] is False  # nothing waits any more


def test_pause_holds_processing_not_receiving_and_resume_releases_it(serve: Any) -> None:
    with serve(Recording) as api:
        answers = race(lambda: api.post("/api/pause"))
        assert sum(a["done"] for a in answers) == 1
        assert store_all(api.node, series("P4", 2)) == [0, 0]  # receiving goes on
        api.node.wait_idle()
        assert api.get("/api/jobs") == []
        assert "processing paused" in api.get("/api/patients")[0]["waiting_for"]
        answers = race(lambda: api.post("/api/resume"))
        assert sum(a["done"] for a in answers) == 1
        api.node.wait_idle()
        assert [j["state"] for j in api.get("/api/jobs")] == ["finished"]


def test_retry_a_failed_delivery_once_the_destination_is_up(serve: Any) -> None:
    with reserved_port() as port:  # down until the PACS below starts on it
        _retry_a_failed_delivery(serve, port)


def _retry_a_failed_delivery(serve: Any, port: int) -> None:
    settings = {"destination": f"PACS@127.0.0.1:{port}", "export_retries": 0}
    with serve(Echoing, **settings) as api:
        store_all(api.node, series("P5", 3))
        api.node.wait_idle()
        (delivery,) = api.get("/api/deliveries")
        with RecordingSCP("PACS", port=port) as pacs:
            answers = race(lambda: api.post(f"/api/deliveries/{delivery['id']}/retry"))
            assert sum(a["done"] for a in answers) == 1
            api.node.wait_idle()
            assert len(pacs.received) == 3
        assert api.get("/api/deliveries") == []


def test_discard_a_failed_delivery_deletes_its_results(serve: Any, tmp_path: Any) -> None:
    with reserved_port() as down:
        _discard_a_failed_delivery(serve, tmp_path, down)


def _discard_a_failed_delivery(serve: Any, tmp_path: Any, down: int) -> None:
    settings = {"destination": f"PACS@127.0.0.1:{down}", "export_retries": 0,
                "data_directory": str(tmp_path)}  # fmt: skip
    with serve(Echoing, **settings) as api:
        store_all(api.node, series("P6", 2))
        api.node.wait_idle()
        (delivery,) = api.get("/api/deliveries")
        assert (tmp_path / "outbox" / delivery["id"]).is_dir()
        answers = race(lambda: api.post(f"/api/deliveries/{delivery['id']}/discard"))
        assert sum(a["done"] for a in answers) == 1
        assert api.get("/api/deliveries") == []
        assert not (tmp_path / "outbox" / delivery["id"]).exists()


def test_a_retry_racing_with_new_data_for_the_patient_loses_and_repeats_nothing(
    serve: Any,
) -> None:
    for _ in range(5):
        with serve(Recording, fail_for=("P7",)) as api:
            job_id, old = failed_job(api, "P7")
            api.node.pipeline.fail_for = ()
            new = series("P7", 3)
            barrier = threading.Barrier(2)

            def send(barrier: threading.Barrier, new: list[Any]) -> None:
                barrier.wait()
                assert store_all(api.node, new) == [0, 0, 0]

            sender = threading.Thread(target=send, args=(barrier, new))
            sender.start()
            barrier.wait()
            assert api.post(f"/api/jobs/{job_id}/retry")["done"] is True
            sender.join()
            api.node.wait_idle()
            runs = processed(api, "P7")
            every = sorted(sop for run in runs for sop in run)
            assert every == sorted(old + [str(ds.SOPInstanceUID) for ds in new])


def test_every_action_is_in_the_audit_trail_with_who_did_it(serve: Any) -> None:
    with serve(Recording) as api:
        api.client.post("/api/pause", headers={"X-Dcmnode-Token": api.token,
                                               "X-Dcmnode-Operator": "alice"})  # fmt: skip
        api.post("/api/pause")
        api.post("/api/jobs/nope/retry")
        rows = api.get("/api/audit", params={"kind": "action"})
        assert [(r["who"], r["status"], r["detail"]["action"]) for r in rows] == [
            ("api@127.0.0.1", "nothing to do", "retry_job"),
            ("api@127.0.0.1", "nothing to do", "pause"),
            ("alice@127.0.0.1", "done", "pause"),
        ]
        refused = api.client.post("/api/resume")
        assert refused.status_code == 401
        assert len(api.get("/api/audit", params={"kind": "action"})) == 3
