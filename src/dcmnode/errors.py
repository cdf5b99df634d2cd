"""One exception hierarchy for everything dcmnode raises on purpose."""

from __future__ import annotations


class DcmnodeError(Exception):
    """Base class of every error dcmnode raises on purpose."""


class ConfigError(DcmnodeError):
    """A setting is missing, unknown or has a bad value.

    The message always names the setting, so that a user who mistyped
    ``--set prot=104`` is told which name is wrong.
    """


class PipelineError(DcmnodeError):
    """The pipeline class itself is malformed (bad inputs, bad hook)."""


class ExportError(DcmnodeError):
    """An output could not be delivered (refused, unreachable, failed status)."""


class NetworkError(DcmnodeError):
    """An association could not be established or broke down."""


class MissingExtraError(DcmnodeError, ImportError):
    """A feature needs an optional dependency that is not installed.

    The message names the feature, the module that could not be imported and
    the command that installs it, e.g. ``pip install 'dcmnode[results]'``.
    Being an :class:`ImportError` too, it is caught by code that already
    handles a missing package.
    """
