"""Helpers for testing pipelines: synthetic series, a recording SCP, a node on a free port."""

from dcmnode.testing.node import running
from dcmnode.testing.recorder import JobRecorder
from dcmnode.testing.scp import RecordingSCP
from dcmnode.testing.synthetic import series

__all__ = ["JobRecorder", "RecordingSCP", "running", "series"]
