"""One process per data directory (issue 9, defect 6): a second user is told who holds it."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dcmnode.store import DataDirectoryInUse, DiskStore, admin

# A real second process that opens a DiskStore, says so, and holds it until
# its standard input closes (or it is killed).
HOLDER = """
import sys
from dcmnode.store import DiskStore
store = DiskStore(sys.argv[1], fsync=False)
print("ready", flush=True)
sys.stdin.read()
store.close()
"""


def _hold(data: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dcmnode", "failed", *args], capture_output=True, text=True
    )


def test_a_second_store_is_refused_and_leaves_the_holders_files_alone(tmp_path):
    data = tmp_path / "data"
    child = _hold(data)
    try:
        in_flight = data / "tmp" / "0123456789abcdef.part"  # the holder is writing this
        in_flight.write_bytes(b"half an instance")
        with pytest.raises(DataDirectoryInUse, match=f"in use by process {child.pid}") as caught:
            DiskStore(data, fsync=False)
        assert caught.value.pid == child.pid
        assert in_flight.read_bytes() == b"half an instance"  # tmp/ was not emptied
    finally:
        assert child.stdin is not None
        child.stdin.close()
        assert child.wait(30) == 0
    DiskStore(data, fsync=False).close()  # free again once the holder has stopped


def test_the_lock_dies_with_its_holder_even_on_kill_9(tmp_path):
    data = tmp_path / "data"
    child = _hold(data)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    store = DiskStore(data, fsync=False)  # the stale PID in the file does not matter
    try:
        assert (data / "dcmnode.lock").read_text().strip() == str(os.getpid())
    finally:
        store.close()


def test_two_stores_in_one_process_are_refused_too(tmp_path):
    first = DiskStore(tmp_path, fsync=False)
    try:
        with pytest.raises(DataDirectoryInUse, match=f"process {os.getpid()}"):
            DiskStore(tmp_path, fsync=False)
    finally:
        first.close()
    DiskStore(tmp_path, fsync=False).close()


def test_failed_retry_and_discard_refuse_a_live_node_in_one_line(tmp_path):
    data = tmp_path / "data"
    child = _hold(data)
    try:
        with pytest.raises(DataDirectoryInUse):
            admin.discard(data, patient="P")
        with pytest.raises(DataDirectoryInUse):
            admin.retry(data, job_id="J")
        result = _cli("discard", str(data), "--all")
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
        assert f"in use by process {child.pid}" in result.stderr
        # Listing only reads (SQLite's WAL lets readers share with the writer).
        listing = _cli("list", str(data))
        assert listing.returncode == 0 and "no failed jobs" in listing.stdout, listing
    finally:
        assert child.stdin is not None
        child.stdin.close()
        assert child.wait(30) == 0
    assert _cli("discard", str(data), "--all").returncode == 1  # allowed now: nothing to discard


def test_a_store_dropped_without_close_frees_the_directory(tmp_path):
    store = DiskStore(tmp_path, fsync=False)
    del store  # e.g. a Node built but never started
    gc.collect()
    DiskStore(tmp_path, fsync=False).close()


def test_a_second_node_on_the_same_directory_stops_at_start_in_one_line(tmp_path):
    data = tmp_path / "data"
    example = Path(__file__).parents[2] / "examples" / "derive_ct.py"
    child = _hold(data)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "dcmnode", "run", str(example), "--port", "0",
             "--set", f"data_directory={data}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2, result
        assert f"in use by process {child.pid}" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        assert child.stdin is not None
        child.stdin.close()
        assert child.wait(30) == 0
