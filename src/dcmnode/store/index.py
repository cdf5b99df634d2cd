"""The store's index on disk: SQLite in WAL mode, written by one thread in order.

Why SQLite in WAL mode: one file, crash-safe transactions, readers that never
block the writer, and safe to share between processes on one machine (for
later receiver processes and for the ``dcmnode failed`` commands).

Why a journal thread: the store's lock must never be held across I/O (house
rule 1), yet the index must follow the order in which the store changed.
Every change is appended, under the store's lock, to an in-memory queue --
no I/O -- and this module's single writer thread applies the queue in that
order, in batches, one transaction per batch. The index is therefore always
a consistent *prefix* of the store's history. What a crash loses from the
tail is recovered from the instance files, which are on disk (fsync'd)
before any sender hears success: see `DiskStore`.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("dcmnode.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    receipt    TEXT PRIMARY KEY,
    patient    TEXT NOT NULL,
    generation INTEGER NOT NULL,
    sop_uid    TEXT NOT NULL,
    sop_class  TEXT NOT NULL,
    series_uid TEXT NOT NULL,
    inputs     TEXT NOT NULL,
    path       TEXT NOT NULL,
    received   REAL NOT NULL,
    job        TEXT
);
CREATE INDEX IF NOT EXISTS instances_by_job ON instances(job);
CREATE INDEX IF NOT EXISTS instances_by_patient ON instances(patient, generation);
CREATE TABLE IF NOT EXISTS jobs (
    job_id     TEXT PRIMARY KEY,
    patient    TEXT NOT NULL,
    generation INTEGER NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('running', 'failed', 'done')),
    reason     TEXT,
    updated    REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Row:
    """One indexed instance."""

    receipt: str
    patient: str
    generation: int
    sop_uid: str
    sop_class: str
    series_uid: str
    inputs: tuple[str, ...]
    path: str
    received: float
    job: str | None


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create) the index database with the settings every user needs."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a killed process; a power cut may lose the
    # last transactions, which the instance files let us rebuild.
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def rows(db: sqlite3.Connection, where: str = "1", args: tuple[Any, ...] = ()) -> list[Row]:
    """Indexed instances matching a WHERE clause."""
    query = (
        "SELECT receipt, patient, generation, sop_uid, sop_class, series_uid, inputs, path,"
        f" received, job FROM instances WHERE {where} ORDER BY received"
    )
    return [
        Row(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), r[7], r[8], r[9])
        for r in db.execute(query, args)
    ]


def release_job(db: sqlite3.Connection, job_id: str, generation: int | None = None) -> None:
    """Give a job's instances back to their patient (optionally as *generation*) and forget it."""
    if generation is None:
        db.execute("UPDATE instances SET job=NULL WHERE job=?", (job_id,))
    else:
        db.execute("UPDATE instances SET job=NULL, generation=? WHERE job=?", (generation, job_id))
    db.execute("DELETE FROM jobs WHERE job_id=?", (job_id,))


def drop_job(db: sqlite3.Connection, job_id: str) -> None:
    """Delete a job's instance files, then its rows (inside the caller's transaction).

    Files first: a crash in between leaves rows whose files are gone (the
    cleanup is finished at the next start), never a file the index has
    forgotten -- which the next start would route again and process twice.
    """
    for (path,) in db.execute("SELECT path FROM instances WHERE job=?", (job_id,)).fetchall():
        _unlink(path)
    db.execute("DELETE FROM instances WHERE job=?", (job_id,))
    db.execute("DELETE FROM jobs WHERE job_id=?", (job_id,))


def _unlink(path: str) -> None:
    try:
        Path(path).unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not delete %s: %s", path, exc)


class Journal:
    """Applies store changes to the index, in order, on one thread."""

    def __init__(self, path: Path) -> None:
        self.db = connect(path)
        self._queue: queue.SimpleQueue[tuple[int, str, dict[str, Any]] | None] = queue.SimpleQueue()
        self._seq = itertools.count(1)
        self._applied = 0
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="dcmnode-index", daemon=True)
        self._thread.start()

    def append(self, op: str, **data: Any) -> int:
        """Queue one change (no I/O; safe under the store's lock). Returns its number."""
        seq = next(self._seq)
        self._queue.put((seq, op, data))
        return seq

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything appended so far is committed."""
        target = self.append("noop")
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._applied < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self) -> None:
        """Apply what is queued, then stop the writer and close the database."""
        self._queue.put(None)
        self._thread.join(60)
        self.db.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < 1000:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            try:
                self._apply(batch)
            except Exception:
                log.exception(
                    "index: could not apply %d changes; they are rebuilt at restart", len(batch)
                )
            with self._cond:
                self._applied = batch[-1][0]
                self._cond.notify_all()
            if stop:
                return

    def _apply(self, batch: list[tuple[int, str, dict[str, Any]]]) -> None:
        doomed: list[str] = []
        finished: list[str] = []
        with transaction(self.db) as db:
            for _, op, data in batch:
                handler = getattr(self, f"_op_{op}")
                handler(db, doomed, finished, **data)
        # Files go only after the index no longer needs them: a crash in
        # between leaves a job marked done (cleaned at restart), never an
        # unindexed file of a finished job that would be processed again.
        for path in doomed:
            _unlink(path)
        if finished:
            with transaction(self.db) as db:
                for job_id in finished:
                    drop_job(db, job_id)

    # -- operations (run on the writer thread, inside a transaction) ------------

    def _op_noop(self, db: sqlite3.Connection, doomed: list[str], finished: list[str]) -> None:
        return None

    def _op_add(self, db, doomed, finished, instance, patient, generation, inputs):  # type: ignore[no-untyped-def]
        db.execute(
            "INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                instance.receipt, patient, generation, instance.sop_instance_uid,
                instance.sop_class_uid, instance.series_instance_uid, json.dumps(list(inputs)),
                instance.path, time.time(),
            ),
        )  # fmt: skip

    def _op_replace(self, db, doomed, finished, old, patient):  # type: ignore[no-untyped-def]
        db.execute("DELETE FROM instances WHERE receipt=?", (old.receipt,))
        if old.path:
            doomed.append(old.path)

    def _op_claim(self, db, doomed, finished, job_id, patient, generation):  # type: ignore[no-untyped-def]
        db.execute(
            "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, 'running', NULL, ?)",
            (job_id, patient, generation, time.time()),
        )
        db.execute(
            "UPDATE instances SET job=? WHERE patient=? AND generation=? AND job IS NULL",
            (job_id, patient, generation),
        )

    def _op_finish(self, db, doomed, finished, job_id, patient, error, generation):  # type: ignore[no-untyped-def]
        state = "done" if error is None else "failed"
        db.execute(
            "UPDATE jobs SET state=?, reason=?, updated=? WHERE job_id=?",
            (state, error, time.time(), job_id),
        )
        if error is None:
            finished.append(job_id)

    def _op_retry(self, db, doomed, finished, job_id, patient, generation):  # type: ignore[no-untyped-def]
        release_job(db, job_id, generation)

    def _op_expire(self, db, doomed, finished, patient):  # type: ignore[no-untyped-def]
        doomed.extend(
            p for (p,) in db.execute("SELECT path FROM instances WHERE patient=?", (patient,))
        )
        db.execute("DELETE FROM instances WHERE patient=?", (patient,))
        db.execute("DELETE FROM jobs WHERE patient=?", (patient,))
