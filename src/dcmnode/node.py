"""`Node`: wires a pipeline to the SCP, the store, the dispatcher and a runner."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

from dcmnode import events
from dcmnode.activity import Activity
from dcmnode.dispatch import Dispatcher
from dcmnode.errors import NetworkError
from dcmnode.events import EventBus
from dcmnode.execution import JobCompletion
from dcmnode.maintenance import Maintenance
from dcmnode.network.scp import StorageSCP
from dcmnode.outbox import Outbox
from dcmnode.pipeline import Pipeline
from dcmnode.routing import AssociationContext, Router
from dcmnode.runners.base import Runner
from dcmnode.runners.thread import ThreadRunner
from dcmnode.store.disk import DiskStore
from dcmnode.store.memory import MemoryStore

log = logging.getLogger("dcmnode.node")


class Node:
    """A running DICOM node for one pipeline.

    Parameters
    ----------
    pipeline : Pipeline
        A configured pipeline instance.
    store : MemoryStore, optional
        The store; a new in-memory store by default.

    Examples
    --------
    >>> with Node(MyPipeline(port=0)) as node:      # doctest: +SKIP
    ...     print(node.address)
    """

    def __init__(self, pipeline: Pipeline, store: MemoryStore | None = None) -> None:
        self.pipeline = pipeline
        if store is None:
            store = (
                MemoryStore()
                if pipeline.data_directory is None
                else DiskStore(
                    pipeline.data_directory, pipeline.fsync, pipeline.min_free_mb * 1024 * 1024
                )
            )
        self.store = store
        self.events = EventBus()
        self.activity = Activity()
        self.runner: Runner = pipeline.runner or ThreadRunner(pipeline.workers, pipeline.queue_size)
        self._router = Router(pipeline, self.store, self.events)
        self._dispatcher = Dispatcher(
            self.store, pipeline.input_objects, self.runner.submit, self.activity, self.events
        )
        self._maintenance = Maintenance(
            self.store,
            self._dispatcher,
            pipeline.maintenance_interval,
            pipeline.expire_after,
            pipeline.deadline,
            pipeline.deadline_policy,
        )
        self.outbox = Outbox(
            self.store.directory / "outbox" if isinstance(self.store, DiskStore) else None,
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
            on_open=self._opened,
            on_store=self._router.receive,
            on_close=self._closed,
            require_called_ae=pipeline.require_called_ae,
            allowed_calling_aes=pipeline.allowed_calling_aes,
            max_associations=pipeline.max_associations,
            network_timeout=pipeline.network_timeout,
        )
        self._maintenance.sweep = self._scp.sweep
        self._started = False
        self._stopped = threading.Event()

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> Node:
        """Start workers, the dispatcher and the SCP; return self."""
        if self._started:
            raise RuntimeError("node already started")
        self._started = True
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
        host, port = self.address
        log.info(
            "%s listening on %s:%d as %s (inputs: %s; data %s)",
            type(self.pipeline).__name__,
            host,
            port,
            self.pipeline.ae_title,
            ", ".join(self.pipeline.input_objects),
            f"in {self.store.directory}" if isinstance(self.store, DiskStore) else "in memory only",
        )
        return self

    def _recover(self) -> None:
        """After a restart: take back unindexed files and check every waiting patient."""
        if isinstance(self.store, DiskStore):
            for path in self.store.orphans:
                self._router.adopt(path)
            self.store.orphans = []
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
        self._scp.stop_accepting()
        if not _wait(lambda: self._scp.open_count() == 0, deadline):
            log.warning("stopping: aborting %d open associations", self._scp.open_count())
            self._scp.abort_all()
            _wait(lambda: self._scp.open_count() == 0, time.monotonic() + 5)
        self._maintenance.stop()
        self._dispatcher.stop(max(0.1, deadline - time.monotonic()))
        clean = self.runner.stop(max(0.1, deadline - time.monotonic()))
        self.outbox.stop(max(0.1, deadline - time.monotonic()))
        if isinstance(self.store, DiskStore):
            self.store.close()
        log.info("stopped%s", "" if clean else " with jobs unfinished")
        return clean

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no association is open, no check queued and no job running."""
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

    # -- SCP callbacks --------------------------------------------------------------

    def _opened(self, context: AssociationContext) -> None:
        self.activity.begin()
        self.store.open_association(context.id)
        log.debug("%s: connection opened", context)
        self.events.emit(events.ASSOCIATION_OPENED, association=context.id)

    def _closed(self, context: AssociationContext) -> None:
        quiet = self.store.close_association(context.id)
        # Count the follow-up checks before the connection stops counting, so
        # the node never looks idle in between.
        self._dispatcher.check(quiet)
        if context.stored or context.refused:
            refused = ", ".join(f"0x{k:04X}: {v}" for k, v in sorted(context.refused.items()))
            log.info(
                "%s: closed; %d stored%s",
                context,
                context.stored,
                f", refused {refused}" if refused else "",
            )
        self.events.emit(events.ASSOCIATION_CLOSED, association=context.id)
        self.activity.end()


def _wait(condition: object, deadline: float) -> bool:
    assert callable(condition)
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
