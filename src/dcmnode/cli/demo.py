"""``dcmnode demo``: a real node, a synthetic CT study, a receiving SCP -- end to end.

Starts the pipeline with ``dcmnode run`` in a child process, exactly as a
user would, sends it a synthetic CT series over the network and waits for
the derived series at a local receiving SCP, narrating each step.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from dcmnode.errors import DcmnodeError, NetworkError
from dcmnode.network.address import Address
from dcmnode.network.scu import echo, send
from dcmnode.testing.scp import RecordingSCP
from dcmnode.testing.synthetic import series

DEFAULT = Path(__file__).resolve().parents[3] / "examples" / "derive_ct.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _relay(stream: object, prefix: str) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sys.stdout.write(f"{prefix}{line}")
        sys.stdout.flush()


def _wait_for_echo(address: Address, child: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise DcmnodeError(f"the node exited with code {child.returncode} before answering")
        try:
            if echo(address, "DEMO", timeout=2) == 0:
                return
        except NetworkError:
            time.sleep(0.2)
    raise DcmnodeError(f"the node did not answer C-ECHO at {address} within {timeout:.0f} s")


def run_demo(pipeline: str | None = None, count: int = 24) -> int:
    """Run the demo; return 0 when the derived series arrived complete."""
    # The node is not up yet while we knock: pynetdicom would log every refusal.
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    spec = pipeline or str(DEFAULT)
    if pipeline is None and not DEFAULT.is_file():
        raise DcmnodeError(f"bundled example {DEFAULT} not found; pass a pipeline file")
    port = _free_port()
    with RecordingSCP("DEMO_PACS") as pacs, tempfile.TemporaryDirectory() as tmp:
        print(f"1. receiving SCP (the 'PACS') listening at {pacs.address}")
        command = [
            sys.executable, "-m", "dcmnode", "run", spec,
            "--port", str(port), "--host", "127.0.0.1",
            "--set", f"destination={pacs.address}",
            "--set", f"data_directory={Path(tmp) / 'data'}",
        ]  # fmt: skip
        print(f"2. starting the node: dcmnode run {spec} --port {port} "
              f"--set destination={pacs.address}")  # fmt: skip
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        relay = threading.Thread(target=_relay, args=(child.stdout, "   node | "), daemon=True)
        relay.start()
        try:
            return _exercise(spec, port, pacs, Path(tmp), child, count)
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(30)
                except subprocess.TimeoutExpired:
                    child.kill()
            relay.join(5)
            print(f"6. node stopped (exit code {child.returncode})")


def _exercise(
    spec: str,
    port: int,
    pacs: RecordingSCP,
    folder: Path,
    child: subprocess.Popen[str],
    count: int,
) -> int:
    from dcmnode.cli.run import load_pipeline

    ae_title = load_pipeline(spec).ae_title
    node = Address(ae_title, "127.0.0.1", port)
    _wait_for_echo(node, child, 60)
    print(f"3. node answers C-ECHO at {node}")
    sent = series("DEMO0001", count=count, patient_name="Demo^Patient", rows=64, columns=64)
    paths = []
    for ds in sent:
        path = folder / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    started = time.monotonic()
    report = send(paths, node, "DEMO_SCANNER")
    print(f"4. sent a synthetic CT series of {count} slices: {report.summary()}")
    if not report.ok:
        return 1
    if not pacs.wait_for(count, timeout=120):
        print(f"!! only {len(pacs.received)} of {count} derived instances arrived", flush=True)
        return 1
    elapsed = time.monotonic() - started
    received = pacs.received
    source_by_number = {int(ds.InstanceNumber): ds for ds in sent}
    changed = sum(
        not np.array_equal(ds.pixel_array, source_by_number[int(ds.InstanceNumber)].pixel_array)
        for ds in received
    )
    first = received[0]
    print(f"5. the PACS received the derived series in {elapsed:.1f} s:")
    print(f"     instances          {len(received)} (sent {count})")
    print(f"     patient            {first.PatientID} / {first.PatientName}")
    print(f"     same study         {first.StudyInstanceUID == sent[0].StudyInstanceUID}")
    print(f"     new series UID     {first.SeriesInstanceUID != sent[0].SeriesInstanceUID}")
    print(f"     series description {first.SeriesDescription!r}")
    print(f"     pixels changed in  {changed} of {len(received)} instances")
    ok = (
        len(received) == count
        and len({ds.SOPInstanceUID for ds in received}) == count
        and changed == count
    )
    print("   demo " + ("succeeded" if ok else "FAILED"))
    return 0 if ok else 1


def demo(args: argparse.Namespace) -> int:
    """``dcmnode demo``: run the demo with the command line's arguments."""
    return run_demo(args.pipeline, args.count)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``dcmnode demo``."""
    cmd = sub.add_parser("demo", help="run a pipeline end to end on synthetic data")
    cmd.add_argument(
        "pipeline", nargs="?", default=None, help="PATH.py[:Class] (default: the bundled demo)"
    )
    cmd.add_argument("--count", type=int, default=24, help="slices in the synthetic CT")
    cmd.set_defaults(func=demo)
