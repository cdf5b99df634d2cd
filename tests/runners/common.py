"""Helpers for the runner tests."""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Sequence
from pathlib import Path

from dcmnode.node import Node
from dcmnode.testing import series
from sending import store_all
from support import run_threads


def exited(pid: int, timeout: float = 30.0) -> bool:
    """Block until process *pid* (not necessarily our child) has ended; False on timeout.

    A pidfd becomes readable when the process terminates: a join on another
    process's death, without polling its state.
    """
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([handle], [], [], timeout)[0])
    finally:
        os.close(handle)


class Rendezvous:
    """A named pipe at *path* that a job process writes to; `read` blocks until it did.

    The job writes the file as it would a plain one (``Path.write_text``);
    the test's end is open from the start, so the job never waits for it.
    A join across processes, instead of polling for a file to appear.
    """

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        # Non-blocking open: there is no writer yet. Until one comes, the pipe
        # does not read as ended (Linux reports no hang-up before a first writer).
        self._handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)

    def read(self, timeout: float = 60.0) -> str:
        """What the job wrote, once it closed the file; AssertionError after *timeout*."""
        chunks: list[bytes] = []
        try:
            while True:
                ready, _, _ = select.select([self._handle], [], [], timeout)
                assert ready, f"nothing written to the pipe in {timeout} s"
                chunk = os.read(self._handle, 4096)
                if not chunk:  # the writer closed it
                    return b"".join(chunks).decode()
                chunks.append(chunk)
        finally:
            os.close(self._handle)


def send_at_once(node: Node, patients: Sequence[str], count: int = 3) -> dict[str, list[int]]:
    """One sender per patient, all starting together; the statuses each got."""
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(len(patients))

    def sender(index: int, patient: str) -> None:
        data = series(patient, count=count)
        barrier.wait(60)
        results[patient] = store_all(node, data, f"SCANNER{index}")

    run_threads(sender, list(enumerate(patients)), barriers=[barrier])
    return results
