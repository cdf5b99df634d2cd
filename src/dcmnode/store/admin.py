"""Acting on a data directory while its node is stopped: list, retry, discard failed jobs."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from dcmnode.errors import DcmnodeError
from dcmnode.store.index import connect, drop_job, release_job, transaction
from dcmnode.store.lock import DirectoryLock


@dataclass(frozen=True)
class FailedJob:
    """A failed job as the index records it."""

    job_id: str
    patient: str
    instances: int
    reason: str
    updated: float


def _index(directory: str | Path) -> Path:
    index = Path(directory) / "index.sqlite"
    if not index.is_file():
        raise DcmnodeError(f"{directory} is not a dcmnode data directory (no index.sqlite)")
    return index


def failed_jobs(directory: str | Path) -> list[FailedJob]:
    """Every failed job in the data directory, oldest first.

    Only reads, so it works next to a running node too: SQLite's WAL mode lets
    a reader see the last committed state while the node writes. A live
    node's list may lag its memory by the changes its journal has not
    written yet.
    """
    db = connect(_index(directory), readonly=True)
    try:
        return [
            FailedJob(job_id, patient, count, reason or "", updated)
            for job_id, patient, reason, updated, count in db.execute(
                "SELECT j.job_id, j.patient, j.reason, j.updated, COUNT(i.receipt) FROM jobs j "
                "LEFT JOIN instances i ON i.job = j.job_id WHERE j.state='failed' "
                "GROUP BY j.job_id ORDER BY j.updated"
            )
        ]
    finally:
        db.close()


def _select(db: sqlite3.Connection, patient: str | None, job_id: str | None) -> list[str]:
    query = "SELECT job_id FROM jobs WHERE state='failed'"
    args: list[str] = []
    if patient is not None:
        query += " AND patient=?"
        args.append(patient)
    if job_id is not None:
        query += " AND job_id=?"
        args.append(job_id)
    return [j for (j,) in db.execute(query, args)]


def _for_each_failed_job(
    directory: str | Path,
    patient: str | None,
    job_id: str | None,
    action: Callable[[sqlite3.Connection, str], None],
) -> int:
    """Apply *action* to the chosen failed jobs in one transaction; return how many.

    Holds the data directory's lock meanwhile: changing the index (or
    deleting files) under a running node would contradict what it holds in
    memory, so a live node makes this raise `DataDirectoryInUse`.
    """
    index = _index(directory)
    with DirectoryLock(index.parent):
        db = connect(index)
        try:
            with transaction(db):
                jobs = _select(db, patient, job_id)
                for job in jobs:
                    action(db, job)
            return len(jobs)
        finally:
            db.close()


def retry(directory: str | Path, patient: str | None = None, job_id: str | None = None) -> int:
    """Make failed jobs' data due again: the node processes it at its next start.

    Returns the number of jobs retried.
    """
    return _for_each_failed_job(directory, patient, job_id, release_job)


def discard(directory: str | Path, patient: str | None = None, job_id: str | None = None) -> int:
    """Delete failed jobs and their instance files for good. Returns the number of jobs."""
    return _for_each_failed_job(directory, patient, job_id, drop_job)


@dataclass(frozen=True)
class FailedDelivery:
    """Results of a job that could not be delivered (kept in the outbox)."""

    delivery_id: str
    job_id: str
    patient: str
    destinations: tuple[str, ...]
    instances: int
    attempts: int
    error: str
    folder: Path


def failed_deliveries(directory: str | Path) -> list[FailedDelivery]:
    """Deliveries in ``DIR/outbox`` that used up their retries."""
    found = []
    for manifest in sorted((Path(directory) / "outbox").glob("*/manifest.json")):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("state") == "failed":
            found.append(
                FailedDelivery(
                    data["id"], data["job_id"], data["patient"], tuple(data["destinations"]),
                    len(data["sops"]), int(data.get("attempts", 0)), data.get("last_error", ""),
                    manifest.parent,
                )
            )  # fmt: skip
    return found


def _chosen(directory: str | Path, patient: str | None, job_id: str | None) -> list[FailedDelivery]:
    return [
        d
        for d in failed_deliveries(directory)
        if (patient is None or d.patient == patient) and (job_id is None or d.job_id == job_id)
    ]


def retry_deliveries(
    directory: str | Path, patient: str | None = None, job_id: str | None = None
) -> int:
    """Make failed deliveries pending again (fresh retries at the next start)."""
    with _locked(directory):
        chosen = _chosen(directory, patient, job_id)
        for delivery in chosen:
            manifest = delivery.folder / "manifest.json"
            data = json.loads(manifest.read_text(encoding="utf-8"))
            data.update(state="pending", attempts=0)
            temp = manifest.with_suffix(".tmp")
            temp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(temp, manifest)
        return len(chosen)


def discard_deliveries(
    directory: str | Path, patient: str | None = None, job_id: str | None = None
) -> int:
    """Delete failed deliveries and their result files."""
    with _locked(directory):
        chosen = _chosen(directory, patient, job_id)
        for delivery in chosen:
            shutil.rmtree(delivery.folder, ignore_errors=True)
        return len(chosen)


def _locked(directory: str | Path) -> AbstractContextManager[object]:
    """The data directory's lock; nothing to lock when the directory does not exist."""
    path = Path(directory)
    return DirectoryLock(path) if path.is_dir() else nullcontext()
