"""Results wait in the outbox until the destination takes them -- also across a restart."""

from __future__ import annotations

import threading

from dcmnode import Address, Node, events
from dcmnode.testing import RecordingSCP, series
from pipelines import Echoing
from sending import store_all
from support import reserved_port


def _node(tmp_path, destination: Address, **settings) -> Node:  # type: ignore[no-untyped-def]
    return Node(
        Echoing(
            port=0,
            data_directory=str(tmp_path / "data"),
            destination=destination,
            export_backoff=0.1,
            export_backoff_max=0.2,
            export_timeout=5,
            **settings,
        )
    )


def _attempts(node: Node) -> threading.Semaphore:
    """A semaphore released once per failed delivery attempt."""
    seen = threading.Semaphore(0)
    node.events.on(events.EXPORT_RETRYING, lambda **payload: seen.release())
    return seen


def test_destination_down_then_back_gets_every_instance_once(tmp_path):
    with reserved_port() as port:  # refused until the PACS starts; nobody else takes it
        destination = Address("LATE", "127.0.0.1", port)
        sent = series("OUTBOX", count=6)
        node = _node(tmp_path, destination)
        failures = _attempts(node)
        delivered = threading.Event()
        node.events.on(events.EXPORT_DELIVERED, lambda job_id, delivery: delivered.set())
        with node:
            assert store_all(node, sent) == [0] * 6
            assert failures.acquire(timeout=30) and failures.acquire(timeout=30)  # retried twice
            assert not node.wait_idle(0)  # the delivery is still pending
            with RecordingSCP("LATE", port=port) as pacs:
                assert delivered.wait(30)
                assert node.wait_idle(30)
            uids = [ds.SOPInstanceUID for ds in pacs.received]
            assert sorted(uids) == sorted(ds.SOPInstanceUID for ds in sent)  # each once
    assert list((tmp_path / "data" / "outbox").iterdir()) == []


def test_pending_delivery_survives_a_restart(tmp_path):
    with reserved_port() as port:
        destination = Address("LATE", "127.0.0.1", port)
        sent = series("RESTART", count=5)
        node = _node(tmp_path, destination)
        failures = _attempts(node)
        with node:
            assert store_all(node, sent) == [0] * 5
            assert failures.acquire(timeout=30)
        assert len(list((tmp_path / "data" / "outbox").glob("*/manifest.json"))) == 1
        with RecordingSCP("LATE", port=port) as pacs:
            node = _node(tmp_path, destination)
            with node:
                assert node.wait_idle(30)
            assert sorted(ds.SOPInstanceUID for ds in pacs.received) == sorted(
                ds.SOPInstanceUID for ds in sent
            )
    assert list((tmp_path / "data" / "outbox").iterdir()) == []


def test_delivery_marked_failed_after_its_retries_and_kept(tmp_path):
    with reserved_port() as port:  # nothing ever answers there
        node = _node(tmp_path, Address("NOBODY", "127.0.0.1", port), export_retries=2)
        failed = threading.Event()
        node.events.on(events.EXPORT_FAILED, lambda job_id, error: failed.set())
        with node:
            assert store_all(node, series("GIVEUP", count=2)) == [0, 0]
            assert failed.wait(30)
            assert node.wait_idle(30)
    [manifest] = list((tmp_path / "data" / "outbox").glob("*/manifest.json"))
    assert '"state": "failed"' in manifest.read_text()


def test_failed_delivery_is_listed_and_retried_from_the_cli(tmp_path):
    import subprocess
    import sys

    with reserved_port() as port:
        destination = Address("LATE", "127.0.0.1", port)
        sent = series("CLIOUT", count=3)
        node = _node(tmp_path, destination, export_retries=0)
        failed = threading.Event()
        node.events.on(events.EXPORT_FAILED, lambda job_id, error: failed.set())
        with node:
            assert store_all(node, sent) == [0] * 3
            assert failed.wait(30)
        data = str(tmp_path / "data")
        cli = [sys.executable, "-m", "dcmnode", "failed"]
        listing = subprocess.run([*cli, "list", data], capture_output=True, text=True, check=True)
        assert "patient 'CLIOUT'  3 results not delivered to LATE@127.0.0.1" in listing.stdout
        retried = subprocess.run([*cli, "retry", data, "--all"], capture_output=True, text=True)
        assert retried.returncode == 0, retried.stderr
        with RecordingSCP("LATE", port=port) as pacs:
            with _node(tmp_path, destination) as node:
                assert node.wait_idle(30)
            assert len(pacs.received) == 3


def test_partial_delivery_resends_only_what_is_missing(tmp_path):
    sent = series("PARTIAL", count=6)
    refused = [0, 0xA700, 0, 0xA700, 0xA700, 0]  # the first attempt stores 3 of 6
    with RecordingSCP("LATE", answers=refused) as pacs:  # port 0: its own free port
        with _node(tmp_path, pacs.address) as node:
            assert store_all(node, sent) == [0] * 6
            assert node.wait_idle(30)
        assert len(pacs.attempts) == 9  # 6, then only the 3 refused ones again
        assert sorted(pacs.attempts[6:]) == sorted(pacs.attempts[i] for i in (1, 3, 4))
        assert sorted(ds.SOPInstanceUID for ds in pacs.received) == sorted(
            ds.SOPInstanceUID for ds in sent
        )
