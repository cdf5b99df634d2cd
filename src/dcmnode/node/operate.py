"""`Operating`: what lets a person see and steer a running node -- board, audit, status, HTTP.

The node builds one next to its stages and calls `start`, `serve`,
`stop_serving` and `close` at the right moments of its own start and stop;
everything else about operating the node lives here and in
`dcmnode.http`, so the node's wiring stays short.
"""

from __future__ import annotations

import logging
from typing import Any

from dcmnode.errors import NetworkError
from dcmnode.events import EventBus
from dcmnode.network.scp import StorageSCP
from dcmnode.node.audit import AuditTrail
from dcmnode.node.board import Board
from dcmnode.node.dispatch import Dispatcher
from dcmnode.node.outbox import Outbox
from dcmnode.node.status import Controls, NodeStatus
from dcmnode.node.verdicts import Verdicts
from dcmnode.node.webhooks import Webhooks
from dcmnode.pipeline import Pipeline
from dcmnode.runners.base import Runner
from dcmnode.store.protocol import Store

log = logging.getLogger("dcmnode.node")


class Operating:
    """The board of recent jobs, the audit trail, the status views and the HTTP server."""

    def __init__(
        self,
        pipeline: Pipeline,
        store: Store,
        runner: Runner,
        outbox: Outbox,
        bus: EventBus,
        dispatcher: Dispatcher,
        scp: StorageSCP,
        controls: Controls,
        verdicts: Verdicts | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.bus = bus
        self.board = Board(bus)
        self.verdicts = verdicts if verdicts is not None else Verdicts()
        self.audit = AuditTrail(store.directory, pipeline.audit_days, scp.sender)
        self.audit.subscribe(bus)
        self.status = NodeStatus(
            pipeline, store, runner, outbox, self.board, self.verdicts, scp.associations,
            dispatcher.check, controls, self.audit, dispatcher.quiet_period,
        )  # fmt: skip
        self.http: Any = None  # an HttpService once serving
        self.webhooks: Webhooks | None = None
        if pipeline.webhook_url:
            self.webhooks = Webhooks(pipeline.webhook_url, pipeline.webhook_events,
                                     pipeline.ae_title)  # fmt: skip
            self.webhooks.subscribe(bus)

    def start(self) -> None:
        """Start the audit writer and collect the job log records."""
        self.audit.start()
        if self.webhooks is not None:
            self.webhooks.start()
        logging.getLogger("dcmnode").addHandler(self.board.log_handler)

    def serve(self) -> None:
        """The SCP listens: say so in ``/ready``, and start the HTTP server if asked.

        Raises `NetworkError` when the HTTP port cannot be had.
        """
        self.status.listening = True
        if not self.pipeline.http:
            return
        from dcmnode.http.service import HttpService

        http = HttpService(self.pipeline, self.status, self.bus, self.status.store.directory)
        try:
            http.start()
        except OSError as exc:
            raise NetworkError(
                f"cannot serve HTTP on {self.pipeline.http_host}:{self.pipeline.http_port}: "
                f"{exc.strerror or exc}"
            ) from exc
        self.http = http

    def stop_serving(self) -> None:
        """The node stops accepting: not ready any more, and the HTTP server goes."""
        self.status.listening = False
        if self.http is not None:
            self.http.stop()

    def close(self) -> None:
        """After the node's stages stopped: write out the audit trail."""
        logging.getLogger("dcmnode").removeHandler(self.board.log_handler)
        if self.webhooks is not None:
            self.webhooks.stop()
        self.audit.stop()
