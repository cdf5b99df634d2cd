"""Event hooks a pipeline declares itself: ``on_<event>`` methods, for every node."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from dcmnode import Input, Job, Pipeline, PipelineError
from dcmnode.events import NAMES, Event
from dcmnode.testing import running, series
from sending import store_all
from support import Transcript, listening_port


class CT(Input):
    required_values = {"Modality": "CT"}


class Hooked(Pipeline):
    """Records every event it hooks; fails for patients in ``fail_for``."""

    ae_title = "NODE"
    inputs = {"ct": CT}
    fail_for: Any = ()
    seen: Any = None  # list of Events, shared with the test

    def process(self, job: Job) -> None:
        if job.patient_id in self.fail_for:
            raise RuntimeError(f"no model for {job.patient_id}")

    def _record(self, event: Event) -> None:
        self.seen.append(event)

    on_stored = on_job_finished = on_job_failed = on_association_closed = _record


def test_pipeline_methods_receive_their_events():
    seen: list[Event] = []
    with running(Hooked, seen=seen, fail_for=["SAD"]) as node:
        store_all(node, series("HAPPY", count=3))
        store_all(node, series("SAD", count=2))
        assert node.wait_idle(60)
    names = [event.name for event in seen]
    assert names.count("stored") == 5
    assert names.count("association_closed") == 2
    finished = [e for e in seen if e.name == "job_finished"]
    failed = [e for e in seen if e.name == "job_failed"]
    assert [e.job.patient_id for e in finished] == ["HAPPY"]
    assert [e.job.patient_id for e in failed] == ["SAD"]
    assert "no model for SAD" in failed[0].error
    assert {e.patient for e in seen if e.name == "stored"} == {"HAPPY", "SAD"}
    with pytest.raises(AttributeError, match="has no 'nonsense'"):
        _ = failed[0].nonsense


class Raising(Hooked):
    def on_stored(self, event: Event) -> None:
        raise ValueError("hook broke")


def test_a_raising_hook_is_logged_and_changes_nothing(caplog):
    seen: list[Event] = []
    with caplog.at_level(logging.ERROR, logger="dcmnode.events"):
        with running(Raising, seen=seen) as node:
            statuses = store_all(node, series("P1", count=4))
            assert node.wait_idle(60)
    assert statuses == [0] * 4
    assert [e.job.patient_id for e in seen if e.name == "job_finished"] == ["P1"]
    broken = [r for r in caplog.records if "stored failed" in r.getMessage()]
    assert len(broken) == 4 and "hook broke" in (broken[0].exc_text or "")


def test_a_misspelt_hook_is_refused_at_start():
    class Misspelt(Hooked):
        def on_job_faild(self, event: Event) -> None:
            pass

    with pytest.raises(PipelineError, match="did you mean on_job_failed"):
        Misspelt()


def test_a_setting_named_on_something_is_no_hook():
    class WithSetting(Hooked):
        on_call_email: str = "physicist@example.org"

    pipeline = WithSetting(on_call_email="other@example.org")
    assert pipeline.on_call_email == "other@example.org"


def test_every_event_can_be_hooked():
    methods = {f"on_{name}": Hooked._record for name in NAMES}
    everything = type("Everything", (Hooked,), methods)
    assert everything().seen is None  # constructed: every name is a known event


HOOKED_FILE = """\
from pathlib import Path

from dcmnode import Input, Pipeline


class CT(Input):
    required_values = {"Modality": "CT"}


class Hooked(Pipeline):
    ae_title = "NODE"
    inputs = {"ct": CT}
    marker: str = ""

    def process(self, job):
        return None

    def on_job_finished(self, event):
        Path(self.marker).write_text(f"{event.job.patient_id} {event.job.instance_count}")
"""


def test_hooks_work_under_dcmnode_run(tmp_path: Path):
    pipeline = tmp_path / "hooked.py"
    pipeline.write_text(textwrap.dedent(HOOKED_FILE))
    marker = tmp_path / "finished.txt"
    child = subprocess.Popen(
        [sys.executable, "-m", "dcmnode", "--log-level", "INFO", "run", str(pipeline),
         "--port", "0", "--set", f"marker={marker}", "--set", "data_directory=none"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        output = Transcript(child)
        port = listening_port(output.wait_for("listening on"))
        result = subprocess.run(
            [sys.executable, "-m", "dcmnode", "store", "127.0.0.1", str(port),
             *_files(tmp_path, series("RUN1", count=3)), "--aec", "NODE", "-q"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        output.wait_for("finished in")  # the job ran; its hook runs as it ends
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(60)
    assert child.returncode == 0, output.rest()
    assert marker.read_text() == "RUN1 3"


def _files(folder: Path, datasets: list[Any]) -> list[str]:
    paths = []
    for ds in datasets:
        path = folder / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths
