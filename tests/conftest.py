"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dcmnode.testing import RecordingSCP


@pytest.fixture
def destination() -> Iterator[RecordingSCP]:
    """A recording storage SCP on a free loopback port."""
    with RecordingSCP("DEST") as scp:
        yield scp
