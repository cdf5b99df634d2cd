"""The program a `ProcessRunner` job runs in: `main` with arguments DIR LOGFD LEVEL.

Reads ``DIR/job.pickle``, runs `dcmnode.runners.compute.compute` in DIR (its own
working directory) and writes ``DIR/result.pickle``. Log records go to the
file descriptor LOGFD as JSON lines, which the node re-logs under the job's
id; stdout and stderr are pipes the node reads line by line.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import pickle
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

JOB_FILE = "job.pickle"
RESULT_FILE = "result.pickle"


class _PipeHandler(logging.Handler):
    """One JSON line per record: multi-line messages and tracebacks stay one record."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = json.dumps(
                {"name": record.name, "level": record.levelno, "message": self.format(record)}
            )
            self.stream.write(line + "\n")
            self.stream.flush()
        except Exception:
            self.handleError(record)


def _setup_logging(log_fd: int, level: int) -> None:
    # A fresh interpreter that belongs to this job alone: configuring its
    # root logger touches nothing of the node.
    stream = os.fdopen(log_fd, "w", encoding="utf-8", errors="replace")
    root = logging.getLogger()
    root.handlers[:] = [_PipeHandler(stream)]
    root.setLevel(level)
    logging.captureWarnings(True)


def _run(workdir: Path) -> tuple[str, Any]:
    from dcmnode.runners.compute import compute, describe_error
    from dcmnode.runners.source import load_class

    try:
        with open(workdir / JOB_FILE, "rb") as file:
            path_list, payload = pickle.load(file)
        # The node's import path first, so pipelines from its test or
        # project folders unpickle by reference here too.
        sys.path[:0] = [p for p in path_list if p not in sys.path]
        source, settings, job = pickle.loads(payload)
        cls = load_class(source) if isinstance(source, str) else source
        pipeline = cls(**settings)
        return "ok", compute(pipeline, job)
    except BaseException as exc:  # noqa: BLE001 - everything becomes the job's error
        return "error", describe_error(exc)


def _die_with_the_node() -> None:
    """Kill this job's process group if the node process goes away (even by SIGKILL)."""
    node = os.getppid()

    def watch() -> None:
        while os.getppid() == node:
            time.sleep(1.0)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="dcmnode-node-watch", daemon=True).start()


def main() -> None:
    """Entry point of the job process."""
    workdir, log_fd, level = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    _die_with_the_node()
    faulthandler.enable()  # a segfault also leaves a Python traceback in the log
    _setup_logging(log_fd, level)
    result = _run(workdir)
    from dcmnode.runners.compute import describe_error

    temporary = workdir / (RESULT_FILE + ".tmp")
    try:
        data = pickle.dumps(result)
    except Exception as exc:
        data = pickle.dumps(("error", f"outputs cannot be sent back: {describe_error(exc)}"))
    temporary.write_bytes(data)
    temporary.rename(workdir / RESULT_FILE)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()


if __name__ == "__main__":
    main()
