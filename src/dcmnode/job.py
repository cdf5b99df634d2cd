"""`Job`: one claimed generation of one patient, on its way through `process`."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from dcmnode.network.association import Sender

_counter = itertools.count(1)


def new_job_id() -> str:
    """A job id unique within the host: time, process id and a counter."""
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{next(_counter)}"


@dataclass
class Job:
    """What ``Pipeline.process`` receives.

    Attributes
    ----------
    id : str
        Unique job id; every log line about the job names it.
    patient_id : str
        Value of the grouping attribute (``group_by``) of this patient.
    generation : int
        Which generation of the patient's data this job got.
    datasets : Mapping[str, list[Dataset]]
        Input name -> the raw datasets, sorted by InstanceNumber.
    inputs : dict[str, object]
        Input name -> what the input's grinder produced (default: the
        sorted datasets). Filled just before ``process`` runs.
    sender : Sender
        Calling AE title and IP of the last association that delivered data.
    created : float
        ``time.time()`` when the job was claimed.
    """

    id: str
    patient_id: str
    generation: int
    datasets: Mapping[str, list[Dataset]]
    sender: Sender
    inputs: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    paths: Mapping[str, list[str | None]] = field(default_factory=dict)
    """Input name -> file of each dataset (same order), for an on-disk store."""

    def load(self) -> None:
        """Replace header-only datasets by the full ones read from their files.

        Runs where the job runs, just before grinding, so that waiting
        patients never hold pixel data in memory. Idempotent.
        """
        from pydicom import dcmread

        loaded: dict[str, list[Dataset]] = {}
        for name, datasets in self.datasets.items():
            paths = self.paths.get(name, [])
            loaded[name] = [
                dcmread(path) if path else ds
                for ds, path in zip(datasets, paths or [None] * len(datasets), strict=True)
            ]
        self.datasets = loaded
        self.paths = {}

    @property
    def instance_count(self) -> int:
        """Number of distinct instances over all inputs."""
        return len({str(ds.SOPInstanceUID) for group in self.datasets.values() for ds in group})

    def __str__(self) -> str:
        return f"job {self.id} (patient {self.patient_id!r}, generation {self.generation})"
