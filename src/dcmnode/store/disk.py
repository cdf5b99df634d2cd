"""`DiskStore`: the store whose success statuses survive ``kill -9``.

Layout of a data directory::

    index.sqlite (+ -wal, -shm)   the index (see `dcmnode.store.index`)
    instances/ab/abcdef0123456789/<receipt>.dcm
                                  one file per received instance, in the
                                  folder of sha256(patient); the file name
                                  is a random receipt id. No name ever comes
                                  from patient-supplied text.
    tmp/                          files being written; emptied at start
    quarantine/<receipt>.dcm      indexed files that could not be read at
                                  start-up, listed as failed jobs (see
                                  `dcmnode.store.restore`)

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from dcmnode.errors import ConfigError
from dcmnode.store.index import Row, drop_job, release_job, rows, transaction
from dcmnode.store.journal import Journal
from dcmnode.store.lock import DirectoryLock
from dcmnode.store.memory import MemoryStore
from dcmnode.store.protocol import OutOfSpace
from dcmnode.store.restore import QUARANTINE, Loaded, locate, quarantine, read_instance

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
        self.index_wait = 10.0
        """Seconds a new instance waits for room in a full journal queue."""
        self._durable_folders: set[Path] = set()
        self.free_space: Callable[[Path], int] = lambda path: shutil.disk_usage(path).free
        self.instances_dir = self.directory / "instances"
        self.tmp_dir = self.directory / "tmp"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Lock before touching anything: emptying tmp/ under a live node
            # would delete the files it is writing (DataDirectoryInUse if so).
            self._lock_file = DirectoryLock(self.directory)
        except OSError as exc:
            raise ConfigError(f"data_directory: cannot use {self.directory}: {exc}") from exc
        try:
            self._prepare()
        except BaseException:
            self._lock_file.release()
            raise

    def _prepare(self) -> None:
        try:
            for folder in (self.instances_dir, self.tmp_dir):
                folder.mkdir(parents=True, exist_ok=True)
            if self.fsync:
                _fsync_dir(self.directory)  # instances/ and tmp/ may be new
            for stale in self.tmp_dir.iterdir():
                stale.unlink(missing_ok=True)
            self.journal = Journal(self.directory / "index.sqlite")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"data_directory: cannot use {self.directory}: {exc}") from exc
        self.orphans: list[Path] = []
        try:
            self._load()
        except BaseException:
            self.journal.close()
            raise

    # -- writing an instance (association thread, no lock held) -------------------

    def persist(
        self, patient: str, dataset: Dataset, encoded: Callable[[], bytes]
    ) -> tuple[str | None, str]:
        """Write the instance as received; keep only its header in memory.

        The pixels are on disk: a waiting patient never holds them, and
        `Job.load` reads them back when the job runs.
        """
        # Back-pressure on the journal's queue, here where no lock is held
        # (see dcmnode.store.journal): a sender waits a little for a busy
        # index, and hears "out of resources" from one that cannot be written.
        if not self.journal.wait_for_room(self.index_wait):
            raise OutOfSpace(
                f"the index of {self.directory} is {self.journal.unwritten} changes behind "
                f"({self.journal.error or 'writing too slowly'})"
            )
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
            self._make_folder(folder)
            os.replace(temp, target)
            if self.fsync:
                _fsync_dir(folder)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise OutOfSpace(f"disk full writing to {self.directory}") from exc
            raise
        return str(target), receipt

    def _make_folder(self, folder: Path) -> None:
        """Create a patient's folder; with fsync, make its own name durable too.

        A file's rename is made durable by fsync'ing its folder, but a folder
        created for a new patient is itself only an entry in its parent: each
        level's parent is fsync'd once per process (a folder another thread
        is just creating counts as new here too, so nobody answers success
        before its entry is on disk).
        """
        if folder in self._durable_folders:
            return
        levels = [folder, folder.parent]  # instances/ab/abcdef..., instances/ab
        for level in reversed(levels):
            level.mkdir(exist_ok=True)
            if self.fsync:
                _fsync_dir(level.parent)
        self._durable_folders.add(folder)  # one atomic set operation: no lock needed

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
        """Write out the index, close it and unlock the data directory."""
        try:
            self.journal.close()
        finally:
            self._lock_file.release()

    # -- start-up ---------------------------------------------------------------------

    def _load(self) -> None:
        """Read the index back into memory after a start (see the module docstring)."""
        db = self.journal.db
        self._settle_jobs()
        state = self._read_rows()
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

    def _read_rows(self) -> Loaded:
        """Read every indexed file's header; quarantine the unreadable, forget the missing.

        A file that is gone was deleted by a clean-up a crash interrupted;
        one that exists but cannot be read is kept and listed as failed
        (`dcmnode.store.restore`), never silently dropped.
        """
        db = self.journal.db
        folder = self.directory / QUARANTINE
        state = Loaded()
        missing: list[str] = []
        bad: list[tuple[Row, str]] = []
        for row in rows(db):
            state.known.add(row.receipt)
            path = locate(row, folder)
            if path is None:
                missing.append(row.receipt)
                continue
            try:
                instance = read_instance(path, row.receipt)
            except Exception as exc:  # any parse error: keep the file, say why
                bad.append((row, f"{type(exc).__name__}: {exc}"))
                continue
            if path != row.path:  # found in quarantine, and readable again
                db.execute("UPDATE instances SET path=? WHERE receipt=?", (path, row.receipt))
            state.take(row, instance)
        if missing:
            log.warning("%d indexed instances have no file any more; forgotten", len(missing))
            with transaction(db):
                db.executemany("DELETE FROM instances WHERE receipt=?", [(r,) for r in missing])
        if bad:
            quarantine(db, folder, self.fsync, bad, state)
        return state


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
