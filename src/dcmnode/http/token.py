"""The API token: from a setting, or generated once and kept in the data directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE = "http-token"


def load_token(setting: str | None, directory: Path | None) -> tuple[str, Path | None]:
    """Return ``(token, file it is kept in)``.

    A token given as a setting wins (and no file is written). Otherwise the
    token in ``DIRECTORY/http-token`` is used, created with 0600 permissions
    at the first start; with no data directory a fresh token lives for this
    run only (the file is None).
    """
    if setting:
        return str(setting), None
    if directory is None:
        return secrets.token_urlsafe(32), None
    path = directory / FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    if text:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # someone loosened it: a token is a password
        return text, path
    token = secrets.token_urlsafe(32)
    directory.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two nodes started at once on one directory cannot both write.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip(), path
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    return token, path
