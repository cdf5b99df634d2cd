"""Runners: where jobs execute.

`ThreadRunner` (the default), `ProcessRunner`, `QueueRunner` and
`DaskRunner` share one contract (`Runner`) and one set of job events.
"""

from dcmnode.runners.base import Runner, RunnerHooks, RunnerStats
from dcmnode.runners.dask import DaskRunner
from dcmnode.runners.process import ProcessRunner
from dcmnode.runners.queued import QueueRunner
from dcmnode.runners.thread import ThreadRunner

__all__ = [
    "DaskRunner",
    "ProcessRunner",
    "QueueRunner",
    "Runner",
    "RunnerHooks",
    "RunnerStats",
    "ThreadRunner",
]
