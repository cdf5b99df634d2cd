"""`DiskStore`: the store whose success statuses survive ``kill -9``.

Layout of a data directory::

    index.sqlite (+ -wal, -shm)   the index (see `dcmnode.store.index`)
    instances/ab/abcdef0123456789/<receipt>.dcm
                                  one file per received instance, in the
                                  folder of sha256(patient); the file name
                                  is a random receipt id. No name ever comes
                                  from patient-supplied text.
    tmp/                          files being written; emptied at start

An instance is written to ``tmp/``, flushed, fsync'd and renamed into place
(and, with ``fsync``, its folder fsync'd) *before* the sender is told
success. Only then does the in-memory state change and the change get
journalled to the index. At start-up the index is read back, cleanup that a
crash interrupted is finished, and files the index never heard of are handed
back to the node to be routed again -- so every acknowledged instance is
found, whatever the moment of the crash.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset

from dcmnode.errors import ConfigError
from dcmnode.store.index import Journal, Row, drop_job, release_job, rows, transaction
from dcmnode.store.memory import MemoryStore
from dcmnode.store.model import FailedGeneration, Instance
from dcmnode.store.protocol import OutOfSpace

log = logging.getLogger("dcmnode.store")

PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)


def patient_folder(patient: str) -> str:
    """``ab/abcdef0123456789``: where a patient's files live, from a hash of its key."""
    digest = hashlib.sha256(patient.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{digest[:2]}/{digest[:16]}"


def header_only(dataset: Dataset) -> Dataset:
    """Drop pixel data from *dataset* in place (it is on disk) and return it."""
    for tag in PIXEL_TAGS:
        if tag in dataset:
            del dataset[tag]
    return dataset


class DiskStore(MemoryStore):
    """A `MemoryStore` whose every instance and state change is kept on disk.

    Parameters
    ----------
    directory : path
        The data directory (created if missing).
    fsync : bool
        fsync each file and its folder before success is answered (default).
        Without it a killed *process* loses nothing, a power cut may.
    min_free_bytes : int
        Below this much free space, `write` refuses (the sender gets 0xA700).
    """

    directory: Path

    def __init__(
        self, directory: str | os.PathLike[str], fsync: bool = True, min_free_bytes: int = 0
    ) -> None:
        super().__init__()
        self.directory = Path(directory).resolve()
        self.fsync = fsync
        self.min_free_bytes = min_free_bytes
        self.free_space: Callable[[Path], int] = lambda path: shutil.disk_usage(path).free
        self.instances_dir = self.directory / "instances"
        self.tmp_dir = self.directory / "tmp"
        try:
            for folder in (self.instances_dir, self.tmp_dir):
                folder.mkdir(parents=True, exist_ok=True)
            for stale in self.tmp_dir.iterdir():
                stale.unlink(missing_ok=True)
            self.journal = Journal(self.directory / "index.sqlite")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"data_directory: cannot use {self.directory}: {exc}") from exc
        self.orphans: list[Path] = []
        self._load()

    # -- writing an instance (association thread, no lock held) -------------------

    def persist(
        self, patient: str, dataset: Dataset, encoded: Callable[[], bytes]
    ) -> tuple[str | None, str]:
        """Write the instance as received; keep only its header in memory.

        The pixels are on disk: a waiting patient never holds them, and
        `Job.load` reads them back when the job runs.
        """
        path, receipt = self.write(patient, encoded())
        header_only(dataset)
        return path, receipt

    def write(self, patient: str, data: bytes) -> tuple[str, str]:
        """Persist one encoded Part-10 file; return ``(path, receipt)``.

        Raises `OutOfSpace` below the watermark or on a full disk; nothing
        half-written is left behind.
        """
        if self.min_free_bytes and self.free_space(self.directory) < self.min_free_bytes:
            raise OutOfSpace(f"less than {self.min_free_bytes} bytes free in {self.directory}")
        receipt = uuid.uuid4().hex
        folder = self.instances_dir / patient_folder(patient)
        target = folder / f"{receipt}.dcm"
        temp = self.tmp_dir / f"{receipt}.part"
        try:
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(temp, target)
            if self.fsync:
                _fsync_dir(folder)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise OutOfSpace(f"disk full writing to {self.directory}") from exc
            raise
        return str(target), receipt

    def discard_file(self, path: str) -> None:
        """Delete a file that was written but not accepted by any input."""
        Path(path).unlink(missing_ok=True)

    def _record(self, op: str, **data: Any) -> None:
        self.journal.append(op, **data)

    def take_orphans(self) -> list[Path]:
        """Files the index never recorded, found at start; each is handed out once."""
        orphans, self.orphans = self.orphans, []
        return orphans

    def close(self) -> None:
        """Write out the index and close it."""
        self.journal.close()

    # -- start-up ---------------------------------------------------------------------

    def _load(self) -> None:
        """Read the index back into memory after a start (see the module docstring)."""
        db = self.journal.db
        self._settle_jobs()
        state = _Loaded()
        missing: list[str] = []
        for row in rows(db):
            state.known.add(row.receipt)
            instance = self._read(row.path, row.receipt)
            if instance is None:
                missing.append(row.receipt)
            else:
                state.take(row, instance)
        if missing:
            log.warning("%d indexed instances have no file any more; forgotten", len(missing))
            with transaction(db):
                db.executemany("DELETE FROM instances WHERE receipt=?", [(r,) for r in missing])
        failed = state.failed_generations(db)
        with transaction(db):
            for patient in set(state.collecting) | set(failed):
                # Everything pending becomes one new generation, in memory and
                # in the index alike, so a claim finds exactly these rows.
                generation = state.generations[patient] + 1
                db.execute(
                    "UPDATE instances SET generation=? WHERE patient=? AND job IS NULL",
                    (generation, patient),
                )
                self._restore(
                    patient,
                    generation,
                    state.collecting.get(patient, {}),
                    failed.get(patient, []),
                    state.changed[patient] or None,
                )
        self.orphans = sorted(
            path for path in self.instances_dir.glob("*/*/*.dcm") if path.stem not in state.known
        )
        if state.collecting or failed or self.orphans:
            log.info(
                "data directory %s: %d patients with pending data, %d with failed jobs, "
                "%d unindexed files to route again",
                self.directory, len(state.collecting), len(failed), len(self.orphans),
            )  # fmt: skip

    def _settle_jobs(self) -> None:
        """Finish what a stop interrupted: clean up done jobs, make running ones due again."""
        db = self.journal.db
        with transaction(db):
            for (job_id,) in db.execute("SELECT job_id FROM jobs WHERE state='done'").fetchall():
                drop_job(db, job_id)  # the job was delivered
            running = db.execute("SELECT job_id FROM jobs WHERE state='running'").fetchall()
            for (job_id,) in running:  # at-least-once processing
                log.warning("job %s was running when the node stopped; it will run again", job_id)
                release_job(db, job_id)

    def _read(self, path: str, receipt: str) -> Instance | None:
        try:
            ds = dcmread(path, stop_before_pixels=True)
        except FileNotFoundError:
            return None
        except Exception as exc:
            log.warning("cannot read %s (%s); left in place", path, exc)
            return None
        return Instance(
            str(ds.SOPInstanceUID),
            str(ds.SOPClassUID),
            str(ds.get("SeriesInstanceUID", "")),
            ds,
            path,
            receipt,
        )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Loaded:
    """What `DiskStore._load` gathers from the index rows."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.collecting: dict[str, dict[str, dict[str, Instance]]] = defaultdict(dict)
        self.generations: dict[str, int] = defaultdict(int)
        self.changed: dict[str, float] = defaultdict(float)
        self.by_job: dict[str, dict[str, list[Instance]]] = defaultdict(lambda: defaultdict(list))

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
                FailedGeneration(patient, generation, job_id, reason or "", inputs, updated)
            )
        return failed
