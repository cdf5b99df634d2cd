"""Shared fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from dcmnode.testing import RecordingSCP

# Every `dcmnode run` a test starts serves its HTTP API on a free port, never
# on the fixed default that test runs going on at the same time would share.
os.environ.setdefault("DCMNODE_HTTP_PORT", "0")


@pytest.fixture
def destination() -> Iterator[RecordingSCP]:
    """A recording storage SCP on a free loopback port."""
    with RecordingSCP("DEST") as scp:
        yield scp
