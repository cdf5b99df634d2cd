"""`Webhooks`: named events POSTed as JSON to a URL, on a thread of their own.

Event handlers only put a small dict on a bounded queue (``put_nowait``): a
webhook that is slow, down or refusing costs the threads that receive and
process nothing. One thread sends, retrying each notification with a
growing delay; when the queue is full, new notifications are dropped and
counted, never waited for.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.request
from typing import Any

from dcmnode import events
from dcmnode.events import EventBus
from dcmnode.job import Job

log = logging.getLogger("dcmnode.webhooks")

_STOP: dict[str, Any] = {}


class Webhooks:
    """Notify *url* of the chosen events.

    Parameters
    ----------
    url : str
        Where each notification is POSTed (``Content-Type: application/json``).
    names : list of str
        ``job_failed``, ``export_failed`` (delivery failed for good),
        ``export_delivered`` (results delivered).
    node : str
        The node's AE title, sent along so one receiver can serve many nodes.
    retries, backoff, timeout : int, float, float
        Tries after the first, the first delay (doubling), seconds per POST.
    queue_size : int
        Notifications that may wait; beyond that they are dropped and counted.
    """

    def __init__(
        self,
        url: str,
        names: list[str],
        node: str,
        retries: int = 5,
        backoff: float = 1.0,
        timeout: float = 5.0,
        queue_size: int = 1000,
    ) -> None:
        self.url = url
        self.names = list(names)
        self.node = node
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.dropped = 0
        self.sent = 0
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(queue_size)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dcmnode-webhooks", daemon=True)

    def subscribe(self, bus: EventBus) -> None:
        """Turn the chosen events into notifications from now on."""
        if "job_failed" in self.names:
            bus.on(events.JOB_FAILED, self._job_failed)
        if "export_failed" in self.names:
            bus.on(events.EXPORT_FAILED, self._export_failed)
        if "export_delivered" in self.names:
            bus.on(events.EXPORT_DELIVERED, self._export_delivered)
        if "deadline_passed" in self.names:
            bus.on(events.DEADLINE_PASSED, self._deadline_passed)

    def _job_failed(self, job: Job, duration: float, error: str) -> None:
        reason = error.splitlines()[0] if error else ""
        self.notify("job_failed", job_id=job.id, patient=job.patient_id, reason=reason)

    def _export_failed(self, job_id: str, error: str) -> None:
        self.notify("export_failed", job_id=job_id, error=error)

    def _export_delivered(self, job_id: str, delivery: str) -> None:
        self.notify("export_delivered", job_id=job_id, delivery=delivery)

    def _deadline_passed(self, job: Job, policy: str) -> None:
        self.notify("deadline_passed", job_id=job.id, patient=job.patient_id, policy=policy)

    def notify(self, name: str, **payload: Any) -> None:
        """Queue one notification; never waits (a full queue drops it, logged)."""
        body = {"event": name, "node": self.node, "time": time.time(), **payload}
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self.dropped += 1
            log.warning("webhook: queue full; %s notification dropped (%d so far)", name,
                        self.dropped)  # fmt: skip

    def start(self) -> None:
        """Start the sending thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the notification being sent; what waits is logged and dropped."""
        self._stopping.set()
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            pass  # the loop sees _stopping after its current notification
        self._thread.join(timeout)
        left = self._queue.qsize()
        if left:
            log.warning("webhook: %d notifications not sent at stop", left)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            body = self._queue.get()
            if body is _STOP:
                return
            try:
                self._deliver(body)
            except Exception:  # never let the thread die
                log.exception("webhook: unexpected error sending %s", body.get("event"))

    def _deliver(self, body: dict[str, Any]) -> None:
        data = json.dumps(body, default=str).encode()
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                request = urllib.request.Request(
                    self.url, data, {"Content-Type": "application/json"}, method="POST"
                )
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                self.sent += 1
                return
            except Exception as exc:
                if attempt == self.retries or self._stopping.wait(delay):
                    log.error("webhook: %s to %s not delivered: %s", body["event"], self.url, exc)
                    return
                delay = min(delay * 2, 300.0)
