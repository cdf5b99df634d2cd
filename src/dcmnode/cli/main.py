"""The ``dcmnode`` command: its parser and entry point; each subcommand has a module."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dcmnode.cli import demo, failed, run, send, status, toolkit
from dcmnode.errors import DcmnodeError


def configure_logging(level: str) -> None:
    """Set up the root logger for the command line (the library never does)."""
    numeric = getattr(logging, level.upper(), None)
    if not isinstance(numeric, int):
        raise DcmnodeError(f"--log-level: unknown level {level!r}")
    logging.basicConfig(
        level=numeric,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pynetdicom narrates every PDU at INFO; keep it for debugging only.
    logging.getLogger("pynetdicom").setLevel(
        numeric if numeric <= logging.DEBUG else logging.WARNING
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dcmnode`` command."""
    parser = argparse.ArgumentParser(
        prog="dcmnode", description="Turn an image-processing function into a DICOM node."
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)
    run.add_parser(sub)
    send.add_parsers(sub)
    failed.add_parser(sub)
    status.add_parser(sub)
    demo.add_parser(sub)
    toolkit.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dcmnode`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        configure_logging(args.log_level)
        return int(args.func(args))
    except DcmnodeError as exc:
        print(f"dcmnode: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
