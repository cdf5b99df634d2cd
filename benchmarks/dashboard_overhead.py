"""Ingest with the dashboard open and polling every second, against ingest without it.

Each run starts a fresh node (memory store by default, the most sensitive to
overhead: nothing else slows it down) whose patients never complete, so the
views it serves grow with every instance. "With": the HTTP server runs and a
poller fetches what the dashboard fetches every second (the page, node,
patients, jobs, deliveries, associations) plus a Prometheus scrape of
/metrics. "Without": the HTTP server is off. The two alternate (ABAB...,
starting side swapped each round) so drift on a shared machine hits both;
medians of the rates and their ratio are printed.

    .venv/bin/python benchmarks/dashboard_overhead.py [--count 800] [--repeat 5] [--disk]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from receive_throughput import Sink, send  # noqa: E402 - the same sender and sink as there

from dcmnode import Node  # noqa: E402
from dcmnode.testing import series  # noqa: E402

POLLED = ("/", "/api/node", "/api/patients", "/api/jobs", "/api/deliveries",
          "/api/associations", "/metrics")  # fmt: skip


def poll(url: str, token: str, stop: threading.Event, counts: list[int]) -> None:
    """Fetch the dashboard's reads once a second until *stop*."""
    while not stop.is_set():
        for path in POLLED:
            request = urllib.request.Request(url + path, headers={"X-Dcmnode-Token": token})
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            counts[0] += 1
        stop.wait(1.0)


def one_run(folders: list[Path], total: int, dashboard: bool, data: Path | None) -> float:
    settings = {"host": "127.0.0.1", "port": 0, "max_associations": 64, "fsync": False,
                "data_directory": str(data) if data else None,
                "http": dashboard, "http_port": 0}  # fmt: skip
    node = Node(Sink(**settings))
    stop = threading.Event()
    counts = [0]
    with node:
        poller = None
        if dashboard:
            service = node.operating.http
            poller = threading.Thread(target=poll, args=(service.url, service.token, stop, counts))
            poller.start()
        try:
            seconds = send(node.port, folders)
        finally:
            stop.set()
            if poller is not None:
                poller.join()
    if dashboard and counts[0] == 0:
        raise RuntimeError("the poller fetched nothing")
    return total / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=800, help="instances per run")
    parser.add_argument("--associations", type=int, default=4, help="parallel senders")
    parser.add_argument("--size", type=int, default=256, help="rows = columns of each image")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each side")
    parser.add_argument("--disk", action="store_true", help="a data directory, no fsync")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dcmnode-bench-"))
    try:
        folders = [work / "in" / str(i) for i in range(args.associations)]
        per = args.count // args.associations
        for i, folder in enumerate(folders):
            folder.mkdir(parents=True)
            for ds in series(f"DASH{i}", count=per, rows=args.size, columns=args.size):
                ds.save_as(folder / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
        total = per * args.associations
        rates: dict[bool, list[float]] = {True: [], False: []}
        for round_ in range(args.repeat):
            order = (True, False) if round_ % 2 == 0 else (False, True)
            for dashboard in order:
                data = work / f"data-{round_}-{dashboard}" if args.disk else None
                rate = one_run(folders, total, dashboard, data)
                rates[dashboard].append(rate)
                side = "with dashboard" if dashboard else "without"
                print(f"round {round_ + 1} {side:15s} {rate:8.1f} instances/s", flush=True)
        with_, without = statistics.median(rates[True]), statistics.median(rates[False])
        print(f"\nmedian with dashboard polled each second: {with_:8.1f}/s")
        print(f"median without HTTP server:               {without:8.1f}/s")
        print(f"ratio with / without: {with_ / without:.3f} ({(with_ / without - 1) * 100:+.1f} %)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
