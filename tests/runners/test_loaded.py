"""Pipelines loaded from a file, as `dcmnode run` does, on runners in other processes."""

from __future__ import annotations

import os
import textwrap

import pytest

from dcmnode.cli.run import load_pipeline
from dcmnode.testing import JobRecorder, running, series
from sending import store_all

PIPELINE = """
    import os
    from pathlib import Path

    from dcmnode import Input, Job, Pipeline
    from dcmnode.runners import {runner}


    class CT(Input):
        required_values = {{"Modality": "CT"}}


    class FromFile(Pipeline):
        ae_title = "NODE"
        inputs = {{"ct": CT}}
        runner = {runner}({arguments})
        probe: str = ""

        def process(self, job: Job) -> None:
            if job.patient_id == "BAD":
                raise RuntimeError("raised by a pipeline loaded from a file")
            Path(self.probe, job.patient_id).write_text(str(os.getpid()))
"""


def load(tmp_path, runner: str, arguments: str) -> type:
    source = tmp_path / "my_node.py"
    source.write_text(textwrap.dedent(PIPELINE.format(runner=runner, arguments=arguments)))
    return load_pipeline(str(source))


@pytest.mark.parametrize(
    ("runner", "arguments"),
    [("ProcessRunner", "workers=1, timeout=60"), ("DaskRunner", "local_workers=1")],
)
def test_a_pipeline_loaded_from_a_file_runs_elsewhere(tmp_path, runner, arguments):
    if runner == "DaskRunner":
        pytest.importorskip("distributed")
    cls = load(tmp_path, runner, arguments)
    assert cls._source is not None
    with running(cls, probe=str(tmp_path)) as node:
        jobs = JobRecorder(node)
        assert store_all(node, series("GOOD", count=2)) == [0, 0]
        assert store_all(node, series("BAD", count=2)) == [0, 0]
        assert node.wait_idle(60)
        assert [j.patient_id for j in jobs.finished] == ["GOOD"]
        [(_, error)] = jobs.failed
        assert "raised by a pipeline loaded from a file" in error
    assert int((tmp_path / "GOOD").read_text()) != os.getpid()
