"""The maintenance thread: quiet periods and expiry, on a timer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from dcmnode.node.dispatch import Dispatcher
from dcmnode.store.protocol import Store

log = logging.getLogger("dcmnode.maintenance")


class Maintenance:
    """One thread that wakes every *interval* seconds.

    - Associations that ended without a close event are closed (*sweep*).
    - An open association that has not delivered for a patient for
      *delivery_idle* seconds (0: never) stops holding that patient back.
    - Patients whose quiet period (the inputs' ``stable_after``) has just
      passed are queued for a check -- once per change, not on every tick.
    - Patients still incomplete *deadline* seconds after their first
      instance are processed anyway, failed, or left waiting (and logged),
      as *deadline_policy* says -- once per change.
    - Patients untouched for *expire_after* seconds (0: never) are removed,
      with their files, and logged.

    Each tick is its own error boundary: a failure is logged and the next
    tick runs.
    """

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        interval: float,
        expire_after: float,
        deadline: float = 0.0,
        deadline_policy: str = "process",
        sweep: Callable[[], int] | None = None,
        delivery_idle: float = 0.0,
    ) -> None:
        self.delivery_idle = delivery_idle
        self.sweep = sweep
        self.deadline = deadline
        self.deadline_policy = deadline_policy
        self._forced: dict[str, tuple[int, int]] = {}
        self.store = store
        self.dispatcher = dispatcher
        self.interval = interval
        self.expire_after = expire_after
        self._scheduled: dict[str, tuple[int, int]] = {}
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
        if self.sweep is not None:
            self.sweep()  # associations that vanished without a close event
        now = time.time()
        if self.delivery_idle:
            released = self.store.release_idle(now - self.delivery_idle)
            if released:
                log.info(
                    "%d patients no longer wait for open associations silent for %.0f s",
                    len(released),
                    self.delivery_idle,
                )
                self.dispatcher.check(released)
        quiet = self.dispatcher.quiet_period
        waiting = self.store.quiet()
        # Forget patients that are no longer waiting (processed, running,
        # expired), so these maps stay as small as the set of waiting patients.
        present = {patient for patient, *_ in waiting}
        self._scheduled = {k: v for k, v in self._scheduled.items() if k in present}
        self._forced = {k: v for k, v in self._forced.items() if k in present}
        if quiet:
            due = []
            for patient, version, changed, _ in waiting:
                if now - changed >= quiet and self._scheduled.get(patient) != version:
                    self._scheduled[patient] = version
                    due.append(patient)
            if due:
                self.dispatcher.check(due)
        if self.deadline:
            late = []
            for patient, version, _, started in waiting:
                if now - started >= self.deadline and self._forced.get(patient) != version:
                    self._forced[patient] = version
                    late.append(patient)
            if late and self.deadline_policy == "wait":
                for patient in late:
                    log.warning("patient %r: incomplete past its deadline; still waiting", patient)
            elif late:
                self.dispatcher.force(late, self.deadline_policy)
        if self.expire_after:
            expired = self.store.expire(now - self.expire_after)
            for patient in expired:
                log.warning(
                    "patient %r expired: untouched for %.0f s; its data is removed",
                    patient,
                    self.expire_after,
                )
            if expired:  # settles what the dispatcher still counts for them
                self.dispatcher.check(expired)
