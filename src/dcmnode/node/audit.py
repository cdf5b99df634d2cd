"""`AuditTrail`: a durable record of what came in, what ran, where it went, who acted.

Every instance received or refused (time, calling AE, address, SOP Instance
UID, patient key, status), every job (the SOP Instance UIDs it used, how it
ended), every delivery (delivered or failed for good) and every operator
action is one row in ``DATA_DIR/audit.sqlite`` (in memory without a data
directory). Event handlers only put a tuple on a queue: one thread of its own
writes the rows in batches and removes those older than ``keep_days``, so
the audit never slows a sender down and never holds a lock of the node.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dcmnode import events
from dcmnode.events import EventBus
from dcmnode.job import Job
from dcmnode.network.association import Sender

log = logging.getLogger("dcmnode.audit")

FILE = "audit.sqlite"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, time REAL NOT NULL, "
    "kind TEXT NOT NULL, patient TEXT, sop TEXT, job TEXT, who TEXT, status TEXT, detail TEXT)"
)
_INDEXES = ("CREATE INDEX IF NOT EXISTS audit_patient ON audit (patient, time)",
            "CREATE INDEX IF NOT EXISTS audit_sop ON audit (sop)",
            "CREATE INDEX IF NOT EXISTS audit_job ON audit (job)",
            "CREATE INDEX IF NOT EXISTS audit_time ON audit (time)")  # fmt: skip
_STOP = None
_PURGE_EVERY = 3600.0
Row = tuple[float, str, str | None, str | None, str | None, str | None, str | None, str | None]


class AuditTrail:
    """Audit rows written by a thread of their own, queryable while the node runs.

    Parameters
    ----------
    directory : Path or None
        The data directory (``audit.sqlite`` goes there); None keeps the
        trail in memory for the node's lifetime.
    keep_days : float
        Rows older than this are removed (0: kept for ever).
    sender_of : callable
        Association id -> `Sender` (calling AE, address), or None once closed.
    """

    def __init__(self, directory: Path | None, keep_days: float,
                 sender_of: Callable[[int], Sender | None]) -> None:  # fmt: skip
        self.path = None if directory is None else directory / FILE
        self.keep_days = keep_days
        self.sender_of = sender_of
        self._queue: queue.SimpleQueue[Row | None] = queue.SimpleQueue()
        self._senders: dict[int, str] = {}
        self._db: sqlite3.Connection | None = None  # opened at start, not at construction
        self._db_lock = threading.Lock()  # the writer and API readers share the connection
        self._written = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._loop, name="dcmnode-audit", daemon=True)

    def _connect(self) -> sqlite3.Connection:
        target = ":memory:" if self.path is None else str(self.path)
        db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        if self.path is not None:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_SCHEMA)
        for statement in _INDEXES:
            db.execute(statement)
        return db

    def subscribe(self, bus: EventBus) -> None:
        """Record the node's events from now on."""
        bus.on(events.STORED, self._stored)
        bus.on(events.REJECTED, self._rejected)
        bus.on(events.ASSOCIATION_CLOSED, self._closed)
        bus.on(events.JOB_QUEUED, self._job_queued)
        bus.on(events.JOB_FINISHED, self._job_finished)
        bus.on(events.JOB_FAILED, self._job_failed)
        bus.on(events.EXPORT_QUEUED, self._results)
        bus.on(events.EXPORT_DELIVERED, self._delivered)
        bus.on(events.EXPORT_FAILED, self._delivery_failed)

    def start(self) -> None:
        """Open the file and start the writing thread."""
        self._db = self._connect()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then close the file."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        with self._db_lock:
            if self._db is not None:
                self._db.close()
            self._db = None

    # -- recording (any node thread: only a queue put) --------------------------------

    def _put(self, kind: str, patient: str | None = None, sop: str | None = None,
             job: str | None = None, who: str | None = None, status: str | None = None,
             **detail: Any) -> None:  # fmt: skip
        with self._written:
            self._pending += 1
        text = json.dumps(detail, default=str) if detail else None
        self._queue.put((time.time(), kind, patient, sop, job, who, status, text))

    def _who(self, association: int) -> str:
        who = self._senders.get(association)
        if who is None:  # first instance of the association: ask the SCP once
            sender = self.sender_of(association)
            who = f"{sender.ae_title}@{sender.address}" if sender is not None else "?"
            self._senders[association] = who
        return who

    def _stored(self, association: int, patient: str, sop_instance_uid: str,
                **_: Any) -> None:  # fmt: skip
        self._put("received", patient, sop_instance_uid, who=self._who(association),
                  status="0x0000")  # fmt: skip

    def _rejected(self, association: int, sop_instance_uid: str | None, status: int,
                  reason: str) -> None:  # fmt: skip
        self._put("refused", None, sop_instance_uid, who=self._who(association),
                  status=f"0x{status:04X}", reason=reason)  # fmt: skip

    def _closed(self, association: int) -> None:
        self._senders.pop(association, None)

    def _job_queued(self, job: Job) -> None:
        sops = [str(ds.get("SOPInstanceUID", "")) for g in job.datasets.values() for ds in g]
        self._put("job", job.patient_id, None, job.id, status="queued", sops=sops)

    def _job_finished(self, job: Job, duration: float) -> None:
        self._put("job", job.patient_id, None, job.id, status="finished", duration=duration)

    def _job_failed(self, job: Job, duration: float, error: str) -> None:
        self._put("job", job.patient_id, None, job.id, status="failed",
                  reason=error.splitlines()[0] if error else "")  # fmt: skip

    def _results(self, job_id: str, patient: str, delivery: str, destinations: list[str],
                 sop_instance_uids: list[str]) -> None:  # fmt: skip
        """The results a job made and where they go: "where did this study go?"."""
        self._put("delivery", patient, None, job_id, status="queued", delivery=delivery,
                  destinations=destinations, sops=sop_instance_uids)  # fmt: skip

    def _delivered(self, job_id: str, delivery: str) -> None:
        self._put("delivery", None, None, job_id, status="delivered", delivery=delivery)

    def _delivery_failed(self, job_id: str, error: str) -> None:
        self._put("delivery", None, None, job_id, status="failed", error=error)

    def action(self, who: str, action: str, target: str, done: bool, message: str) -> None:
        """Record an operator's action and what came of it."""
        self._put("action", None, None, None, who, "done" if done else "nothing to do",
                  action=action, target=target, message=message)  # fmt: skip

    # -- writing (the audit thread) -----------------------------------------------------

    def _loop(self) -> None:
        last_purge = 0.0
        while True:
            batch = [self._queue.get()]
            while not self._queue.empty() and len(batch) < 1000:
                batch.append(self._queue.get())
            rows = [row for row in batch if row is not None]
            try:
                self._write(rows)
                if self.keep_days and time.time() - last_purge > _PURGE_EVERY:
                    last_purge = time.time()
                    self.purge(last_purge - self.keep_days * 86400)
            except Exception:
                log.exception("audit: could not write %d rows", len(rows))
            finally:
                with self._written:
                    self._pending -= len(rows)
                    self._written.notify_all()
            if len(rows) < len(batch):
                return

    def _write(self, rows: list[Row]) -> None:
        if not rows:
            return
        with self._db_lock:
            if self._db is None:
                return
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO audit (time, kind, patient, sop, job, who, status, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._db.execute("COMMIT")

    def purge(self, before: float) -> int:
        """Remove rows older than *before* (``time.time()``); return how many."""
        with self._db_lock:
            if self._db is None:
                return 0
            return self._db.execute("DELETE FROM audit WHERE time < ?", (before,)).rowcount

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row recorded so far is written (tests, queries that must see all)."""
        with self._written:
            return self._written.wait_for(lambda: self._pending == 0, timeout)

    # -- reading ------------------------------------------------------------------------

    def query(self, patient: str | None = None, sop: str | None = None, job: str | None = None,
              kind: str | None = None, since: float | None = None,
              limit: int = 500) -> list[dict[str, Any]]:  # fmt: skip
        """Rows matching every given filter, newest first."""
        where: list[str] = ["1"]
        args: list[str | float] = []
        for column, value in (("patient", patient), ("sop", sop), ("job", job), ("kind", kind)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("time >= ?")
            args.append(since)
        sql = (f"SELECT time, kind, patient, sop, job, who, status, detail FROM audit "
               f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?")  # fmt: skip
        with self._db_lock:
            if self._db is None:
                return []
            found = self._db.execute(sql, (*args, max(1, min(limit, 10_000)))).fetchall()
        keys = ("time", "kind", "patient", "sop", "job", "who", "status")
        return [
            {**dict(zip(keys, row[:7], strict=True)), "detail": json.loads(row[7] or "{}")}
            for row in found
        ]
