"""The maintenance thread: quiet periods and expiry, on a timer."""

from __future__ import annotations

import logging
import threading
import time

from dcmnode.dispatch import Dispatcher
from dcmnode.store.memory import MemoryStore

log = logging.getLogger("dcmnode.maintenance")


class Maintenance:
    """One thread that wakes every *interval* seconds.

    - Patients whose quiet period (the inputs' ``stable_after``) has just
      passed are queued for a check -- once per change, not on every tick.
    - Patients untouched for *expire_after* seconds (0: never) are removed,
      with their files, and logged.

    Each tick is its own error boundary: a failure is logged and the next
    tick runs.
    """

    def __init__(
        self, store: MemoryStore, dispatcher: Dispatcher, interval: float, expire_after: float
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.interval = interval
        self.expire_after = expire_after
        self._scheduled: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dcmnode-maintenance", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current tick."""
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("maintenance tick failed; trying again in %.0f s", self.interval)

    def tick(self) -> None:
        """Run one round of maintenance now."""
        now = time.time()
        quiet = self.dispatcher.quiet_period
        if quiet:
            due = []
            for patient, version, changed in self.store.quiet():
                if now - changed >= quiet and self._scheduled.get(patient) != version:
                    self._scheduled[patient] = version
                    due.append(patient)
            if due:
                self.dispatcher.check(due)
        if self.expire_after:
            for patient in self.store.expire(now - self.expire_after):
                self._scheduled.pop(patient, None)
                log.warning(
                    "patient %r expired: untouched for %.0f s; its data is removed",
                    patient,
                    self.expire_after,
                )
