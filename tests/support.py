"""Helpers shared by the test modules (importable because tests/ is on sys.path)."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_tool(name: str) -> str:
    """Path of a command-line tool; fails under CI=true, skips elsewhere, when missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package: see scripts/setup.sh)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A port that was free a moment ago (for external servers that need a number)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
