"""The runner interface: where jobs execute, away from the network threads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the pipeline module refers to runners: avoid the import cycle
    from dcmnode.job import Job
    from dcmnode.outputs.base import Output
    from dcmnode.pipeline import Pipeline


class RunnerHooks(Protocol):
    """What a runner reports back to the node, from any thread of the node process."""

    def started(self, job: Job) -> None:
        """The job began to run."""

    def finished(self, job: Job, outputs: Sequence[Output] | None, error: str | None) -> None:
        """The job ended: outputs to export, or an error text (reason and traceback).

        Exports the outputs and cleans up; may take a while (network I/O).
        Never raises.
        """


class Runner(ABC):
    """Executes jobs. The node calls `start` once, `submit` per job, `stop` at the end.

    For each job a runner calls ``hooks.started(job)``, then
    ``dcmnode.execution.compute(pipeline, job)`` -- grinders and ``process``,
    which may run in another thread, process or machine -- and finally
    ``hooks.finished(job, outputs, error)`` in the node process.
    """

    @abstractmethod
    def start(self, pipeline: Pipeline, hooks: RunnerHooks) -> None:
        """Start the workers."""

    @abstractmethod
    def submit(self, job: Job) -> None:
        """Queue *job*. May block while the queue is full (backpressure)."""

    @abstractmethod
    def stop(self, timeout: float) -> bool:
        """Run what is queued, then stop; True if everything finished in *timeout* s."""
