"""`Activity`: a counter of unfinished work that tests and shutdown can wait on."""

from __future__ import annotations

import threading
import time


class Activity:
    """Counts open connections, queued checks and running jobs.

    Work is always handed on before it is released (a closing connection
    counts its follow-up checks first), so the count only reaches zero when
    the node is truly idle. `wait_idle` is a deterministic join for tests and
    for graceful shutdown -- no sleeping and hoping.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def begin(self, n: int = 1) -> None:
        """Record *n* new pieces of work."""
        with self._cond:
            self._count += n

    def end(self, n: int = 1) -> None:
        """Record that *n* pieces of work are done."""
        with self._cond:
            self._count -= n
            if self._count < 0:
                raise RuntimeError("Activity.end without begin")
            if self._count == 0:
                self._cond.notify_all()

    @property
    def count(self) -> int:
        """Pieces of work not yet done."""
        with self._cond:
            return self._count

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is left to do; False if *timeout* ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._count:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True
