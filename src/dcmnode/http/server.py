"""`HttpServer`: uvicorn serving an ASGI app on a thread of its own, for the node."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import uvicorn

log = logging.getLogger("dcmnode.http")


class _Server(uvicorn.Server):
    """uvicorn's server that tells a waiting thread when it has started (or given up)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.attempted = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.attempted.set()


class HttpServer:
    """Serve *app* on (host, port) from a daemon thread; port 0 picks a free one.

    The socket is bound in `start`, on the caller's thread, so a port in use
    is an `OSError` there -- at the node's start, not later in a log line.
    uvicorn installs no signal handlers off the main thread, and with
    ``log_config=None`` it leaves the logging configuration alone.
    """

    def __init__(self, app: Any, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._socket: socket.socket | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        if self._socket is None:
            return self.host, self.port
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """``http://host:port`` (IPv6 hosts in brackets)."""
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self, timeout: float = 30.0) -> None:
        """Bind, start serving, and return once requests are answered."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._socket = sock
        config = uvicorn.Config(self.app, log_config=None, lifespan="off", server_header=False,
                                timeout_graceful_shutdown=2)  # fmt: skip
        server = self._server = _Server(config)
        self._thread = threading.Thread(
            target=self._run, args=(server, sock), name="dcmnode-http", daemon=True
        )
        self._thread.start()
        if not server.attempted.wait(timeout) or not server.started:
            self.stop()
            raise OSError(f"the HTTP server on {self.host}:{self.port} did not start")

    @staticmethod
    def _run(server: _Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException:  # SystemExit from a failed startup included: never kill silently
            log.exception("HTTP server stopped with an error")
        finally:
            server.attempted.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (open requests get a moment to finish) and close the socket."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
