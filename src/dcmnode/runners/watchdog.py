"""`Watchdog`: one thread that reports jobs whose time is up, while their code runs on.

A thread cannot be killed, nor can a running Dask task. So where a runner
has a timeout but no way to stop the job, the job runs on its worker as
usual, and the watchdog -- not the worker -- notices the deadline and has
the job reported as timed out. The worker stays with the job until its code
really returns: no other job starts in its place.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("dcmnode.runner")


class Watchdog:
    """Call ``expire(key)`` once for every watched key whose deadline passes.

    Keys are job ids, never jobs: the watchdog keeps no job's data alive.

    Parameters
    ----------
    name : str
        Name of the watchdog's thread.
    expire : callable
        Called on the watchdog's thread with the key; an exception is logged.
    """

    def __init__(self, name: str, expire: Callable[[str], None]) -> None:
        self._expire = expire
        self._cond = threading.Condition()
        self._deadlines: dict[str, float] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def watch(self, key: str, seconds: float) -> None:
        """Expire *key* after *seconds*, unless it is forgotten first."""
        with self._cond:
            self._deadlines[key] = time.monotonic() + seconds
            self._cond.notify()

    def forget(self, key: str) -> None:
        """Stop watching *key* (its job returned in time)."""
        with self._cond:
            self._deadlines.pop(key, None)

    def close(self, timeout: float) -> None:
        """End the thread; keys still watched never expire."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while (due := self._next_due()) is not None:
            for key in due:
                try:
                    self._expire(key)
                except BaseException:  # noqa: BLE001 - the watchdog must outlive any report
                    log.exception("watchdog: reporting %s as timed out failed", key)

    def _next_due(self) -> list[str] | None:
        """Wait until some deadline passes; those keys, or None once closed."""
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                due = [key for key, deadline in self._deadlines.items() if deadline <= now]
                if due:
                    for key in due:
                        del self._deadlines[key]
                    return due
                soonest = min(self._deadlines.values(), default=None)
                self._cond.wait(None if soonest is None else soonest - now)
            return None
