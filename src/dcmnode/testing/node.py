"""`running`: a node for a pipeline on a free loopback port, as a context manager."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dcmnode.node import Node
from dcmnode.pipeline import Pipeline


@contextmanager
def running(pipeline_class: type[Pipeline], **settings: Any) -> Iterator[Node]:
    """Start *pipeline_class* on 127.0.0.1 and a free port; stop it afterwards.

    Settings are passed to the pipeline; ``host`` and ``port`` default to
    loopback and 0 (a free port), ``shutdown_timeout`` to 10 seconds,
    ``data_directory`` to None (memory only) and ``quiet_period`` to 0 (a
    test sends whole series and waits with ``node.wait_idle()``; pass
    ``quiet_period`` to test the pipeline's timing) unless given.
    """
    settings.setdefault("data_directory", None)
    settings.setdefault("quiet_period", 0.0)
    settings.setdefault("host", "127.0.0.1")
    settings.setdefault("port", 0)
    settings.setdefault("shutdown_timeout", 10.0)
    node = Node(pipeline_class(**settings))
    node.start()
    try:
        yield node
    finally:
        node.stop()
