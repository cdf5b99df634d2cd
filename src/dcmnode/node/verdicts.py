"""`Verdicts`: the dispatcher's last word on each waiting patient, for status pages.

The dispatcher decides "not ready yet" for several reasons (a quiet period,
an input that is not complete, a missing required input). Status pages need
to say which, without running the user's ``is_complete`` again on every
poll, so the dispatcher writes its verdict here and the HTTP views read it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """Why a patient was not processed at its last check."""

    reason: str
    """``"quiet period"``, ``"incomplete"``, ``"missing input"``, ``"is_complete raised"``."""
    input: str | None
    """The input the reason is about, when there is one."""
    checked: float
    """``time.time()`` of the check."""


class Verdicts:
    """A small, thread-safe map patient -> last `Verdict` (its own lock, never the store's)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._by_patient: dict[str, Verdict] = {}
        self._limit = limit

    def record(self, patient: str, reason: str, input: str | None = None) -> None:
        """Remember that *patient* was not ready for *reason* (cheap: one dict write)."""
        with self._lock:
            self._by_patient.pop(patient, None)
            self._by_patient[patient] = Verdict(reason, input, time.time())
            if len(self._by_patient) > self._limit:  # oldest first: dicts keep insertion order
                del self._by_patient[next(iter(self._by_patient))]

    def clear(self, patient: str) -> None:
        """Forget the verdict (the patient was claimed)."""
        with self._lock:
            self._by_patient.pop(patient, None)

    def get(self, patient: str) -> Verdict | None:
        """The last verdict on *patient*, if any."""
        with self._lock:
            return self._by_patient.get(patient)
