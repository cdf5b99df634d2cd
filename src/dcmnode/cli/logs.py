"""Logging of ``dcmnode run`` as the pipeline's settings ask: a rotating file, JSON lines.

The library never configures logging (DESIGN.md, house rule 7); the command
line does, here, once the pipeline's settings are known.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from pathlib import Path

from dcmnode.pipeline import Pipeline

MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": record.created,
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def log_path(pipeline: Pipeline) -> Path | None:
    """Where ``log_file`` points: relative names go into the data directory."""
    if not pipeline.log_file:
        return None
    path = Path(pipeline.log_file)
    if not path.is_absolute() and pipeline.data_directory is not None:
        path = Path(pipeline.data_directory) / path
    return path


def configure_node_logging(pipeline: Pipeline) -> Path | None:
    """Apply ``log_json`` and ``log_file`` to the root logger; return the log file, if any."""
    root = logging.getLogger()
    if pipeline.log_json:
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())
    path = log_path(pipeline)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    template = root.handlers[0].formatter if root.handlers else None
    handler.setFormatter(
        JsonFormatter() if pipeline.log_json else template or logging.Formatter(
            "%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )  # fmt: skip
    root.addHandler(handler)
    return path
