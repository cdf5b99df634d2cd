"""``dcmnode failed list|retry|discard``: failed jobs and deliveries in a data directory.

``list`` only reads and may run beside a live node. ``retry`` and ``discard``
take the data directory's lock; while a node holds it they stop with one
line naming its PID (`DataDirectoryInUse`, printed by ``dcmnode``'s main).
"""

from __future__ import annotations

import argparse
import time

from dcmnode.errors import DcmnodeError


def failed(args: argparse.Namespace) -> int:
    """List, retry or discard what failed in a data directory."""
    from dcmnode.cli.status import failed_through_api, live_api
    from dcmnode.store import admin

    # A running node is asked through its API; a stopped one's directory is used directly.
    api = live_api(args.url, args.token, args.data_directory)
    if api is not None:
        return failed_through_api(api, args)
    if args.data_directory is None:
        raise DcmnodeError(f"failed {args.action}: give the data directory, or --url")
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


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``dcmnode failed``."""
    cmd = sub.add_parser(
        "failed",
        help="list, retry or discard failed jobs in a data directory "
        "(retry and discard refuse while a node uses it)",
    )
    cmd.add_argument("action", choices=["list", "retry", "discard"])
    cmd.add_argument(
        "data_directory", nargs="?", help="the node's data_directory (its running node's API "
        "is used when there is one)"
    )  # fmt: skip
    cmd.add_argument("--url", help="act on the node serving this HTTP API")
    cmd.add_argument("--token", help="the API token (default: $DCMNODE_HTTP_TOKEN or DATA_DIR's)")
    cmd.add_argument("--patient", help="only this patient's jobs")
    cmd.add_argument("--job", help="only this job")
    cmd.add_argument("--all", action="store_true", help="every failed job")
    cmd.set_defaults(func=failed)
