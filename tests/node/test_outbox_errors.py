"""The outbox's thread survives errors in its own bookkeeping (issue 9, item 2)."""

from __future__ import annotations

import shutil
import threading

from dcmnode import Address, events
from dcmnode.events import EventBus
from dcmnode.node.activity import Activity
from dcmnode.node.outbox import Outbox
from dcmnode.testing import RecordingSCP, series
from support import reserved_port


def test_a_failing_manifest_write_does_not_end_the_delivery_thread(tmp_path):
    with reserved_port() as down:
        _failing_manifest_write(tmp_path, down)


def _failing_manifest_write(tmp_path, down):  # type: ignore[no-untyped-def]
    bus, activity = EventBus(), Activity()
    failed = threading.Event()
    bus.on(events.EXPORT_FAILED, lambda job_id, error: failed.set())
    outbox = Outbox(tmp_path / "outbox", "NODE", 5, 1, 0.01, 0.01, activity, bus)
    nowhere = Address("GONE", "127.0.0.1", down)  # nobody listens there
    outbox.put("job-1", "P1", 0, series("P1", count=2), [nowhere])
    # The delivery's folder vanishes (an operator, a full disk's clean-up):
    # recording the failed attempt in its manifest now raises OSError.
    shutil.rmtree(tmp_path / "outbox" / "job-1-0")
    outbox.start()
    try:
        assert failed.wait(30)  # retries used up, even though nothing could be recorded
        assert outbox.alive()
        with RecordingSCP("PACS") as pacs:
            later = series("P2", count=3)
            outbox.put("job-2", "P2", 0, later, [pacs.address])
            assert activity.wait_idle(30), "the delivery thread died"
            assert sorted(ds.SOPInstanceUID for ds in pacs.received) == sorted(
                ds.SOPInstanceUID for ds in later
            )
    finally:
        outbox.stop(10)
    assert not outbox.alive()
