"""Pipelines for the runner tests.

Module-level classes with plain settings, so that job processes and Dask
workers can re-create them; they coordinate through files, not Events.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dcmnode import Address, DicomOutput, Job, NoOutput, Pipeline
from dcmnode.runners import DaskRunner, ProcessRunner, QueueRunner
from pipelines import CT

log = logging.getLogger("tests.runners.job")

MEGABYTE_LINE = "x" * 1023  # 1 KiB with its newline


def misbehave(job: Job, probe: str) -> None:
    """What the patient's id asks for: the failure modes a research model has."""
    behaviour = job.patient_id
    if behaviour == "RAISE":
        raise ValueError("the model raised")
    if behaviour == "EXIT3":
        os._exit(3)
    if behaviour == "SEGV":
        ctypes.string_at(0)  # a real null-pointer read
    if behaviour.startswith("HANG") and behaviour != "HANGKIDS":
        if probe:
            Path(probe, "hanging").write_text(str(os.getpid()))
        time.sleep(600)
    if behaviour == "KILL9":  # what the kernel's OOM killer does
        os.kill(os.getpid(), signal.SIGKILL)
    if behaviour == "RESETLOG":  # a library that configures logging on import
        logging.basicConfig(level=logging.DEBUG, force=True)
        logging.getLogger().handlers.clear()
        logging.disable(logging.CRITICAL)
    if behaviour == "HANGKIDS":
        child = subprocess.Popen(["sleep", "600"])
        Path(probe, "grandchild").write_text(str(child.pid))
        time.sleep(600)
    if behaviour.startswith("PRINT"):
        for _ in range(10 * 1024):
            sys.stdout.write(MEGABYTE_LINE + "\n")
        sys.stderr.write("end of the chatter\n")
        log.warning("logged from the job, pid %d", os.getpid())
        if behaviour == "PRINTRAISE":
            raise RuntimeError("failed after printing 10 MB")
    if behaviour == "CWD" and probe:
        here = Path.cwd()
        assert here.is_dir() and here.name.startswith(job.id.replace(":", "_"))
        Path(probe, "cwd").write_text(str(here))
        Path("scratch.txt").write_text("written in the job's own directory")


class Misbehaving(Pipeline):
    """Runs every job in a fresh process, with no timeout.

    None: a job's time includes starting its interpreter, which on a busy
    machine can take longer than any short limit -- and each misbehaviour
    must end its job by itself, not at a timeout.
    """

    ae_title = "NODE"
    inputs = {"ct": CT}
    runner = ProcessRunner(workers=2)
    probe: str = ""  # a folder where the job leaves evidence

    def process(self, job: Job) -> None:
        misbehave(job, self.probe)


class TimingOut(Misbehaving):
    """`Misbehaving` with a timeout: long enough for a job process to start on a busy machine."""

    runner = ProcessRunner(workers=2, timeout=20)


class SlowProcess(Pipeline):
    """One worker, one waiting slot: backpressure with real processes."""

    ae_title = "NODE"
    inputs = {"ct": CT}
    runner = ProcessRunner(workers=1, queue_size=1, timeout=60)

    def process(self, job: Job) -> None:
        time.sleep(0.2)


class Sequential(Pipeline):
    """A QueueRunner pipeline that records what ran when, in the node process."""

    ae_title = "NODE"
    inputs = {"ct": CT}
    runner = QueueRunner()
    record: Any = None  # a list: ("setup", thread) and (patient, begin, end, thread) tuples
    gate: Any = None  # a threading.Event the first job waits on, if set
    started: Any = None

    def setup(self) -> None:
        self.record.append(("setup", threading.get_ident()))

    def priority(self, job: Job) -> float:
        return 0 if job.patient_id.startswith("URGENT") else 1

    def process(self, job: Job) -> None:
        # Begin and end are places in one sequence, not clock readings: jobs
        # that overlapped show as a begin between another job's begin and end.
        begin = next(_SEQUENCE)
        if self.started is not None:
            self.started.set()
        if self.gate is not None:
            self.gate.wait(60)
        time.sleep(0.05)  # the job's "work": room for an overlapping job to begin
        self.record.append((job.patient_id, begin, next(_SEQUENCE), threading.get_ident()))


_SEQUENCE = itertools.count()  # next() on it is atomic: one place per call, in call order


class Stamping(Pipeline):
    """Sends the CT back out with the pid of the process that ran the job."""

    ae_title = "NODE"
    inputs = {"ct": CT}
    runner = DaskRunner(local_workers=2)
    destination: Address | None = None

    def process(self, job: Job) -> DicomOutput | NoOutput:
        if job.patient_id == "RAISE":
            raise ValueError("the model raised on a worker")
        if job.patient_id == "SLOW":
            time.sleep(4)
        log.warning("stamping on a worker, pid %d", os.getpid())
        datasets = job.inputs["ct"]
        for ds in datasets:
            ds.SeriesDescription = f"pid {os.getpid()}"
        assert self.destination is not None
        return DicomOutput(datasets, self.destination)


def on_dask(address: str | None, **options: Any) -> type[Stamping]:
    """`Stamping` with a DaskRunner for *address* (the runner is a class attribute)."""
    runner = DaskRunner(address=address, **options)
    return type("StampingOnDask", (Stamping,), {"runner": runner})


class KeepingFailed(Misbehaving):
    """Keeps the working directory of a failed job."""

    runner = ProcessRunner(keep_failed=True)
