"""``dcmnode run`` with an importable ``package.module:Class`` and with shadowing files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dcmnode.cli.run import load_pipeline
from dcmnode.errors import ConfigError

NODE = """
    from dcmnode import Input, Job, Pipeline


    class CT(Input):
        required_values = {"Modality": "CT"}


    class Mine(Pipeline):
        ae_title = "MINE"
        inputs = {"ct": CT}

        def process(self, job: Job) -> None:
            return None
"""


def package(root: Path) -> Path:
    """A package ``sites.nodes`` holding the pipeline ``Mine``; returns its parent folder."""
    folder = root / "project"
    (folder / "sites").mkdir(parents=True)
    (folder / "sites" / "__init__.py").write_text("")
    (folder / "sites" / "nodes.py").write_text(textwrap.dedent(NODE))
    return folder


def dcmnode(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dcmnode", *args], cwd=cwd, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip


def test_run_serves_a_class_named_by_its_module(tmp_path: Path) -> None:
    folder = package(tmp_path)
    child = dcmnode("run", "sites.nodes:Mine", "--port", "0", cwd=folder)
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("dcmnode:") and "listening on" in line:
                break
        else:
            raise AssertionError("node never listened")
        assert "Mine listening" in line and "as MINE" in line
    finally:
        child.send_signal(signal.SIGTERM)
        output = child.communicate(timeout=60)[0]
    assert child.returncode == 0, output


def test_a_module_spec_loads_in_process_and_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(package(tmp_path)))
    cls = load_pipeline("sites.nodes:Mine")
    assert cls.__name__ == "Mine" and cls.__module__ == "sites.nodes"
    assert load_pipeline("sites.nodes") is cls  # the one Pipeline in the module
    with pytest.raises(ConfigError, match=r"sites\.nodes has no Pipeline subclass 'Other'"):
        load_pipeline("sites.nodes:Other")
    with pytest.raises(ConfigError, match=r"no module named 'nowhere'"):
        load_pipeline("nowhere.nodes:Mine")


@pytest.mark.parametrize("shadow", ["numpy.py", "dask.py", "pydicom"])
def test_a_file_that_shadows_an_installed_package_is_named_at_start(
    tmp_path: Path, shadow: str
) -> None:
    # Run from elsewhere: `python -m` would put the folder itself first on
    # sys.path and Python would fail before dcmnode starts.
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "my_node.py").write_text(textwrap.dedent(NODE))
    if shadow.endswith(".py"):
        (folder / shadow).write_text("raise RuntimeError('not the real one')\n")
    else:
        (folder / shadow).mkdir()
        (folder / shadow / "__init__.py").write_text("")
    # An unknown setting makes the command end right after loading, whatever it loads.
    child = dcmnode("run", str(folder / "my_node.py"), "--set", "prot=1", cwd=tmp_path)
    output = child.communicate(timeout=120)[0]
    assert child.returncode == 2, output
    name = shadow.removesuffix(".py")
    assert f"{folder / shadow} shadows the installed package '{name}'" in output, output


def test_a_pipeline_file_named_like_a_package_is_named_at_start(tmp_path: Path) -> None:
    (tmp_path / "pipelines").mkdir()
    pipeline = tmp_path / "pipelines" / "dask.py"
    pipeline.write_text(textwrap.dedent(NODE).replace(
        "from dcmnode import", "from dcmnode.runners import DaskRunner\nfrom dcmnode import"
    ).replace('ae_title = "MINE"', 'ae_title = "MINE"\n    runner = DaskRunner()'))
    child = dcmnode("run", str(pipeline), cwd=tmp_path)
    output = child.communicate(timeout=120)[0]
    assert child.returncode == 2, output
    assert f"{pipeline} shadows the installed package 'dask'" in output, output
    assert "rename" in output


def test_a_module_named_pipeline_runs_in_a_process_runner_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dcmnode.testing import running, series
    from sending import store_all

    # A package name of its own: "sites" may already be imported from another test's folder.
    folder = tmp_path / "project"
    (folder / "workers").mkdir(parents=True)
    (folder / "workers" / "__init__.py").write_text("")
    (folder / "workers" / "elsewhere.py").write_text(textwrap.dedent("""
        import os
        from pathlib import Path

        from dcmnode import Input, Job, Pipeline
        from dcmnode.runners import ProcessRunner


        class CT(Input):
            required_values = {"Modality": "CT"}


        class Elsewhere(Pipeline):
            ae_title = "NODE"
            inputs = {"ct": CT}
            runner = ProcessRunner(workers=1, timeout=60)
            probe: str = ""

            def process(self, job: Job) -> None:
                Path(self.probe, job.patient_id).write_text(str(os.getpid()))
    """))  # fmt: skip
    monkeypatch.syspath_prepend(str(folder))
    cls = load_pipeline("workers.elsewhere:Elsewhere")
    assert cls._source is None  # importable by name: pickled by reference
    with running(cls, probe=str(tmp_path)) as node:
        assert store_all(node, series("MOD1", count=2)) == [0, 0]
        assert node.wait_idle(60)
    assert int((tmp_path / "MOD1").read_text()) != os.getpid()
