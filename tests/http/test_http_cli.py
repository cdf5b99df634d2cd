"""``dcmnode run`` serves the HTTP API by default and says where, and where the token is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "derive_ct.py"


def test_run_serves_the_api_says_where_the_token_is_and_logs_json_to_a_file(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    child = subprocess.Popen(
        [sys.executable, "-m", "dcmnode", "run", str(EXAMPLE), "--port", "0",
         "--set", f"data_directory={data}", "--set", "http_port=0",
         "--set", "log_file=node.log", "--set", "log_json=true"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ),
    )  # fmt: skip
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("dcmnode: dashboard and API on "):
                break
        else:
            raise AssertionError("no HTTP line")
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        assert f"(token kept in {data / 'http-token'})" in line
        token = (data / "http-token").read_text().strip()
        assert httpx.get(url + "/ready").json()["ready"] is True
        paused = httpx.post(url + "/api/pause", headers={"X-Dcmnode-Token": token})
        assert paused.json()["done"] is True
    finally:
        child.send_signal(signal.SIGTERM)
        output = child.communicate(timeout=60)[0]
    assert child.returncode == 0, output
    lines = [json.loads(line) for line in (data / "node.log").read_text().splitlines()]
    assert any("listening on" in entry["message"] for entry in lines)
    assert any(entry["message"] == "processing paused; receiving goes on" for entry in lines)
    assert {"time", "level", "logger", "thread", "message"} <= set(lines[0])
