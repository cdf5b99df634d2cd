"""The compute half of a job: grind every input, call ``process``.

This is the part of a job that runs wherever the runner puts it (a thread,
a child process, a Dask worker): it needs only the pipeline and the job's
data, never the node's store or sockets. The node's half -- export,
clean-up, events -- is `dcmnode.node.complete`.
"""

from __future__ import annotations

import traceback

from dcmnode.job import Job
from dcmnode.outputs.base import Output, normalise
from dcmnode.runners.base import PipelineLike


def compute(pipeline: PipelineLike, job: Job) -> list[Output]:
    """Grind every input and call ``process``; return the outputs to export."""
    job.load()
    for name, inp in pipeline.input_objects.items():
        datasets = job.datasets.get(name, [])
        job.inputs[name] = inp.grind(datasets) if datasets else None
    return list(normalise(pipeline.process(job)))


def describe_error(exc: BaseException) -> str:
    """The reason text stored with a failed job: type, message and traceback."""
    trace = "".join(traceback.format_exception(exc))
    return f"{type(exc).__name__}: {exc}\n{trace}"
