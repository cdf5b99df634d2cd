"""A pipeline for the kill -9 tests: complete at `expected` slices, logs each job to a file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dcmnode import Input, Job, Pipeline


class CT(Input):
    required_values = {"Modality": "CT"}

    def is_complete(self, datasets) -> bool:  # type: ignore[no-untyped-def]
        return len(datasets) >= int(os.environ.get("DURABLE_EXPECTED", "30"))


class Durable(Pipeline):
    ae_title = "DURABLE"
    inputs = {"ct": CT}
    results: str = "results.jsonl"
    fail_flag: str = ""  # while this file exists, every job fails

    def process(self, job: Job) -> None:
        if self.fail_flag and Path(self.fail_flag).exists():
            raise RuntimeError("failing on purpose while the flag file exists")
        record = {
            "job": job.id,
            "patient": job.patient_id,
            "sops": sorted(str(ds.SOPInstanceUID) for ds in job.datasets["ct"]),
            "pixels": all("PixelData" in ds for ds in job.datasets["ct"]),
        }
        with open(self.results, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
