"""A pipeline whose jobs a test holds and releases through files (for other processes).

Each job marks a ``busy`` file while ``process`` runs; a job that finds it
already there leaves an ``overlap`` file: two jobs ran at once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from dcmnode import Job, Pipeline
from dcmnode.runners import DaskRunner
from pipelines import CT


class Gated(Pipeline):
    """Patient ``STUCK`` waits for a ``release`` file in *probe*; the others do not wait."""

    ae_title = "NODE"
    inputs = {"ct": CT}
    probe: str = ""

    def process(self, job: Job) -> None:
        probe = Path(self.probe)
        try:
            os.close(os.open(probe / "busy", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            (probe / "overlap").write_text(job.patient_id)
        try:
            (probe / f"entered-{job.patient_id}").touch()
            if job.patient_id == "STUCK":
                # A hung model, as seen from the node; bounded so a broken test ends.
                deadline = time.monotonic() + 120
                while not (probe / "release").exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            (probe / "busy").unlink(missing_ok=True)


def gated_on_dask(address: str, **options: Any) -> type[Gated]:
    """`Gated` with a DaskRunner for *address*."""
    return type("GatedOnDask", (Gated,), {"runner": DaskRunner(address=address, **options)})
