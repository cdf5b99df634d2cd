"""The index journal keeps its promises on every path (issue 9, defects 8, 11 and 17).

Disk conditions are real: a small tmpfs filled to the last byte, another
connection holding SQLite's write lock, a process killed at the moment
between a commit and the deletion of files.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydicom import dcmwrite
from pydicom.filebase import DicomBytesIO

from dcmnode import Node
from dcmnode.store import DiskStore, Instance, OutOfSpace, Sender
from dcmnode.testing import JobRecorder, running, series
from pipelines import Recording
from sending import store_all

SENDER = Sender("SCANNER", "127.0.0.1")
ROUTE = [("ct", False)]


def _encode(ds) -> bytes:  # type: ignore[no-untyped-def]
    buffer = DicomBytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def receive(store: DiskStore, patient: str, ds) -> Instance:  # type: ignore[no-untyped-def]
    """What the association thread does with one C-STORE: persist, then add."""
    path, receipt = store.persist(patient, ds, lambda: _encode(ds))
    instance = Instance(
        str(ds.SOPInstanceUID), str(ds.SOPClassUID), str(ds.SeriesInstanceUID), ds, path, receipt
    )
    assert store.add(0, patient, ROUTE, instance, SENDER).inputs == ("ct",)
    return instance


def run_job(store: DiskStore, patient: str, job_id: str, error: str | None = None) -> None:
    snapshot = store.snapshot(patient)
    assert snapshot is not None and store.claim(snapshot, job_id)
    store.finish(patient, job_id, error)


def index(data: Path) -> dict[str, list[tuple[object, ...]]]:
    """The index as another process sees it."""
    db = sqlite3.connect(f"{(data / 'index.sqlite').as_uri()}?mode=ro", uri=True)
    try:
        return {
            table: db.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608
            for table in ("instances", "jobs", "doomed")
        }
    finally:
        db.close()


def files(data: Path) -> list[Path]:
    return sorted((data / "instances").glob("*/*/*.dcm"))


@contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    """A real 8 MB file system (tmpfs); needs root, as on the project's machines and CI."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(disk: Path) -> Path:
    """Fill *disk* to the last byte; returns the filler file (delete it to free space)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def test_index_writes_that_fail_on_a_full_disk_are_retried_when_space_returns(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        data = disk / "data"
        store = DiskStore(data, fsync=True)
        try:
            for patient in ("DONE", "FAILS"):
                for ds in series(patient, count=3, rows=8, columns=8):
                    receive(store, patient, ds)
            assert store.journal.flush()
            filler = fill(disk)
            run_job(store, "DONE", "job-done")  # its start and end cannot be written now
            run_job(store, "FAILS", "job-fails", error="RuntimeError: on purpose")
            assert store.journal.wait_stalled()
            assert not store.journal.flush(timeout=0)  # never "written" while it is not
            assert store.journal.unwritten == 4
            filler.unlink()  # space returns: the same changes are written, in order
            assert store.journal.flush()
            written = index(data)
            assert {r[1] for r in written["instances"]} == {"FAILS"}  # DONE's rows are gone
            assert [(r[0], r[3]) for r in written["jobs"]] == [("job-fails", "failed")]
            assert written["doomed"] == []
            assert len(files(data)) == 3  # DONE's inputs deleted once it was recorded
        finally:
            store.close()
        again = DiskStore(data, fsync=True)
        try:
            assert again.pending() == []  # DONE does not run a second time
            assert again.take_orphans() == []
            assert [f.job_id for f in again.failed()] == ["job-fails"]
        finally:
            again.close()


def test_a_job_that_ends_on_a_full_disk_is_recorded_once_space_returns(tmp_path):
    """The node-level story of defect 17: no rerun at the next start, inputs cleaned up."""
    started, gate = threading.Event(), threading.Event()
    with small_disk(tmp_path / "disk") as disk:
        data = disk / "data"
        settings = {"data_directory": str(data), "min_free_mb": 0}
        with running(Recording, **settings, started=started, gate=gate) as node:
            assert store_all(node, series("FULL", count=3, rows=8, columns=8)) == [0] * 3
            assert started.wait(30)
            assert node.store.journal.flush()  # the job's start is written
            filler = fill(disk)
            gate.set()  # the job ends while not one more byte fits
            assert node.wait_idle(30)
            assert node.store.journal.wait_stalled()
            filler.unlink()
            assert node.store.journal.flush()
            assert files(data) == []  # its inputs are cleaned up once the end is written
        node = Node(Recording(port=0, **settings))
        jobs = JobRecorder(node)
        with node:
            assert node.wait_idle(30)
        assert jobs.started == []  # and it does not run again


# Dies (like kill -9) at the first file deletion the index asks for: right
# after the transaction that forgot the file has committed.
CRASH_AT_UNLINK = """
import os, sys
sys.path[:0] = [sys.argv[3], os.path.dirname(sys.argv[3])]  # tests/store, tests
import dcmnode.store.index as index
from dcmnode.store import DiskStore
from dcmnode.testing import series
from test_journal import receive
store = DiskStore(sys.argv[1], fsync=False)
[ds] = series("P", count=1, rows=8, columns=8)
receive(store, "P", ds)
assert store.journal.flush()
index._unlink = lambda path: os._exit(9)
if sys.argv[2] == "replace":
    receive(store, "P", ds)  # the same SOP instance again: the first file is replaced
else:
    store.expire(before=float("inf"))
store.journal.flush(60)
os._exit(0)  # the crash did not happen
"""


@pytest.mark.parametrize("change", ["replace", "expire"])
def test_a_crash_after_commit_never_brings_forgotten_files_back(tmp_path, change):
    data = tmp_path / "data"
    child = subprocess.run(
        [sys.executable, "-c", CRASH_AT_UNLINK, str(data), change, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
    )
    assert child.returncode == 9, child.stderr
    store = DiskStore(data, fsync=False)
    try:
        assert store.take_orphans() == []  # nothing forgotten is routed again
        assert index(data)["doomed"] == []
        expected = 1 if change == "replace" else 0
        assert len(files(data)) == expected
        assert sum(p.collecting for p in store.patients()) == expected
    finally:
        store.close()


def test_a_new_patients_folders_are_fsynced_with_its_first_file(tmp_path, monkeypatch):
    store = DiskStore(tmp_path / "data", fsync=True)
    synced: list[str] = []
    real_fsync = os.fsync

    def watching(fd: int) -> None:  # observes; the real fsync still runs
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", watching)
    try:
        [ds] = series("NEW", count=1, rows=8, columns=8)
        instance = receive(store, "NEW", ds)
    finally:
        monkeypatch.undo()
        store.close()
    assert instance.path is not None
    patient_dir = Path(instance.path).parent
    for folder in (patient_dir, patient_dir.parent, patient_dir.parent.parent):
        assert str(folder) in synced, f"{folder} was never fsync'd"


def test_a_stalled_index_refuses_new_data_without_blocking_the_store(tmp_path):
    data = tmp_path / "data"
    store = DiskStore(data, fsync=False)
    store.journal.limit = 20
    store.journal.db.execute("PRAGMA busy_timeout=10")  # fail fast while locked
    blocker = sqlite3.connect(data / "index.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        accepted, refused = 0, 0
        for ds in series("FLOOD", count=40, rows=8, columns=8):
            try:
                receive(store, "FLOOD", ds)
                accepted += 1
            except OutOfSpace:
                refused += 1
        assert (accepted, refused) == (20, 20)
        # Under the store's lock appends never wait: jobs still start and end.
        run_job(store, "FLOOD", "job-1")
        assert store.journal.unwritten == 22
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    try:
        assert store.journal.flush()
        assert index(data)["instances"] == []  # the job's end was written too
        assert files(data) == []
        [ds] = series("LATER", count=1, rows=8, columns=8)
        receive(store, "LATER", ds)  # room again
    finally:
        store.close()


@pytest.mark.parametrize("seed", range(3))
def test_flush_covers_every_change_made_before_it_under_many_threads(tmp_path, seed):
    data = tmp_path / "data"
    store = DiskStore(data, fsync=False)
    threads, per_thread = 8, 25
    start = threading.Barrier(threads)
    missing: list[str] = []
    datasets = series("MANY", count=threads * per_thread, rows=4, columns=4)

    def work(index_: int) -> None:
        start.wait()
        reader = sqlite3.connect(f"{(data / 'index.sqlite').as_uri()}?mode=ro", uri=True)
        try:
            for ds in datasets[index_::threads]:
                instance = receive(store, f"P{index_ % 3}", ds)
                if not store.journal.flush():
                    missing.append(f"flush failed after {instance.receipt}")
                    continue
                row = reader.execute(
                    "SELECT 1 FROM instances WHERE receipt=?", (instance.receipt,)
                ).fetchone()
                if row is None:
                    missing.append(instance.receipt)
        finally:
            reader.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    try:
        assert missing == []
        assert len(index(data)["instances"]) == threads * per_thread
    finally:
        store.close()


def test_a_change_that_cannot_be_applied_costs_only_itself(tmp_path, caplog):
    data = tmp_path / "data"
    store = DiskStore(data, fsync=False)
    store.journal.db.execute("PRAGMA busy_timeout=10")
    first, second = series("POISON", count=2, rows=4, columns=4)
    blocker = sqlite3.connect(data / "index.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # hold the writer back, so that
    try:  # the three changes below are retried as one batch
        a = receive(store, "POISON", first)
        assert store.journal.wait_stalled()
        store.journal.append("no_such_change")  # a defect, not a disk problem
        b = receive(store, "POISON", second)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    try:
        assert store.journal.flush()
        assert {r[0] for r in index(data)["instances"]} == {a.receipt, b.receipt}
        assert "no_such_change" in caplog.text  # logged with its traceback
    finally:
        store.close()
