"""The journal: one thread that writes the store's changes to the index, in order.

Why a journal thread: the store's lock must never be held across I/O (house
rule 1), yet the index must follow the order in which the store changed.
Every change is appended, under the store's lock, to an in-memory queue --
no I/O -- and the single writer thread applies the queue in that order, in
batches, one transaction per batch. The index is therefore always a
consistent *prefix* of the store's history. What a crash loses from the tail
is recovered from the instance files, which are on disk (fsync'd) before any
sender hears success: see `DiskStore`.

Why the queue is bounded only at the door: appends happen under the store's
lock, so a full queue that blocked them would stall every association (and
could never drain faster by waiting). New data -- the only change that is
not bounded by data already admitted -- waits for room before the store's
lock is taken (`Journal.wait_for_room`, called from `DiskStore.persist`), and
is refused with "out of resources" when the index cannot keep up.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from dcmnode.store.index import Changes, connect, doom, environmental, transaction, unlink_doomed

log = logging.getLogger("dcmnode.store")

LIMIT = 10_000
"""Unwritten changes before new data waits (a few KB each: headers, not pixels)."""
BATCH = 1000
"""Changes per transaction."""
RETRY_FIRST, RETRY_MAX = 0.05, 5.0
"""Backoff, in seconds, between attempts to write a batch that failed."""

_Change = tuple[int, str, dict[str, Any]]
"""(number, operation, its arguments)."""


class Journal(Changes):
    """Applies store changes to the index, in order, on one thread.

    Nothing appended is ever dropped for a reason outside this code: a batch
    that cannot be written (disk full, I/O error, the database locked) stays
    at the head of the queue and is tried again with backoff until it is
    written, so the index stays a prefix of the store's history and the
    clean-up a finished job owes happens once space returns. `flush` says
    False while anything is unwritten.

    Parameters
    ----------
    path : Path
        The index database.
    limit : int
        How many unwritten changes `wait_for_room` lets pile up.
    """

    def __init__(self, path: Path, limit: int = LIMIT) -> None:
        self.db = connect(path)
        # A crash between a commit and its unlinks left doomed files behind:
        # delete them now, before anybody takes them for unindexed instances.
        unlink_doomed(self.db)
        self.limit = limit
        self.error: Exception | None = None
        """The last failure while the oldest unwritten change waits for a retry."""
        # One small lock for the queue and counters, never held during I/O.
        # The store's lock is taken *before* it (append runs under the
        # store's lock) and the writer never takes the store's lock, so the
        # two can never deadlock.
        self._mutex = threading.Lock()
        self._work = threading.Condition(self._mutex)  # the writer waits for changes
        self._progress = threading.Condition(self._mutex)  # flush and producers wait
        self._wake = threading.Condition(self._mutex)  # a backing-off writer waits for close
        self._pending: deque[_Change] = deque()  # unwritten, oldest first
        self._last = 0  # number of the last change appended
        self._applied = 0  # every change up to this number is written
        self._closing = False
        self._give_up = math.inf
        self._unlink_due = False
        self._thread = threading.Thread(target=self._run, name="dcmnode-index", daemon=True)
        self._thread.start()

    def append(self, op: str, **data: Any) -> int:
        """Queue one change (no I/O; safe under the store's lock). Returns its number.

        Never blocks on a full queue: the caller holds the store's lock, and
        waiting here would stall every association behind a slow or failing
        disk. Producers of new data wait *before* taking that lock instead
        (`wait_for_room`); every other change is bounded by the data
        already admitted (a claim, finish, retry or expiry per generation).
        """
        with self._mutex:
            # Numbering and queueing are one step, so the queue's order is
            # the numbers' order and `_applied` never runs ahead of a hole.
            self._last += 1
            self._pending.append((self._last, op, data))
            self._work.notify()
            return self._last

    def wait_for_room(self, timeout: float) -> bool:
        """Back-pressure for new data: wait until fewer than `limit` changes are unwritten.

        Call it *without* the store's lock held. Returns False when the queue
        is still full after *timeout* seconds, or at once when it is full
        because the index cannot be written (waiting would not help then).
        """
        with self._mutex:
            return (
                self._progress.wait_for(
                    lambda: len(self._pending) < self.limit or self.error is not None, timeout
                )
                and len(self._pending) < self.limit
            )

    @property
    def unwritten(self) -> int:
        """How many appended changes are not yet in the index."""
        with self._mutex:
            return len(self._pending)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything appended so far is written; False if it is not by *timeout*."""
        with self._mutex:
            target = self._last
            return self._progress.wait_for(lambda: self._applied >= target, timeout)

    def wait_stalled(self, timeout: float = 30.0) -> bool:
        """Wait until the writer fails on the oldest unwritten change, or nothing is unwritten.

        Returns True when the writer is failing (and retrying), False when
        everything is written or *timeout* passed first.
        """
        with self._mutex:
            self._progress.wait_for(lambda: self.error is not None or not self._pending, timeout)
            return self.error is not None

    def close(self, timeout: float = 60.0) -> bool:
        """Write what is queued, then stop the writer and close the database.

        A writer that still cannot write gives up after *timeout* seconds; what
        it could not write is logged, and the next start rebuilds what the
        instance files tell (jobs whose start or end was lost run again).
        Returns True when everything was written.
        """
        with self._mutex:
            self._closing = True
            self._give_up = time.monotonic() + timeout
            self._work.notify_all()
            self._wake.notify_all()
        # A single attempt is bounded by SQLite's busy timeout (30 s).
        self._thread.join(timeout + 60)
        with self._mutex:
            clean = not self._pending
        if not self._thread.is_alive():
            self.db.close()
        return clean

    # -- the writer thread -----------------------------------------------------

    def _run(self) -> None:
        delay = RETRY_FIRST
        while True:
            batch = self._next_batch()
            if not batch:
                return
            try:
                self._write(batch)
            except Exception as exc:  # keep the batch; try again (never die)
                if not self._back_off(exc, delay):
                    return
                delay = min(delay * 2, RETRY_MAX)
            else:
                delay = RETRY_FIRST

    def _next_batch(self) -> list[_Change]:
        with self._mutex:
            while not self._pending and not self._closing:
                self._work.wait()
            # Peek, do not pop: a change leaves the queue only once written.
            return list(itertools.islice(self._pending, BATCH))

    def _write(self, batch: list[_Change]) -> None:
        try:
            self._apply(batch)
        except Exception as exc:
            if environmental(exc):
                raise
            # Not the disk but a change this code cannot apply (a defect):
            # retrying it forever would stop the index for good, so apply the
            # batch change by change and drop only what cannot be applied.
            log.exception("index: a batch of %d changes failed; applying one by one", len(batch))
            for change in batch:
                self._apply_alone(change)

    def _apply_alone(self, change: _Change) -> None:
        try:
            self._apply([change])
        except Exception as exc:
            if environmental(exc):
                raise
            log.exception(
                "index: change %d (%s) cannot be applied and is dropped; the next start "
                "rebuilds the index from the instance files", change[0], change[1],
            )  # fmt: skip
            self._done([change])

    def _back_off(self, exc: Exception, delay: float) -> bool:
        """Record a failed attempt and wait *delay*; False when closing has given up."""
        with self._mutex:
            if self.error is None:
                log.error(
                    "index: cannot write %d changes (%s); retrying until it works",
                    len(self._pending), exc, exc_info=not environmental(exc),
                )  # fmt: skip
            self.error = exc
            self._progress.notify_all()
            now = time.monotonic()
            if self._closing and now >= self._give_up:
                log.error(
                    "index: %d changes were never written (%s); the next start rebuilds the "
                    "index from the instance files, and jobs whose start or end is among them "
                    "run again", len(self._pending), exc,
                )  # fmt: skip
                return False
            self._wake.wait(min(delay, self._give_up - now))
            return True

    def _done(self, batch: list[_Change]) -> None:
        with self._mutex:
            for _ in batch:
                self._pending.popleft()
            self._applied = batch[-1][0]
            if self.error is not None:
                log.warning("index: written again; %d changes still queued", len(self._pending))
                self.error = None
            self._progress.notify_all()

    def _apply(self, batch: list[_Change]) -> None:
        doomed: list[str] = []
        finished: list[str] = []
        with transaction(self.db) as db:
            for _, op, data in batch:
                handler = getattr(self, f"_op_{op}")
                handler(db, doomed, finished, **data)
            for job_id in finished:
                doomed.extend(
                    p for (p,) in db.execute("SELECT path FROM instances WHERE job=?", (job_id,))
                )
                db.execute("DELETE FROM instances WHERE job=?", (job_id,))
                db.execute("DELETE FROM jobs WHERE job_id=?", (job_id,))
            # Rows go and their files are marked doomed in one transaction;
            # the files are deleted after the commit. A crash in between
            # leaves doomed files that the next start deletes (in __init__)
            # -- never an unindexed file that would be routed and run again.
            doom(db, doomed)
        if doomed or self._unlink_due:
            try:
                self._unlink_due = unlink_doomed(self.db) > 0
            except Exception as exc:  # the batch is written; clean-up is retried later
                log.warning("index: could not finish deleting files: %s", exc)
                self._unlink_due = True
        # Done only now, so that a flush also waits for the files to go.
        self._done(batch)
