"""``dcmnode run``: load a pipeline from ``path/to/file.py[:ClassName]`` and serve it."""

from __future__ import annotations

import argparse
import inspect
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from dcmnode.errors import ConfigError
from dcmnode.pipeline import Pipeline
from dcmnode.runners.source import import_file

log = logging.getLogger("dcmnode.cli")


def load_pipeline(spec: str) -> type[Pipeline]:
    """Import *spec* (``file.py`` or ``file.py:Class``) and return the pipeline class.

    With no class name the file must define exactly one `Pipeline` subclass.
    """
    path_text, _, class_name = spec.partition(":")
    path = Path(path_text)
    module = import_file(path)
    found = {
        name: obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, Pipeline)
        and obj is not Pipeline
        and obj.__module__ == module.__name__
    }
    if class_name:
        if class_name not in found:
            known = ", ".join(sorted(found)) or "none"
            raise ConfigError(f"{path} has no Pipeline subclass {class_name!r} (found: {known})")
        cls = found[class_name]
    elif len(found) != 1:
        names = ", ".join(sorted(found)) or "none"
        raise ConfigError(
            f"{path} defines {len(found)} Pipeline subclasses ({names}); "
            f"name one as {path}:ClassName"
        )
    else:
        cls = next(iter(found.values()))
    # Where the class came from, so that a runner can load it again in a
    # fresh process (the synthetic module name cannot be imported there).
    cls._source = f"{path.resolve()}:{cls.__name__}"
    return cls


def run(args: argparse.Namespace) -> int:
    """Serve the pipeline until SIGTERM or SIGINT; 0 after a clean stop, 3 otherwise."""
    from dcmnode.node import Node
    from dcmnode.settings import resolve

    cls = load_pipeline(args.pipeline)
    assignments = list(args.set or [])
    for name in ("host", "port", "ae_title"):
        value = getattr(args, name)
        if value is not None:
            assignments.append(f"{name}={value}")
    pipeline = cls(**resolve(cls, args.config, None, assignments))
    node = Node(pipeline)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    node.start()
    host, port = node.address
    print(f"dcmnode: {cls.__name__} listening on {host}:{port} as {pipeline.ae_title}", flush=True)
    while not stop.wait(1.0):
        pass
    clean = node.stop()
    return 0 if clean else 3


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``dcmnode run``."""
    run_ = sub.add_parser("run", help="run a pipeline as a DICOM node in the foreground")
    run_.add_argument("pipeline", help="PATH.py or PATH.py:ClassName")
    run_.add_argument("--host", help="interface to listen on (default: the pipeline's)")
    run_.add_argument("--port", type=int, help="port to listen on")
    run_.add_argument("--ae-title", help="the node's AE title")
    run_.add_argument("--config", help="TOML file with settings")
    run_.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a setting")
    run_.add_argument("--log-level", default=argparse.SUPPRESS, help="DEBUG, INFO, WARNING, ERROR")
    run_.set_defaults(func=run)
