"""Fixtures for the HTTP tests: a real node with its HTTP server on free loopback ports.

No ``__init__.py`` here on purpose: a test package named ``http`` would
shadow the standard library's ``http`` for every test that runs after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from dcmnode.node import Node
from dcmnode.testing import running


class Api:
    """An httpx client for one node's API, with and without the token."""

    def __init__(self, node: Node) -> None:
        service = node.operating.http
        assert service is not None, "the node serves no HTTP"
        self.node = node
        self.url = service.url
        self.token = service.token
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, headers={"X-Dcmnode-Token": self.token}, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str) -> dict[str, Any]:
        response = self.client.post(path, headers={"X-Dcmnode-Token": self.token})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def close(self) -> None:
        self.client.close()


@contextmanager
def serving(pipeline: type, **settings: Any) -> Iterator[Api]:
    """A node of *pipeline* with HTTP on a free loopback port, and a client for it."""
    settings.setdefault("http", True)
    settings.setdefault("http_port", 0)
    with running(pipeline, **settings) as node:
        api = Api(node)
        try:
            yield api
        finally:
            api.close()


@pytest.fixture
def serve() -> Callable[..., Any]:
    """``with serve(Pipeline, **settings) as api:`` -- a node with its API."""
    return serving
