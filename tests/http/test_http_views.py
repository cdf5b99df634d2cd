"""The read-only views against a real node, fed by a real SCU over loopback."""

from __future__ import annotations

import logging
import threading
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from dcmnode import Input, Job, Pipeline
from dcmnode.testing import RecordingSCP, series
from pipelines import Echoing, Recording
from sending import associate, store_all
from support import reserved_port


class SlowCT(Input):
    required_values = {"Modality": "CT"}
    stable_after = 3600.0  # never quiet within a test: the patient waits


class Waiting(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": SlowCT}

    def process(self, job: Job) -> None:
        return None


def test_a_waiting_patient_shows_its_inputs_sender_and_why_it_waits(serve: Any) -> None:
    with serve(Waiting, deadline=7200.0) as api:
        # a patient in its quiet period keeps the node busy (wait_idle would
        # wait the hour): join on the association's end instead
        closed = threading.Event()
        api.node.events.on("association_closed", lambda association: closed.set())
        assert store_all(api.node, series("P1", 3) + series("P1", 2)) == [0] * 5
        assert closed.wait(30)
        (patient,) = api.get("/api/patients")
        assert patient["patient"] == "P1"
        assert patient["inputs"] == {"ct": {"instances": 5, "series": 2}}
        assert patient["generation"] == 1
        assert patient["sender"] == "SCANNER@127.0.0.1"
        reasons = patient["waiting_for"]
        assert any(r.startswith("quiet period: ") and r.endswith(" s left") for r in reasons)
        assert any(r.startswith("deadline in ") and r.endswith("(process)") for r in reasons)
        api.node.pause()
        (patient,) = api.get("/api/patients")
        assert "processing paused" in patient["waiting_for"]


def test_an_open_association_is_listed_and_named_as_the_reason_a_patient_waits(
    serve: Any,
) -> None:
    with serve(Recording) as api:
        assoc = associate(api.node, calling_ae="MODALITY1")
        try:
            for ds in series("P7", 2):
                assert assoc.send_c_store(ds).Status == 0
            (listed,) = api.get("/api/associations")
            assert listed["calling_ae"] == "MODALITY1"
            assert listed["address"] == "127.0.0.1"
            assert listed["instances"] == 2
            assert listed["patients"] == ["P7"]
            (patient,) = api.get("/api/patients")
            who = f"association {listed['id']} (MODALITY1@127.0.0.1) still delivering"
            assert patient["waiting_for"] == [who]
        finally:
            assoc.release()
        api.node.wait_idle()
        assert api.get("/api/associations") == []
        assert api.get("/api/patients") == []  # processed and gone


def test_jobs_show_state_duration_instances_and_their_log(serve: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="dcmnode")  # the job log keeps what logging lets through
    with serve(Recording) as api:
        sent = series("P2", 3)
        store_all(api.node, sent)
        api.node.wait_idle()
        (job,) = api.get("/api/jobs")
        assert job["state"] == "finished"
        assert job["patient"] == "P2"
        assert job["instances"] == 3
        assert job["duration"] >= 0
        assert job["sender"] == "SCANNER@127.0.0.1"
        detail = api.get(f"/api/jobs/{job['id']}")
        assert sorted(detail["sops"]) == sorted(str(ds.SOPInstanceUID) for ds in sent)
        assert any(r["message"].endswith(": started") for r in detail["logs"])
        assert api.get("/api/jobs", params={"state": "failed"}) == []
        assert api.client.get("/api/jobs/no-such-job").status_code == 404


def test_a_failed_job_shows_its_reason_traceback_and_error_log(serve: Any) -> None:
    with serve(Recording, fail_for=("P3",)) as api:
        store_all(api.node, series("P3", 2))
        api.node.wait_idle()
        (job,) = api.get("/api/jobs", params={"state": "failed"})
        assert job["reason"] == "RuntimeError: model exploded on P3"
        detail = api.get(f"/api/jobs/{job['id']}")
        assert "Traceback" in detail["error"]
        assert detail["retryable"] is True
        assert any(r["level"] == "ERROR" for r in detail["logs"])
        (failed,) = api.get("/api/failed")
        assert failed["id"] == job["id"]
        assert failed["instances"] == 2
        (patient,) = api.get("/api/patients")
        assert patient["failed_jobs"] == [job["id"]]


def test_a_failed_delivery_is_listed_with_its_error_and_attempts(serve: Any) -> None:
    with reserved_port() as down:  # nothing listens there
        _a_failed_delivery_is_listed(serve, down)


def _a_failed_delivery_is_listed(serve: Any, down: int) -> None:
    with serve(Echoing, destination=f"PACS@127.0.0.1:{down}", export_retries=0) as api:
        store_all(api.node, series("P4", 2))
        api.node.wait_idle()
        (delivery,) = api.get("/api/deliveries")
        assert delivery["state"] == "failed"
        assert delivery["patient"] == "P4"
        assert delivery["attempts"] == 1
        assert delivery["instances"] == 2
        assert delivery["last_error"]
        assert delivery["destinations"] == [{"address": f"PACS@127.0.0.1:{down}", "delivered": 0}]


def test_node_view_masks_secrets_and_reports_runner_and_disk(serve: Any) -> None:
    with serve(Recording, http_token="s" * 20) as api:
        node = api.get("/api/node")
        assert node["pipeline"] == "Recording"
        assert node["settings"]["http_token"] == "***"
        assert node["settings"]["ae_title"] == "NODE"
        assert node["runner"]["type"] == "ThreadRunner"
        assert node["disk"]["directory"] is None
        assert node["uptime"] >= 0
        assert node["paused"] is False


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_what_was_sent_parsed_by_prometheus_client(serve: Any) -> None:
    with serve(Waiting, unrouted="reject") as api:
        closed = threading.Event()
        api.node.events.on("association_closed", lambda association: closed.set())
        statuses = store_all(api.node, series("P5", 4) + series("P5", 1, modality="MR"))
        assert statuses == [0, 0, 0, 0, 0xC102]
        assert closed.wait(30)
        samples = _samples(api.client.get("/metrics").text)
        assert samples[("dcmnode_instances_received_total", (("status", "0x0000"),))] == 4
        assert samples[("dcmnode_instances_received_total", (("status", "0xC102"),))] == 1
        assert samples[("dcmnode_patients_waiting", ())] == 1
        assert samples[("dcmnode_associations_open", ())] == 0
        assert samples[("dcmnode_paused", ())] == 0


def test_metrics_time_jobs_and_the_trigger_latency(serve: Any) -> None:
    with serve(Recording) as api:
        store_all(api.node, series("P6", 2))
        api.node.wait_idle()
        samples = _samples(api.client.get("/metrics").text)
        assert samples[("dcmnode_jobs_ended_total", (("result", "finished"),))] == 1
        assert samples[("dcmnode_job_duration_seconds_count", ())] == 1
        assert samples[("dcmnode_trigger_latency_seconds_count", ())] == 1
        assert samples[("dcmnode_jobs", (("state", "running"),))] == 0


def test_two_nodes_keep_separate_metrics(serve: Any) -> None:
    with serve(Recording) as first, serve(Recording) as second:
        store_all(first.node, series("P8", 3))
        first.node.wait_idle()
        one = _samples(first.client.get("/metrics").text)
        two = _samples(second.client.get("/metrics").text)
        assert one[("dcmnode_instances_received_total", (("status", "0x0000"),))] == 3
        assert ("dcmnode_instances_received_total", (("status", "0x0000"),)) not in two


def test_the_audit_answers_where_an_instance_came_from_and_went(serve: Any, tmp_path: Any) -> None:
    with RecordingSCP("PACS") as pacs:
        settings = {"destination": str(pacs.address), "data_directory": str(tmp_path)}
        with serve(Echoing, **settings) as api:
            sent = series("P9", 2)
            store_all(api.node, sent, calling_ae="CT01")
            api.node.wait_idle()
            sop = str(sent[0].SOPInstanceUID)
            (row,) = api.get("/api/audit", params={"sop": sop})
            assert (row["kind"], row["who"], row["status"], row["patient"]) == (
                "received", "CT01@127.0.0.1", "0x0000", "P9")  # fmt: skip
            jobs = api.get("/api/audit", params={"patient": "P9", "kind": "job"})
            assert [r["status"] for r in jobs] == ["finished", "queued"]
            assert sop in jobs[1]["detail"]["sops"]
            job_id = jobs[0]["job"]
            deliveries = api.get("/api/audit", params={"job": job_id, "kind": "delivery"})
            assert [d["status"] for d in deliveries] == ["delivered", "queued"]
            queued = deliveries[1]
            assert queued["patient"] == "P9"
            assert queued["detail"]["destinations"] == [str(pacs.address)]
            received = sorted(str(ds.SOPInstanceUID) for ds in pacs.received)
            assert sorted(queued["detail"]["sops"]) == received  # the results it made
        # durable: a new node on the same directory still answers
        with serve(Echoing, **settings) as api:
            assert len(api.get("/api/audit", params={"sop": sop})) == 1


def test_the_board_remembers_a_bounded_number_of_arrivals() -> None:
    from dcmnode.events import EventBus
    from dcmnode.node.board import Board

    bus = EventBus()
    board = Board(bus, keep=2)  # keeps the last 20 patients' arrivals
    for i in range(50):
        bus.emit("stored", association=1, patient=f"P{i}", sop_instance_uid="1.2", inputs=("ct",))
    assert board.last_arrival("P49") is not None
    assert board.last_arrival("P29") is None and board.last_arrival("P30") is not None
