"""The default quiet period: what it costs and buys when a modality sends image by image.

For each setting of ``quiet_period`` (0 and the default, 2 s) a node with the
default completeness rule receives one series, each image on an association
of its own (as some modalities send). Printed per setting, median over the
repeats:

- jobs: how many jobs the one series became (1 is right; more means the
  series was processed early, in pieces);
- checks: how often ``is_complete`` ran, and its total time;
- latency: seconds from the last image's answer to the start of the job
  that had every image.

The settings run in rotating order so that a noisy machine does not favour
one of them.

    .venv/bin/python benchmarks/quiet_period.py [--count 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Sequence

from pydicom.dataset import Dataset

from dcmnode import Address, Input, Job, Node, Pipeline, events
from dcmnode.inputs.base import contiguous_instance_numbers
from dcmnode.network.scu import send
from dcmnode.testing import series

_calls: list[float] = []
_calls_lock = threading.Lock()


class Counted(Input):
    required_values = {"Modality": "CT"}

    def is_complete(self, datasets: Sequence[Dataset]) -> bool:
        start = time.perf_counter()
        try:
            return contiguous_instance_numbers(datasets)
        finally:
            with _calls_lock:
                _calls.append(time.perf_counter() - start)


class Modality(Pipeline):
    ae_title = "BENCH"
    inputs = {"ct": Counted}

    def process(self, job: Job) -> None:
        return None


def one_run(count: int, quiet_period: float) -> tuple[int, int, float, float]:
    """(jobs, checks, seconds in checks, latency) for one series of *count* associations."""
    with _calls_lock:
        _calls.clear()
    starts: list[tuple[float, int]] = []
    node = Node(Modality(port=0, data_directory=None, quiet_period=quiet_period))
    node.events.on(
        events.JOB_STARTED, lambda job: starts.append((time.monotonic(), job.instance_count))
    )
    with node:
        address = Address(node.pipeline.ae_title, "127.0.0.1", node.port)
        for ds in series("MODALITY", count=count):
            report = send([ds], address, "SCANNER")
            assert report.ok, report.summary()
        last_answer = time.monotonic()
        assert node.wait_idle(300)
    with _calls_lock:
        checks, spent = len(_calls), sum(_calls)
    complete = [at for at, instances in starts if instances == count]
    latency = complete[0] - last_answer if complete else float("nan")
    return len(starts), checks, spent, latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = [0.0, Modality.quiet_period]
    results: dict[float, list[tuple[int, int, float, float]]] = {q: [] for q in settings}
    for repeat in range(args.repeats):
        order = settings[repeat % 2 :] + settings[: repeat % 2]
        for quiet in order:
            results[quiet].append(one_run(args.count, quiet))
    print(
        f"one series of {args.count} images, one association per image; medians of {args.repeats}"
    )
    print(f"{'quiet_period':>12} {'jobs':>5} {'checks':>7} {'check s':>8} {'latency s':>10}")
    for quiet, runs in results.items():
        columns = zip(*runs, strict=True)
        jobs, checks, spent, latency = (statistics.median(column) for column in columns)
        print(f"{quiet:>12.1f} {jobs:>5.0f} {checks:>7.0f} {spent:>8.3f} {latency:>10.2f}")


if __name__ == "__main__":
    main()
