"""The store's index on disk: SQLite in WAL mode, written by one thread in order.

Why SQLite in WAL mode: one file, crash-safe transactions, readers that never
block the writer, and safe to share between processes on one machine (for
later receiver processes and for the ``dcmnode failed`` commands).

The index is written by one thread, in the order the store changed
(`dcmnode.store.journal`); this module holds the schema, the helpers the
start-up and the ``dcmnode failed`` commands share, and `Changes`: how each
kind of store change is written.
"""

from __future__ import annotations

import json
import logging
import sqlite3
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
CREATE TABLE IF NOT EXISTS doomed (
    path       TEXT PRIMARY KEY
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


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open (and create) the index database with the settings every user needs.

    *readonly* opens an existing index for reading only: no lock needed, and
    it may be read while a node writes it (WAL mode).
    """
    if readonly:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a killed process; a power cut may lose the
    # last transactions, which the instance files let us rebuild.
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (a failed COMMIT too)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        # SQLite rolls back by itself after some errors (a full disk); a
        # transaction left open would make every later BEGIN fail.
        if db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.warning("index: rollback failed: %s", exc)
        raise


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


def doom(db: sqlite3.Connection, paths: list[str]) -> None:
    """Mark files for deletion after the caller's transaction commits (see `unlink_doomed`)."""
    db.executemany("INSERT OR IGNORE INTO doomed VALUES (?)", [(p,) for p in paths if p])


def unlink_doomed(db: sqlite3.Connection) -> int:
    """Delete the doomed files and forget them; return how many could not be deleted."""
    paths = [p for (p,) in db.execute("SELECT path FROM doomed").fetchall()]
    gone = [p for p in paths if _unlink(p)]
    if gone:
        with transaction(db):
            db.executemany("DELETE FROM doomed WHERE path=?", [(p,) for p in gone])
    return len(paths) - len(gone)


def _unlink(path: str) -> bool:
    """Delete *path*; True when it is gone (or was never there)."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not delete %s: %s", path, exc)
        return False
    return True


def environmental(exc: BaseException) -> bool:
    """True for failures of the disk or database (worth retrying), False for defects."""
    defects = (
        sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError,
        sqlite3.DataError, sqlite3.NotSupportedError,
    )  # fmt: skip
    return isinstance(exc, (OSError, sqlite3.Error)) and not isinstance(exc, defects)


class Changes:
    """How each journalled change is written to the index.

    One method ``_op_<name>`` per kind of store change, run by `Journal`'s
    writer thread inside the batch's transaction. Files to delete go to
    *doomed* (deleted after the commit); jobs that ended well go to
    *finished* (their rows and files go in the same transaction).
    """

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

    def _op_narrow(self, db, doomed, finished, receipt, inputs):  # type: ignore[no-untyped-def]
        # A newer copy took some of this instance's inputs; the others still
        # use its file, so the row stays with only those.
        db.execute(
            "UPDATE instances SET inputs=? WHERE receipt=?", (json.dumps(list(inputs)), receipt)
        )

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

    def _op_release(self, db, doomed, finished, job_id, patient, generation):  # type: ignore[no-untyped-def]
        release_job(db, job_id, generation)

    def _op_discard(self, db, doomed, finished, job_id, patient):  # type: ignore[no-untyped-def]
        finished.append(job_id)  # files and rows go with the job, as for a finished one

    def _op_expire(self, db, doomed, finished, patient):  # type: ignore[no-untyped-def]
        doomed.extend(
            p for (p,) in db.execute("SELECT path FROM instances WHERE patient=?", (patient,))
        )
        db.execute("DELETE FROM instances WHERE patient=?", (patient,))
        db.execute("DELETE FROM jobs WHERE patient=?", (patient,))
