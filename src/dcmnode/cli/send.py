"""``dcmnode echo`` and ``dcmnode store``: talk to another DICOM node."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dcmnode.errors import DcmnodeError
from dcmnode.network.address import Address


def _address(args: argparse.Namespace) -> Address:
    return Address(args.aec, args.host, args.port)


def echo(args: argparse.Namespace) -> int:
    """Send a C-ECHO; 0 on success."""
    from dcmnode.network.scu import echo as c_echo

    status = c_echo(_address(args), args.aet, timeout=args.timeout)
    if status == 0:
        print(f"C-ECHO to {_address(args)}: success")
        return 0
    print(f"C-ECHO to {_address(args)}: status 0x{status:04X}", file=sys.stderr)
    return 1


def _files(paths: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise DcmnodeError(f"{path}: no such file or directory")
    return found


def store(args: argparse.Namespace) -> int:
    """Send files and folders with C-STORE; print a count per status; 0 if all were stored."""
    from tqdm import tqdm

    from dcmnode.network.scu import send

    files = _files(args.paths)
    if not files:
        print("nothing to send", file=sys.stderr)
        return 1
    with tqdm(total=len(files), unit="file", disable=args.quiet, file=sys.stderr) as bar:
        report = send(
            files,
            _address(args),
            args.aet,
            progress=lambda item, status: bar.update(1),
            timeout=args.timeout,
        )
    for label, count in sorted(report.summary().items()):
        print(f"{count:6d}  {label}")
    for item, status in report.failed[:20]:
        print(
            f"failed: {item} ({'not sent' if status < 0 else f'0x{status:04X}'})", file=sys.stderr
        )
    if len(report.failed) > 20:
        print(f"... and {len(report.failed) - 20} more failures", file=sys.stderr)
    return 0 if report.ok else 1


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``dcmnode echo`` and ``dcmnode store``."""
    for name, helptext, func in (
        ("echo", "send a C-ECHO; exit 0 on success", echo),
        ("store", "send DICOM files and folders with C-STORE", store),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("host")
        cmd.add_argument("port", type=int)
        if name == "store":
            cmd.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
            cmd.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        cmd.add_argument("--aet", default="DCMNODE", help="our (calling) AE title")
        cmd.add_argument("--aec", default="ANY-SCP", help="their (called) AE title")
        cmd.add_argument("--timeout", type=float, default=30.0, help="seconds per exchange")
        cmd.set_defaults(func=func)
