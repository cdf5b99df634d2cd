"""Named events users can hook: stored, rejected, ready, job started/finished/failed, ...

Two ways to hook them:

- a pipeline method named ``on_<event>`` taking one `Event`, e.g.
  ``def on_job_failed(self, event): notify(event.job, event.error)`` -- works
  for every node, including one started by ``dcmnode run``;
- ``node.events.on(name, handler)``, where ``handler(**payload)`` gets the
  payload as keyword arguments (for code that builds its own `Node`).

Handlers run in the thread that emits the event (an association thread for
``stored``, a worker for job events), never under a store lock: keep them
quick. A handler that raises is logged and ignored: a monitoring hook can
never break storage or processing.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dcmnode.errors import PipelineError

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
EXPORT_QUEUED = "export_queued"  # job_id, patient, delivery, destinations, sop_instance_uids
EXPORT_DELIVERED = "export_delivered"
EXPORT_RETRYING = "export_retrying"
EXPORT_FAILED = "export_failed"
DEADLINE_PASSED = "deadline_passed"  # job, policy: an incomplete patient forced at its deadline

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
        EXPORT_QUEUED,
        EXPORT_DELIVERED,
        EXPORT_RETRYING,
        EXPORT_FAILED,
        DEADLINE_PASSED,
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


@dataclass(frozen=True)
class Event:
    """One emitted event, as a pipeline's ``on_<name>`` method receives it.

    The payload's fields are attributes: ``event.job`` and ``event.error``
    for ``job_failed``, ``event.association`` for ``association_opened``.
    """

    name: str
    payload: Mapping[str, Any]

    def __getattr__(self, field: str) -> Any:
        if field.startswith("__") or field == "payload":  # copy/pickle probe before init
            raise AttributeError(field)
        try:
            return self.payload[field]
        except KeyError:
            known = ", ".join(sorted(self.payload)) or "none"
            message = f"event {self.name!r} has no {field!r} (it has: {known})"
            raise AttributeError(message) from None


HOOK_PREFIX = "on_"


def hook_methods(target: object) -> dict[str, Callable[[Event], None]]:
    """Event name -> the ``on_<name>`` method of *target*, for each one it defines.

    Raises `PipelineError` for an ``on_...`` method that names no event, so a
    typo (``on_job_faild``) is found at start-up instead of never firing.
    """
    found: dict[str, Callable[[Event], None]] = {}
    for attribute in dir(type(target)):
        # Only methods are hooks: a setting such as ``on_call_email: str`` is not.
        if not attribute.startswith(HOOK_PREFIX) or not callable(getattr(type(target), attribute)):
            continue
        name = attribute[len(HOOK_PREFIX) :]
        if name not in NAMES:
            close = difflib.get_close_matches(name, sorted(NAMES), n=1)
            hint = f"; did you mean {HOOK_PREFIX}{close[0]}?" if close else ""
            raise PipelineError(
                f"{type(target).__name__}.{attribute}: no event is called {name!r}{hint}"
            )
        found[name] = getattr(target, attribute)
    return found


def bind_hooks(bus: EventBus, target: object) -> None:
    """Subscribe every ``on_<name>`` method of *target* to its event on *bus*."""
    for name, method in hook_methods(target).items():
        bus.on(name, _as_event_handler(name, method))


def _as_event_handler(name: str, method: Callable[[Event], None]) -> Handler:
    def handler(**payload: Any) -> None:
        method(Event(name, payload))

    handler.__qualname__ = getattr(method, "__qualname__", name)
    return handler
