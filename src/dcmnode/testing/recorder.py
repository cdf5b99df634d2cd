"""`JobRecorder`: collects a node's job events, for assertions in tests."""

from __future__ import annotations

import threading

from dcmnode import events
from dcmnode.job import Job
from dcmnode.node import Node


class JobRecorder:
    """Record jobs as they start, finish and fail (thread-safe).

    Combine it with ``node.wait_idle()`` for deterministic assertions:
    once the node is idle, every job it will ever run for the data sent so
    far has been recorded.
    """

    def __init__(self, node: Node) -> None:
        self._lock = threading.Lock()
        self.started: list[Job] = []
        self.finished: list[Job] = []
        self.failed: list[tuple[Job, str]] = []
        node.events.on(events.JOB_STARTED, self._started)
        node.events.on(events.JOB_FINISHED, self._finished)
        node.events.on(events.JOB_FAILED, self._failed)

    def _started(self, job: Job) -> None:
        with self._lock:
            self.started.append(job)

    def _finished(self, job: Job, duration: float) -> None:
        with self._lock:
            self.finished.append(job)

    def _failed(self, job: Job, duration: float, error: str) -> None:
        with self._lock:
            self.failed.append((job, error))
