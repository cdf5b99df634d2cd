"""Named events users can hook: stored, rejected, ready, job started/finished/failed.

Handlers run in the thread that emits the event (an association thread for
``STORED``, a worker for job events), never under a store lock. A handler
that raises is logged and ignored: a monitoring hook can never break storage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("dcmnode.events")

ASSOCIATION_OPENED = "association_opened"
ASSOCIATION_CLOSED = "association_closed"
STORED = "stored"
REJECTED = "rejected"
READY = "ready"
JOB_QUEUED = "job_queued"
JOB_STARTED = "job_started"
JOB_FINISHED = "job_finished"
JOB_FAILED = "job_failed"
BACKPRESSURE = "backpressure"  # job, queued, workers: a ready job waits for queue room
EXPORT_DELIVERED = "export_delivered"
EXPORT_RETRYING = "export_retrying"
EXPORT_FAILED = "export_failed"

NAMES = frozenset(
    {
        ASSOCIATION_OPENED,
        ASSOCIATION_CLOSED,
        STORED,
        REJECTED,
        READY,
        JOB_QUEUED,
        JOB_STARTED,
        JOB_FINISHED,
        JOB_FAILED,
        BACKPRESSURE,
        EXPORT_DELIVERED,
        EXPORT_RETRYING,
        EXPORT_FAILED,
    }
)

Handler = Callable[..., None]


class EventBus:
    """A small, thread-safe registry of handlers per event name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[str, tuple[Handler, ...]] = {}

    def on(self, name: str, handler: Handler) -> None:
        """Call ``handler(**payload)`` whenever event *name* is emitted."""
        if name not in NAMES:
            raise ValueError(f"unknown event {name!r}; known: {', '.join(sorted(NAMES))}")
        with self._lock:
            self._handlers[name] = (*self._handlers.get(name, ()), handler)

    def emit(self, name: str, **payload: Any) -> None:
        """Call every handler of *name*; exceptions are logged, never raised."""
        # Reading a dict entry is atomic; the tuple is replaced, never mutated.
        for handler in self._handlers.get(name, ()):
            try:
                handler(**payload)
            except Exception:
                log.exception("event handler %r for %s failed", handler, name)
