"""Pipelines shared by the tests of the node, the store, the runners and the CLI."""

from __future__ import annotations

import threading
from typing import Any

from pydicom.dataset import Dataset

from dcmnode import Address, DicomOutput, Input, Job, NoOutput, Pipeline


class CT(Input):
    required_values = {"Modality": "CT"}


class PT(Input):
    required_values = {"Modality": "PT"}


class Recording(Pipeline):
    """Records every job's instances; optionally waits on a gate or raises."""

    ae_title = "NODE"
    inputs = {"ct": CT}
    gate: Any = None  # threading.Event the first job waits on, if set
    started: Any = None  # threading.Event set when a job starts
    fail_for: Any = ()  # patient ids whose job raises

    def process(self, job: Job) -> None:
        if self.started is not None:
            self.started.set()
        if self.gate is not None:
            self.gate.wait(60)
        if job.patient_id in self.fail_for:
            raise RuntimeError(f"model exploded on {job.patient_id}")
        return None


class TwoInputs(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": CT, "pt": PT}

    def process(self, job: Job) -> None:
        return None


class Echoing(Pipeline):
    """Sends the received CT back out unchanged to `destination`."""

    ae_title = "NODE"
    inputs = {"ct": CT}
    destination: Address | None = None

    def process(self, job: Job) -> DicomOutput | NoOutput:
        return DicomOutput(job.inputs["ct"], self.destination)


class Filtered(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": CT}

    def filter(self, dataset: Dataset) -> bool:
        return str(dataset.get("SeriesDescription", "")) != "reject me"

    def process(self, job: Job) -> None:
        return None


def make_gate() -> tuple[threading.Event, threading.Event]:
    return threading.Event(), threading.Event()
