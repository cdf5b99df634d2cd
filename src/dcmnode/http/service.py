"""`HttpService`: token, metrics, app and server of one node, started and stopped together."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from dcmnode.events import EventBus
from dcmnode.extras import require
from dcmnode.node.status import NodeStatus
from dcmnode.pipeline import Pipeline

log = logging.getLogger("dcmnode.http")

ENDPOINT_FILE = "http.json"
"""Where a running node says its API's URL, so `dcmnode failed` can find it (no secret)."""


class HttpService:
    """The HTTP server of one node.

    Parameters
    ----------
    pipeline : Pipeline
        ``http_host``, ``http_port`` and ``http_token``.
    status : NodeStatus
        What the API reads and acts on.
    bus : EventBus
        The node's events, for the metrics.
    directory : Path or None
        The data directory, where a generated token is kept.

    Raises
    ------
    MissingExtraError
        Without the ``web`` extra.
    """

    def __init__(
        self, pipeline: Pipeline, status: NodeStatus, bus: EventBus, directory: Path | None
    ) -> None:
        require("web", "fastapi", "the HTTP server (setting http)")
        require("web", "uvicorn", "the HTTP server (setting http)")
        require("web", "prometheus_client", "the HTTP server's /metrics")
        from dcmnode.http.app import create_app
        from dcmnode.http.metrics import NodeMetrics
        from dcmnode.http.server import HttpServer
        from dcmnode.http.token import load_token

        self.token, self.token_file = load_token(pipeline.http_token, directory)
        if pipeline.http_token:
            self.token_source = "from the setting http_token"
        elif self.token_file is not None:
            self.token_source = f"kept in {self.token_file}"
        else:
            # no data directory to keep it in: say it, or nobody could act
            self.token_source = f"for this run only: {self.token}"
        self.metrics = NodeMetrics(bus, status)
        app = create_app(status, self.metrics, self.token, pipeline.http_host)
        self.server = HttpServer(app, pipeline.http_host, pipeline.http_port)
        self.directory = directory

    @property
    def url(self) -> str:
        """Where the API and dashboard are served."""
        return self.server.url

    def start(self) -> None:
        """Bind and serve; `OSError` when the port cannot be had."""
        self.server.start()
        if self.directory is not None:
            endpoint = self.directory / ENDPOINT_FILE
            temp = endpoint.with_suffix(".tmp")
            temp.write_text(json.dumps({"url": self.url, "pid": os.getpid()}), encoding="utf-8")
            os.replace(temp, endpoint)
        log.info("HTTP API and dashboard on %s (token %s)", self.url, self.token_source)

    def stop(self) -> None:
        """Stop serving, and take back the note of where."""
        self.server.stop()
        if self.directory is not None:
            (self.directory / ENDPOINT_FILE).unlink(missing_ok=True)
