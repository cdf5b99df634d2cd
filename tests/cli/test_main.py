"""The dcmnode command as a user runs it: real processes, real network."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from dcmnode.cli import main
from dcmnode.testing import RecordingSCP, running, series
from pipelines import Recording
from support import listening_port, read_until, reserved_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "derive_ct.py"


def dcmnode(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dcmnode", *args],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_echo_success_and_failure(capsys):
    with running(Recording) as node:
        assert main(["echo", "127.0.0.1", str(node.port), "--aec", "NODE"]) == 0
        assert "success" in capsys.readouterr().out
        # Wrong called AE title: the association is rejected -> clear error, non-zero.
        assert main(["echo", "127.0.0.1", str(node.port), "--aec", "WRONG"]) == 2
        assert "rejected" in capsys.readouterr().err
    with reserved_port() as port:  # held, never listening: refused, whatever else runs
        assert main(["echo", "127.0.0.1", str(port), "--timeout", "2"]) == 2


def test_store_folder_recursively_with_summary(tmp_path, capsys):
    datasets = series("CLI1", count=5)
    for index, ds in enumerate(datasets):
        folder = tmp_path / f"sub{index % 2}"
        folder.mkdir(exist_ok=True)
        ds.save_as(folder / f"{index}.dcm", enforce_file_format=True)
    (tmp_path / "notes.txt").write_text("not DICOM")
    with running(Recording) as node:
        code = main(["store", "127.0.0.1", str(node.port), str(tmp_path), "--aec", "NODE", "-q"])
        out, err = capsys.readouterr()
        assert node.wait_idle(30)
    assert code == 1  # the text file could not be sent
    assert "5  0x0000 stored" in out and "1  not sent" in out
    assert "notes.txt" in err


def test_store_reports_refusals(tmp_path, capsys):
    path = tmp_path / "mr.dcm"
    series("CLI2", count=1, modality="MR")[0].save_as(path, enforce_file_format=True)
    with running(Recording, unrouted="reject") as node:
        code = main(["store", "127.0.0.1", str(node.port), str(path), "--aec", "NODE", "-q"])
    assert code == 1
    assert "0xC102" in capsys.readouterr().out


def test_run_serves_until_sigterm_and_applies_settings(tmp_path):
    config = tmp_path / "node.toml"
    config.write_text('ae_title = "FROMTOML"\nworkers = 3\n')
    with RecordingSCP("PACS") as pacs:
        child = subprocess.Popen(
            [sys.executable, "-m", "dcmnode", "run", str(EXAMPLE), "--port", "0",
             "--config", str(config), "--set", f"destination={pacs.address}",
             "--ae-title", "FROMCLI", "--set", f"data_directory={tmp_path / 'data'}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "DCMNODE_WORKERS": "2"},
        )  # fmt: skip
        try:
            line = read_until(child, "listening on")  # it picked a free port; which one?
            port = listening_port(line)
            assert "as FROMCLI" in line  # CLI beats TOML
            folder = tmp_path / "in"
            folder.mkdir()
            sent = series("CLI3", count=6)
            for ds in sent:
                ds.save_as(folder / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
            store = dcmnode("store", "127.0.0.1", str(port), str(folder), "--aec", "FROMCLI", "-q")
            assert store.returncode == 0, store.stderr
            assert pacs.wait_for(6, timeout=60)
        finally:
            child.send_signal(signal.SIGTERM)
            output = child.communicate(timeout=60)[0]
        assert child.returncode == 0, output
        assert "received SIGTERM" in output and "stopped" in output


def test_run_rejects_bad_settings_naming_them(tmp_path):
    result = dcmnode("run", str(EXAMPLE), "--set", "prot=104")
    assert result.returncode == 2
    assert "unknown setting 'prot'" in result.stderr and "port" in result.stderr
    result = dcmnode("run", str(EXAMPLE), "--set", "workers=many")
    assert result.returncode == 2 and "'workers'" in result.stderr
    result = dcmnode("run", str(EXAMPLE), "--set", "destination=nowhere")
    assert result.returncode == 2 and "'destination'" in result.stderr
    result = dcmnode("run", str(EXAMPLE), "--ae-title", "A" * 17)
    assert result.returncode == 2 and "ae_title" in result.stderr
    missing = dcmnode("run", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    two = tmp_path / "two.py"
    two.write_text(
        "from dcmnode import Pipeline, Input\n"
        "class I(Input): pass\n"
        "class A(Pipeline):\n    inputs = {'i': I}\n    def process(self, job): pass\n"
        "class B(A): pass\n"
    )
    result = dcmnode("run", str(two))
    assert result.returncode == 2 and "A, B" in result.stderr


def test_demo_runs_end_to_end():
    result = dcmnode("demo", "--count", "8", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo succeeded" in result.stdout


def test_run_on_a_busy_port_or_unusable_data_directory_says_so(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = dcmnode(
            "run", str(EXAMPLE), "--port", str(port), "--set", f"data_directory={tmp_path / 'd'}"
        )
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = dcmnode("run", str(EXAMPLE), "--set", f"data_directory={blocker}")
    assert result.returncode == 2 and "data_directory: cannot use" in result.stderr
