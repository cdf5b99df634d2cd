"""`DaskRunner`: jobs run on a Dask distributed cluster, local or remote."""

from __future__ import annotations

import copy
import logging
import sys
import threading
import uuid
from typing import Any

from dcmnode.extras import require
from dcmnode.job import Job
from dcmnode.runners.base import PipelineLike
from dcmnode.runners.compute import compute, describe_error
from dcmnode.runners.pool import (
    CANCELLED_RUNNING,
    PooledRunner,
    Result,
    positive_int,
    relog,
)

log = logging.getLogger("dcmnode.runner")


class DaskRunner(PooledRunner):
    """Submit each job to Dask distributed and export its results in the node.

    The job travels as data -- its datasets, read into memory in the node,
    and the pipeline class with its settings -- so workers need no access
    to the node's disk and may run on other machines. They need the same
    Python packages as the node (dcmnode, the pipeline's dependencies); a
    pipeline loaded by ``dcmnode run`` from a file is sent along by value.

    Parameters
    ----------
    address : str or None
        A running scheduler (``"tcp://host:8786"``). None starts a
        ``LocalCluster`` of *local_workers* processes in the node, stopped
        with it.
    resources : dict or None
        Dask worker resources each job needs, e.g. ``{"GPU": 1}``: a job
        only runs on workers started with that resource
        (``dask worker --resources GPU=1``), at most as many at once as
        the workers have. A LocalCluster gets these resources per worker.
    workers : int
        Jobs the node has on the cluster at once; more wait in the node's
        queue (backpressure), never in the scheduler.
    timeout : float or None
        Seconds a job may take before it is failed (at once, with a
        ``TimeoutError``). Dask cannot kill a running task, so the task is
        left to finish: it keeps its place among the node's *workers* until
        it returns -- no other job goes to the cluster in its place -- and
        its result is ignored. A stop cancels it.
    queue_size : int
        Jobs that may wait in the node before `submit` blocks.
    local_workers : int
        Worker processes of the LocalCluster when *address* is None.
    """

    def __init__(
        self,
        address: str | None = None,
        resources: dict[str, float] | None = None,
        workers: int = 4,
        timeout: float | None = None,
        queue_size: int = 64,
        local_workers: int = 2,
    ) -> None:
        super().__init__(workers, queue_size, timeout)
        # Said when the pipeline is defined, not at its first job.
        require("dask", "distributed", "DaskRunner")
        self.address = address
        self.resources = dict(resources) if resources else None
        self.local_workers = positive_int("DaskRunner", "local_workers", local_workers)

    def _open(self) -> None:
        # Typed loosely: distributed's own annotations are incomplete.
        cloudpickle: Any = require("dask", "cloudpickle", "DaskRunner")
        distributed: Any = require("dask", "distributed", "DaskRunner")

        self._cluster: Any = None
        self._futures: dict[str, Any] = {}
        module = sys.modules.get(type(self._pipeline).__module__)
        if type(self._pipeline)._source is not None and module is not None:
            # A class loaded from a file lives in a module workers cannot
            # import: ship its code with the job instead.
            cloudpickle.register_pickle_by_value(module)
        if self.address is None:
            self._cluster = distributed.LocalCluster(
                n_workers=self.local_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",  # its HTTP server: loopback, any port
                resources=self.resources,
            )
            log.info("DaskRunner: started a LocalCluster at %s", self._cluster.scheduler_address)
        target = self._cluster if self._cluster is not None else self.address
        self._client: Any = distributed.Client(target, set_as_default=False, timeout=30)
        log.info("DaskRunner: connected to %s", self._client.scheduler.address)

    def _execute(self, job: Job) -> Result:
        cloudpickle: Any = require("dask", "cloudpickle", "DaskRunner")

        # Header-only datasets from an on-disk store become full ones here,
        # in the node: workers never see the node's paths. A copy is loaded,
        # so that while the task runs the node holds neither the job's pixel
        # data (beyond what its store holds anyway) nor the pickled payload.
        trip = copy.copy(job)
        trip.load()
        payload = cloudpickle.dumps((type(self._pipeline), self._pipeline.settings(), trip))
        del trip
        future: Any = self._client.submit(
            run_remote,
            payload,
            key=f"dcmnode-{job.id}-{uuid.uuid4().hex[:8]}",
            resources=self.resources,
            pure=False,
        )
        del payload
        with self._lock:
            self._futures[job.id] = future
        try:
            # No timeout here: the pool's watchdog reports a late job, and
            # this worker waits for the task, so that the node never has
            # more tasks on the cluster than workers.
            status, value, records = future.result()
        except Exception as exc:
            if future.cancelled() or self._stopping.is_set():
                return None, CANCELLED_RUNNING
            # KilledWorker (the task crashed its workers too often), lost
            # connections, unpicklable results.
            return None, f"Dask: {describe_error(exc)}"
        finally:
            with self._lock:
                self._futures.pop(job.id, None)
        for name, level, message in records:
            relog(job, name, level, message)
        return (value, None) if status == "ok" else (None, value)

    def _cancel_running(self) -> None:
        with self._lock:
            futures = list(self._futures.values())
        if futures:
            self._client.cancel(futures, force=True)

    def _close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __repr__(self) -> str:
        where = self.address or "a LocalCluster"
        return f"DaskRunner({where}, workers={self.workers}, timeout={self.timeout})"


class _Collector(logging.Handler):
    """Keeps the log records one task's thread makes, to send back with its result."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.records: list[tuple[str, int, str]] = []
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append((record.name, record.levelno, self.format(record)))


def run_remote(payload: bytes) -> tuple[str, Any, list[tuple[str, int, str]]]:
    """On a Dask worker: rebuild the pipeline and run `compute`.

    Returns ("ok", outputs, records) or ("error", text, records), where
    records are the job's log records that the worker's logging let through.
    The worker's logging configuration is left as it is (it may serve
    others); the collecting handler is removed when the task ends.
    """
    import pickle

    collector = _Collector()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        cls, settings, job = pickle.loads(payload)
        pipeline: PipelineLike = cls(**settings)
        return "ok", compute(pipeline, job), collector.records
    except BaseException as exc:  # noqa: BLE001 - the error travels back as text
        return "error", describe_error(exc), collector.records
    finally:
        root.removeHandler(collector)
