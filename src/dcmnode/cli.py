"""The ``dcmnode`` command: run a node, echo, store, demo."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from dcmnode.errors import DcmnodeError
from dcmnode.network.address import Address

log = logging.getLogger("dcmnode.cli")


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


def _cmd_run(args: argparse.Namespace) -> int:
    from dcmnode.config import resolve
    from dcmnode.loader import load_pipeline
    from dcmnode.node import Node

    cls = load_pipeline(args.pipeline)
    assignments = list(args.set or [])
    for name in ("host", "port", "ae_title"):
        value = getattr(args, name)
        if value is not None:
            assignments.append(f"{name}={value}")
    pipeline = cls(**resolve(cls, args.config, None, assignments))
    node = Node(pipeline)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    node.start()
    host, port = node.address
    print(f"dcmnode: {cls.__name__} listening on {host}:{port} as {pipeline.ae_title}", flush=True)
    while not stop.wait(1.0):
        pass
    clean = node.stop()
    return 0 if clean else 3


def _address(args: argparse.Namespace) -> Address:
    return Address(args.aec, args.host, args.port)


def _cmd_echo(args: argparse.Namespace) -> int:
    from dcmnode.network.scu import echo

    status = echo(_address(args), args.aet, timeout=args.timeout)
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


def _cmd_store(args: argparse.Namespace) -> int:
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


def _cmd_failed(args: argparse.Namespace) -> int:
    import time

    from dcmnode.store import admin

    if args.action == "list":
        jobs = admin.failed_jobs(args.data_directory)
        deliveries = admin.failed_deliveries(args.data_directory)
        if not jobs and not deliveries:
            print("no failed jobs")
        for job in jobs:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.updated))
            first = job.reason.splitlines()[0] if job.reason else ""
            print(f"{job.job_id}  patient {job.patient!r}  {job.instances} instances  {when}")
            print(f"    {first}")
        for d in deliveries:
            print(
                f"{d.job_id}  patient {d.patient!r}  {d.instances} results not delivered to "
                f"{', '.join(d.destinations)} after {d.attempts} attempts"
            )
            print(f"    {d.error}")
        return 0
    if args.patient is None and args.job is None and not args.all:
        raise DcmnodeError(f"failed {args.action}: name --patient, --job or --all")
    if args.action == "retry":
        count = admin.retry(args.data_directory, args.patient, args.job)
        count += admin.retry_deliveries(args.data_directory, args.patient, args.job)
        print(f"{count} failed jobs due again at the next start")
    else:
        count = admin.discard(args.data_directory, args.patient, args.job)
        count += admin.discard_deliveries(args.data_directory, args.patient, args.job)
        print(f"{count} failed jobs deleted")
    return 0 if count else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from dcmnode.demo import run_demo

    return run_demo(args.pipeline, args.count)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dcmnode`` command."""
    parser = argparse.ArgumentParser(
        prog="dcmnode", description="Turn an image-processing function into a DICOM node."
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a pipeline as a DICOM node in the foreground")
    run.add_argument("pipeline", help="PATH.py or PATH.py:ClassName")
    run.add_argument("--host", help="interface to listen on (default: the pipeline's)")
    run.add_argument("--port", type=int, help="port to listen on")
    run.add_argument("--ae-title", help="the node's AE title")
    run.add_argument("--config", help="TOML file with settings")
    run.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a setting")
    run.add_argument("--log-level", default=argparse.SUPPRESS, help="DEBUG, INFO, WARNING, ERROR")
    run.set_defaults(func=_cmd_run)

    for name, helptext, func in (
        ("echo", "send a C-ECHO; exit 0 on success", _cmd_echo),
        ("store", "send DICOM files and folders with C-STORE", _cmd_store),
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

    failed = sub.add_parser(
        "failed", help="list, retry or discard failed jobs in a data directory (node stopped)"
    )
    failed.add_argument("action", choices=["list", "retry", "discard"])
    failed.add_argument("data_directory", help="the node's data_directory")
    failed.add_argument("--patient", help="only this patient's jobs")
    failed.add_argument("--job", help="only this job")
    failed.add_argument("--all", action="store_true", help="every failed job")
    failed.set_defaults(func=_cmd_failed)

    demo = sub.add_parser("demo", help="run a pipeline end to end on synthetic data")
    demo.add_argument(
        "pipeline", nargs="?", default=None, help="PATH.py[:Class] (default: the bundled demo)"
    )
    demo.add_argument("--count", type=int, default=24, help="slices in the synthetic CT")
    demo.set_defaults(func=_cmd_demo)

    try:
        from dcmnode import toolkit_cli
    except ImportError:
        pass
    else:
        toolkit_cli.register(sub)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
