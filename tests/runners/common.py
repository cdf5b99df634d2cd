"""Helpers for the runner tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from dcmnode.node import Node
from dcmnode.testing import series
from sending import store_all


def alive(pid: int) -> bool:
    """True while *pid* runs (a zombie waiting to be reaped counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def eventually(condition: Callable[[], object], timeout: float = 30.0) -> bool:
    """Poll *condition* until it holds or *timeout* passes (for other processes' doings)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def send_at_once(node: Node, patients: Sequence[str], count: int = 3) -> dict[str, list[int]]:
    """One sender per patient, all starting together; the statuses each got."""
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(len(patients))

    def sender(index: int, patient: str) -> None:
        data = series(patient, count=count)
        barrier.wait()
        results[patient] = store_all(node, data, f"SCANNER{index}")

    threads = [threading.Thread(target=sender, args=(i, p)) for i, p in enumerate(patients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results
