"""Reading a data directory back at start-up: index rows to instances, failed jobs, quarantine.

`DiskStore._load` walks the index with these helpers. An indexed file that
exists but cannot be read is never dropped: it is moved to ``quarantine/``
(named by its receipt id, as before) and recorded as a failed job with the
reason, so ``dcmnode failed list`` and `Store.failed` show it, ``dcmnode
failed discard`` deletes it and ``dcmnode failed retry`` has the next start
read it again (a repaired file is then taken back).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset

from dcmnode.job import new_job_id
from dcmnode.store.index import Row, transaction
from dcmnode.store.model import FailedGeneration, Instance

log = logging.getLogger("dcmnode.store")

QUARANTINE = "quarantine"
"""Folder of the data directory that holds unreadable instance files."""
UNREADABLE = "unreadable at start-up"
"""How the reason of a failed job with quarantined files begins."""


def read_instance(path: str, receipt: str) -> Instance:
    """The instance whose file is *path*, header only; raises if it cannot be read."""
    ds = dcmread(path, stop_before_pixels=True)
    return Instance(
        str(ds.SOPInstanceUID),
        str(ds.SOPClassUID),
        str(ds.get("SeriesInstanceUID", "")),
        ds,
        path,
        receipt,
    )


def locate(row: Row, quarantine: Path) -> str | None:
    """Where *row*'s file is: its path, or its quarantine copy (a move cut short), or None."""
    if Path(row.path).exists():
        return row.path
    copy = quarantine / f"{row.receipt}.dcm"
    return str(copy) if copy.exists() else None


class Loaded:
    """What `DiskStore._load` gathers from the index rows."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.collecting: dict[str, dict[str, dict[str, Instance]]] = defaultdict(dict)
        self.generations: dict[str, int] = defaultdict(int)
        self.changed: dict[str, float] = defaultdict(float)
        self.by_job: dict[str, dict[str, list[Instance]]] = defaultdict(lambda: defaultdict(list))
        self.unreadable: set[str] = set()
        """Failed jobs holding quarantined files: listed, not retryable in the running node."""

    def take(self, row: Row, instance: Instance) -> None:
        self.generations[row.patient] = max(self.generations[row.patient], row.generation)
        self.changed[row.patient] = max(self.changed[row.patient], row.received)
        for name in row.inputs:
            if row.job is None:
                self.collecting[row.patient].setdefault(name, {})[row.sop_uid] = instance
            else:
                self.by_job[row.job][name].append(instance)

    def failed_generations(self, db: sqlite3.Connection) -> dict[str, list[FailedGeneration]]:
        failed: dict[str, list[FailedGeneration]] = defaultdict(list)
        query = "SELECT job_id, patient, generation, reason, updated FROM jobs WHERE state='failed'"
        for job_id, patient, generation, reason, updated in db.execute(query).fetchall():
            inputs = {name: tuple(group) for name, group in self.by_job[job_id].items()}
            failed[patient].append(
                FailedGeneration(
                    patient, generation, job_id, reason or "", inputs, updated,
                    retryable=job_id not in self.unreadable,
                )
            )  # fmt: skip
        return failed


def quarantine(
    db: sqlite3.Connection, folder: Path, fsync: bool, bad: list[tuple[Row, str]], state: Loaded
) -> None:
    """Move unreadable files to *folder* and record them as failed jobs (one transaction).

    A waiting file joins one new failed job per patient; a file of a job that
    had already failed stays in that job, whose reason then says so. *bad*
    holds each row with why its file could not be read.
    """
    groups: dict[tuple[str, str | None], list[tuple[Row, str]]] = defaultdict(list)
    for row, why in bad:
        groups[(row.patient, row.job)].append((row, why))
    moved = {row.receipt: _move(row.path, folder / f"{row.receipt}.dcm", fsync) for row, _ in bad}
    with transaction(db):
        for (patient, job), group in groups.items():
            note = _reason(group)
            if job is None:
                job = new_job_id()
                db.execute(
                    "INSERT INTO jobs VALUES (?, ?, ?, 'failed', ?, ?)",
                    (job, patient, max(row.generation for row, _ in group), note, time.time()),
                )
            else:  # said once, however many starts find the file unreadable
                db.execute(
                    "UPDATE jobs SET reason=COALESCE(reason, '') || ? WHERE job_id=? "
                    "AND instr(COALESCE(reason, ''), ?) = 0",
                    ("\n" + note, job, UNREADABLE),
                )
            state.unreadable.add(job)
            for row, why in group:
                path = moved[row.receipt]
                db.execute(
                    "UPDATE instances SET path=?, job=? WHERE receipt=?", (path, job, row.receipt)
                )
                log.error(
                    "patient %r: instance file %s cannot be read (%s); kept as %s, "
                    "listed as failed job %s", patient, row.path, why, path, job,
                )  # fmt: skip
                state.take(replace(row, job=job, path=path), _placeholder(row, path))


def _reason(group: list[tuple[Row, str]]) -> str:
    files = "\n".join(f"{row.receipt}.dcm: {why}" for row, why in group)
    return (
        f"{UNREADABLE}: {len(group)} instance file(s) kept in {QUARANTINE}/"
        f" ({group[0][1]})\n{files}"
    )


def _placeholder(row: Row, path: str) -> Instance:
    """What the store holds for an unreadable file: the UIDs the index knows, no more."""
    ds = Dataset()
    ds.SOPInstanceUID = row.sop_uid
    ds.SOPClassUID = row.sop_class
    if row.series_uid:
        ds.SeriesInstanceUID = row.series_uid
    return Instance(row.sop_uid, row.sop_class, row.series_uid, ds, path, row.receipt)


def _move(path: str, target: Path, fsync: bool) -> str:
    """Move *path* to *target*; where that fails the file stays (and is still listed)."""
    if Path(path) == target:
        return path
    try:
        target.parent.mkdir(exist_ok=True)
        os.replace(path, target)
        if fsync:
            fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    except OSError as exc:
        log.warning("could not move %s to %s (%s); it stays where it is", path, target, exc)
        return path
    return str(target)
