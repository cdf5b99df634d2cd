"""Webhooks: a receiver on loopback gets each configured event once; a dead one changes nothing."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dcmnode.testing import RecordingSCP, running, series
from pipelines import Echoing, Recording
from sending import store_all
from support import reserved_port


class Receiver:
    """A webhook receiver on a free loopback port that records every POST."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(204)
                self.end_headers()
                with receiver._cond:
                    receiver.bodies.append(body)
                    receiver._cond.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.bodies) >= count, 30), self.bodies
            return list(self.bodies)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_each_configured_event_reaches_the_receiver_once(receiver: Receiver) -> None:
    with RecordingSCP("PACS") as pacs:
        settings = {"destination": str(pacs.address), "webhook_url": receiver.url,
                    "webhook_events": ["export_delivered", "job_failed"]}  # fmt: skip
        with running(Echoing, **settings) as node:
            store_all(node, series("W1", 2))
            node.wait_idle()
            (body,) = receiver.wait_for(1)
            assert body["event"] == "export_delivered"
            assert body["node"] == "NODE"
            node.operating.webhooks.stop()  # all sent: nothing else may follow
        assert len(receiver.bodies) == 1


def test_a_failed_job_is_notified_with_its_reason(receiver: Receiver) -> None:
    with running(Recording, fail_for=("W2",), webhook_url=receiver.url) as node:
        store_all(node, series("W2", 2))
        node.wait_idle()
        (body,) = receiver.wait_for(1)
        assert (body["event"], body["patient"]) == ("job_failed", "W2")
        assert body["reason"] == "RuntimeError: model exploded on W2"


def test_a_dead_or_hanging_webhook_changes_nothing_for_the_node() -> None:
    hanging = socket.socket()  # accepts connections, never answers
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(16)
    try:
        with reserved_port() as dead:  # refuses connections
            for url in (
                f"http://127.0.0.1:{dead}/",
                f"http://127.0.0.1:{hanging.getsockname()[1]}/",
            ):
                _twenty_patients_with(url)
    finally:
        hanging.close()


def _twenty_patients_with(url: str) -> None:
    settings = {"webhook_url": url, "fail_for": tuple(f"D{i}" for i in range(10))}
    with running(Recording, **settings) as node:
        for i in range(20):
            assert store_all(node, series(f"D{i}", 2)) == [0, 0]
        node.wait_idle()
        assert len(node.store.failed()) == 10
        assert sum(1 for j in node.operating.board.jobs() if j.state == "finished") == 10
