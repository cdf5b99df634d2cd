"""Receive throughput: dcmnode's SCP against pynetdicom's and DCMTK's storescp.

One run, same machine, same data, same sender (DCMTK ``storescu``, so the
sender is never the bottleneck of a Python receiver). DCMTK's tools run with
``TCP_NODELAY=1`` in their environment: this Debian build leaves Nagle's
algorithm on otherwise, and storescu -> storescp then crawls at ~20
instances/s on one association -- that would flatter dcmnode unfairly. Each receiver stores
what it gets (dcmnode: in memory, or on disk with and without fsync; the
peers: files in a temporary folder). Prints instances per second and the
ratio to each peer.

    .venv/bin/python benchmarks/receive_throughput.py [--count 400] [--associations 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dcmnode import Input, Node, Pipeline
from dcmnode.network.address import Address
from dcmnode.network.scu import echo
from dcmnode.testing import series

DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}


class Never(Input):
    required_values = {"Modality": "CT"}

    def is_complete(self, datasets):  # type: ignore[no-untyped-def]
        return False  # measure receiving only


class Sink(Pipeline):
    ae_title = "BENCH"
    inputs = {"ct": Never}

    def process(self, job):  # type: ignore[no-untyped-def]
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if echo(Address("BENCH", "127.0.0.1", port), "PROBE", timeout=2) == 0:
                return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


@contextmanager
def dcmnode_receiver(data: Path | None, fsync: bool) -> Iterator[int]:
    settings = dict(host="127.0.0.1", port=0, max_associations=64)
    node = Node(Sink(**settings, data_directory=str(data) if data else None, fsync=fsync))
    with node:
        yield node.port


@contextmanager
def process_receiver(command: Callable[[int, Path], list[str]], out: Path) -> Iterator[int]:
    port = free_port()
    child = subprocess.Popen(command(port, out), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=DCMTK_ENV)  # fmt: skip
    try:
        wait_listening(port)
        yield port
    finally:
        child.terminate()
        child.wait(30)


def send(port: int, folders: list[Path]) -> float:
    """Send every folder on its own association, all at once; return seconds."""
    storescu = shutil.which("storescu")
    assert storescu, "DCMTK storescu is needed (apt-get install dcmtk)"
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                storescu,
                "-aec",
                "BENCH",
                "-aet",
                "SCANNER",
                "+sd",
                "127.0.0.1",
                str(port),
                str(folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=DCMTK_ENV,
        )  # fmt: skip
        for folder in folders
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"storescu failed: {err.decode(errors='replace')[-500:]}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="instances per run")
    parser.add_argument("--associations", type=int, default=4, help="parallel senders")
    parser.add_argument("--size", type=int, default=256, help="rows = columns of each image")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dcmnode-bench-"))
    try:
        folders = [work / "in" / str(i) for i in range(args.associations)]
        for folder in folders:
            folder.mkdir(parents=True)
        per = args.count // args.associations
        for i, folder in enumerate(folders):
            for ds in series(f"BENCH{i}", count=per, rows=args.size, columns=args.size):
                ds.save_as(folder / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
        total = per * args.associations
        storescp = shutil.which("storescp")
        receivers: dict[str, Callable[[Path], object]] = {
            "dcmnode (memory)": lambda out: dcmnode_receiver(None, False),
            "dcmnode (disk, fsync)": lambda out: dcmnode_receiver(out, True),
            "dcmnode (disk, no fsync)": lambda out: dcmnode_receiver(out, False),
            "pynetdicom storescp": lambda out: process_receiver(
                lambda port, o: [
                    sys.executable,
                    "-m",
                    "pynetdicom",
                    "storescp",
                    str(port),
                    "-aet",
                    "BENCH",
                    "-od",
                    str(o),
                ],
                out,
            ),  # fmt: skip
        }
        if storescp:
            receivers["DCMTK storescp"] = lambda out: process_receiver(
                lambda port, o: [storescp, "-aet", "BENCH", "-od", str(o), "--fork", str(port)],
                out,
            )
        rates: dict[str, float] = {}
        for name, make in receivers.items():
            out = work / name.replace(" ", "_").replace("(", "").replace(")", "").replace(",", "")
            out.mkdir()
            with make(out) as port:  # type: ignore[attr-defined]
                seconds = send(port, folders)
            rates[name] = total / seconds
            print(f"{name:26s} {total:5d} instances in {seconds:6.2f} s = {rates[name]:7.1f}/s",
                  flush=True)  # fmt: skip
        print()
        for peer in ("pynetdicom storescp", "DCMTK storescp"):
            if peer not in rates:
                continue
            for name, rate in rates.items():
                if name.startswith("dcmnode"):
                    print(f"{name:26s} / {peer:20s} = {rate / rates[peer]:5.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
