"""Runners: where jobs execute."""

from dcmnode.runners.base import Runner
from dcmnode.runners.thread import ThreadRunner

__all__ = ["Runner", "ThreadRunner"]
