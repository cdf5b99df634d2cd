"""The runner interface: where jobs execute, away from the network threads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from dcmnode.job import Job

Execute = Callable[[Job], None]


class Runner(ABC):
    """Executes jobs. The node calls `start` once, `submit` per job, `stop` at the end.

    ``execute(job)`` is the node's whole job (grind, process, export,
    clean-up) with its own error boundary: it never raises.
    """

    @abstractmethod
    def start(self, execute: Execute) -> None:
        """Start the workers."""

    @abstractmethod
    def submit(self, job: Job) -> None:
        """Queue *job*. May block while the queue is full (backpressure)."""

    @abstractmethod
    def stop(self, timeout: float) -> bool:
        """Run what is queued, then stop; True if everything finished in *timeout* s."""
