"""`Node`: builds the running system for a pipeline and orders its start and stop.

The stages live in this package, in the order data flows through them:
`receive` (association threads) -> the store -> `dispatch` (readiness,
claim) -> the runner -> `complete` (export, finish) -> `outbox` (delivery),
with `maintenance` on a timer and `activity` counting unfinished work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from dcmnode import events
from dcmnode.errors import NetworkError
from dcmnode.network.scp import StorageSCP
from dcmnode.node.activity import Activity
from dcmnode.node.complete import JobCompletion
from dcmnode.node.dispatch import NOW, Dispatcher
from dcmnode.node.maintenance import Maintenance
from dcmnode.node.operate import Operating
from dcmnode.node.outbox import Outbox
from dcmnode.node.receive import Receiver
from dcmnode.pipeline import Pipeline
from dcmnode.runners.base import Runner
from dcmnode.runners.thread import ThreadRunner
from dcmnode.store import Store, open_store

log = logging.getLogger("dcmnode.node")


class Node:
    """A running DICOM node for one pipeline.

    Parameters
    ----------
    pipeline : Pipeline
        A configured pipeline instance. Its ``on_<event>`` methods are
        subscribed to the node's events.
    store : Store, optional
        The store; by default one for the pipeline's ``data_directory`` (a
        `~dcmnode.store.DiskStore`, or a `~dcmnode.store.MemoryStore` for
        none).

    Examples
    --------
    >>> with Node(MyPipeline(port=0)) as node:      # doctest: +SKIP
    ...     print(node.address)
    """

    def __init__(self, pipeline: Pipeline, store: Store | None = None) -> None:
        self.pipeline = pipeline
        if store is None:
            store = open_store(
                pipeline.data_directory, pipeline.fsync, pipeline.min_free_mb * 1024 * 1024
            )
        self.store = store
        self.events = events.EventBus()
        events.bind_hooks(self.events, pipeline)
        self.activity = Activity()
        self.runner: Runner = (
            pipeline.runner.fresh()
            if pipeline.runner is not None
            else ThreadRunner(pipeline.workers, pipeline.queue_size)
        )
        self._dispatcher = Dispatcher(
            self.store,
            pipeline.input_objects,
            self.runner.submit,
            self.activity,
            self.events,
            quiet_period=pipeline.quiet_period,
        )
        self._receiver = Receiver(
            pipeline, self.store, self.events, self.activity, self._dispatcher.check
        )
        self.outbox = Outbox(
            None if self.store.directory is None else self.store.directory / "outbox",
            pipeline.ae_title,
            pipeline.export_timeout,
            pipeline.export_retries,
            pipeline.export_backoff,
            pipeline.export_backoff_max,
            self.activity,
            self.events,
        )
        self._completion = JobCompletion(
            pipeline, self.store, self.activity, self.events, self._dispatcher.check, self.outbox
        )
        self._scp = StorageSCP(
            pipeline.ae_title,
            pipeline.host,
            pipeline.port,
            on_open=self._receiver.opened,
            on_store=self._receiver.receive,
            on_close=self._receiver.closed,
            require_called_ae=pipeline.require_called_ae,
            allowed_calling_aes=pipeline.allowed_calling_aes,
            max_associations=pipeline.max_associations,
            network_timeout=pipeline.network_timeout,
        )
        self._maintenance = Maintenance(
            self.store,
            self._dispatcher,
            pipeline.maintenance_interval,
            pipeline.expire_after,
            pipeline.deadline,
            pipeline.deadline_policy,
            sweep=self._scp.sweep,
            delivery_idle=pipeline.delivery_idle,
        )
        # Seeing and steering the running node: status views, audit, HTTP.
        self.operating = Operating(
            pipeline, self.store, self.runner, self.outbox, self.events,
            self._dispatcher, self._scp, controls=self, verdicts=self._dispatcher.verdicts,
        )  # fmt: skip
        self._started = False
        self._stopped = threading.Event()

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> Node:
        """Start workers, the dispatcher and the SCP; return self."""
        if self._started:
            raise RuntimeError("node already started")
        self._started = True
        self.operating.start()
        self.runner.start(self.pipeline, self._completion)
        self._dispatcher.start()
        self._recover()
        self.outbox.start()
        self._maintenance.start()
        try:
            self._scp.start()
        except OSError as exc:
            self.stop(timeout=5)
            raise NetworkError(
                f"cannot listen on {self.pipeline.host}:{self.pipeline.port}: {exc.strerror or exc}"
            ) from exc
        try:
            self.operating.serve()
        except NetworkError:
            self.stop(timeout=5)
            raise
        host, port = self.address
        log.info(
            "%s listening on %s:%d as %s (inputs: %s; data %s)",
            type(self.pipeline).__name__,
            host,
            port,
            self.pipeline.ae_title,
            ", ".join(self.pipeline.input_objects),
            "in memory only" if self.store.directory is None else f"in {self.store.directory}",
        )
        return self

    def _recover(self) -> None:
        """After a restart: take back unindexed files and check every waiting patient."""
        for path in self.store.take_orphans():
            self._receiver.adopt(path)
        resumed = self.outbox.load()
        if resumed:
            log.info("outbox: resuming %d deliveries from before the start", resumed)
        pending = self.store.pending()
        if pending:
            log.info("checking %d patients with data from before the start", len(pending))
            self._dispatcher.check(pending)

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the node listens on."""
        return self._scp.address

    @property
    def port(self) -> int:
        """The port the node listens on (the real one when started with port 0)."""
        return self.address[1]

    def stop(self, timeout: float | None = None) -> bool:
        """Stop gracefully: no new associations, let open ones end, finish jobs.

        Waits up to *timeout* seconds (default: the ``shutdown_timeout``
        setting) for open associations, then aborts the rest; then up to the
        remaining time for queued checks and running jobs. Returns True if
        everything finished in time.
        """
        if not self._started or self._stopped.is_set():
            return True
        self._stopped.set()
        budget = self.pipeline.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        log.info("stopping: no new associations; waiting up to %.0f s", budget)
        self.operating.stop_serving()
        self._scp.stop_accepting()
        if not _wait(lambda: self._scp.open_count() == 0, deadline):
            log.warning("stopping: aborting %d open associations", self._scp.open_count())
            self._scp.abort_all()
            _wait(lambda: self._scp.open_count() == 0, time.monotonic() + 5)
        self._completion.stopping.set()
        self._maintenance.stop()
        # The dispatcher closes before the runner stops: a job that ends
        # during the runner's stop asks for a check that is then left to the
        # next start instead of waiting in a queue nobody reads.
        self._dispatcher.stop(max(0.1, deadline - time.monotonic()))
        clean = self.runner.stop(max(0.1, deadline - time.monotonic()))
        self.outbox.stop(max(0.1, deadline - time.monotonic()))
        self.store.close()
        self.operating.close()
        log.info("stopped%s", "" if clean else " with jobs unfinished")
        return clean

    # -- operating ----------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """True while processing is paused; receiving goes on."""
        return self._dispatcher.paused

    def pause(self) -> bool:
        """Pause processing: ready patients wait, receiving goes on.

        Idempotent: True only for the call that paused.
        """
        changed = self._dispatcher.pause()
        if changed:
            log.warning("processing paused; receiving goes on")
        return changed

    def resume(self) -> bool:
        """Resume processing and check every waiting patient.

        Idempotent: True only for the call that resumed.
        """
        changed = self._dispatcher.resume()
        if changed:
            log.warning("processing resumed")
        return changed

    def force(self, patient: str) -> bool:
        """Process *patient*'s waiting data now, complete or not, even while paused.

        Returns False when the patient has no data waiting for a check (none
        at all, still being delivered, or its job is running).
        """
        if patient not in self.store.pending():
            return False
        log.warning("patient %r: processing forced by an operator", patient)
        self._dispatcher.force([patient], NOW)
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no association is open, no check queued and no job running.

        A patient in its quiet period counts too, until the check after it:
        so once idle, nothing more happens without new data (deadlines and
        expiry aside). False if *timeout* ran out first.
        """
        return self.activity.wait_idle(timeout)

    def __enter__(self) -> Node:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _wait(condition: Callable[[], bool], deadline: float) -> bool:
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
