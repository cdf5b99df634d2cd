"""``dcmnode run``: load a pipeline (``file.py[:Class]`` or ``package.module[:Class]``)."""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType, ModuleType

from dcmnode.errors import ConfigError
from dcmnode.pipeline import Pipeline
from dcmnode.runners.source import import_file, import_module

log = logging.getLogger("dcmnode.cli")


def load_pipeline(spec: str) -> type[Pipeline]:
    """Import *spec* and return the pipeline class it names.

    *spec* is ``PATH.py[:Class]`` (a file, run as a module of its own) or
    ``package.module[:Class]`` (an importable module, as uvicorn takes
    ``module:app``). With no class name the module must define exactly one
    `Pipeline` subclass.
    """
    target, class_name = _split(spec)
    path = Path(target)
    from_file = target.endswith(".py") or "/" in target or os.sep in target or path.is_file()
    module = import_file(path) if from_file else import_module(target)
    cls = _pipeline_class(module, target, class_name)
    if from_file:
        # Where the class came from, so that a runner can load it again in a
        # fresh process (the synthetic module name cannot be imported there).
        cls._source = f"{path.resolve()}:{cls.__name__}"
    return cls


def _split(spec: str) -> tuple[str, str]:
    # The last colon, and only before an identifier: "C:\\node.py" is a path.
    target, colon, name = spec.rpartition(":")
    return (target, name) if colon and name.isidentifier() else (spec, "")


def _pipeline_class(module: ModuleType, target: str, class_name: str) -> type[Pipeline]:
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
            raise ConfigError(f"{target} has no Pipeline subclass {class_name!r} (found: {known})")
        return found[class_name]
    if len(found) != 1:
        names = ", ".join(sorted(found)) or "none"
        raise ConfigError(
            f"{target} defines {len(found)} Pipeline subclasses ({names}); "
            f"name one as {target}:ClassName"
        )
    return next(iter(found.values()))


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
    if pipeline.http is None:  # not decided by the pipeline or a setting: serve it
        pipeline.http = True
    from dcmnode.cli.logs import configure_node_logging

    log_file = configure_node_logging(pipeline)
    if log_file is not None:
        print(f"dcmnode: logging to {log_file} (rotated)", flush=True)
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
    http = node.operating.http
    if http is not None:
        print(f"dcmnode: dashboard and API on {http.url} (token {http.token_source})", flush=True)
    while not stop.wait(1.0):
        pass
    clean = node.stop()
    return 0 if clean else 3


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``dcmnode run``."""
    run_ = sub.add_parser("run", help="run a pipeline as a DICOM node in the foreground")
    run_.add_argument(
        "pipeline", help="PATH.py[:ClassName] or an importable package.module[:ClassName]"
    )
    run_.add_argument("--host", help="interface to listen on (default: the pipeline's)")
    run_.add_argument("--port", type=int, help="port to listen on")
    run_.add_argument("--ae-title", help="the node's AE title")
    run_.add_argument("--config", help="TOML file with settings")
    run_.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a setting")
    run_.add_argument("--log-level", default=argparse.SUPPRESS, help="DEBUG, INFO, WARNING, ERROR")
    run_.set_defaults(func=run)
