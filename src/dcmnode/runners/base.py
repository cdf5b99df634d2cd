"""The runner interface: where jobs execute, away from the network threads."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

from dcmnode.inputs.base import Input
from dcmnode.job import Job
from dcmnode.outputs.base import Output


class PipelineLike(Protocol):
    """What a runner needs of a pipeline: its inputs, ``process``, and how to rebuild it.

    `dcmnode.Pipeline` is one; runners never import it, so that the
    pipeline module can name runners without an import cycle.
    """

    _source: ClassVar[str | None]
    """``"path.py:Class"`` for a class loaded from a file, which another process cannot import."""

    @property
    def input_objects(self) -> Mapping[str, Input]:
        """Input name -> input, whose grinders `compute` runs."""

    def process(self, job: Job) -> Any:
        """The user's processing."""

    def settings(self) -> dict[str, Any]:
        """The settings that rebuild an equal pipeline as ``type(self)(**settings)``."""


class RunnerHooks(Protocol):
    """What a runner reports back to the node, from any thread of the node process."""

    def started(self, job: Job) -> None:
        """The job began to run."""

    def backpressure(self, job: Job, queued: int, workers: int) -> None:
        """*job* waits for room: *queued* jobs wait and all *workers* are busy."""

    def finished(self, job: Job, outputs: Sequence[Output] | None, error: str | None) -> None:
        """The job ended: outputs to export, or an error text (reason and traceback).

        Exports the outputs and cleans up; may take a while (network I/O).
        Never raises.
        """


@dataclass(frozen=True)
class RunnerStats:
    """A snapshot of a runner's counters, for logs, metrics and a dashboard.

    Attributes
    ----------
    workers : int
        Jobs that may run at once.
    capacity : int
        Jobs that may wait for a worker before `Runner.submit` blocks.
    queued, running : int
        Jobs waiting for a worker now; jobs running now.
    submitted, finished, failed, cancelled : int
        Totals since start (a cancelled job also counts as failed).
    backpressure : int
        How often `Runner.submit` found the queue full and had to wait.
    longest_wait : float
        Longest time in seconds a job waited between `submit` and its start.
    timed_out : int
        Jobs failed for exceeding the runner's timeout, since start (also
        counted as failed).
    overrunning : int
        Timed-out jobs whose code still runs now, because a thread or a Dask
        task cannot be killed. Each keeps its worker busy (it is among
        *running*) until its code returns; no other job starts in its place.
    """

    workers: int
    capacity: int
    queued: int = 0
    running: int = 0
    submitted: int = 0
    finished: int = 0
    failed: int = 0
    cancelled: int = 0
    backpressure: int = 0
    longest_wait: float = 0.0
    timed_out: int = 0
    overrunning: int = 0


class Runner(ABC):
    """Executes jobs. The node calls `start` once, `submit` per job, `stop` at the end.

    For each job a runner calls ``hooks.started(job)``, then
    ``dcmnode.runners.compute.compute(pipeline, job)`` -- grinders and
    ``process``, which may run in another thread, process or machine -- and
    finally ``hooks.finished(job, outputs, error)`` in the node process.

    A runner set as a class attribute (``runner = ProcessRunner(...)``) is a
    template: each node runs a `fresh` copy of it, so several nodes started
    from one class never share queues, workers or processes. Subclasses
    therefore create all their state in `start`, never in ``__init__``.
    """

    def fresh(self) -> Self:
        """An unstarted copy with the same configuration (what a node runs)."""
        return copy.copy(self)

    @abstractmethod
    def start(self, pipeline: PipelineLike, hooks: RunnerHooks) -> None:
        """Start the workers."""

    @abstractmethod
    def submit(self, job: Job) -> None:
        """Queue *job*. May block while the queue is full (backpressure)."""

    @abstractmethod
    def stop(self, timeout: float) -> bool:
        """Run what is queued, then stop; True if everything finished in *timeout* s."""

    def stats(self) -> RunnerStats:
        """Counters for logs and metrics (runners that keep none report zeros)."""
        return RunnerStats(workers=0, capacity=0)
