"""``dcmnode status`` and ``dcmnode failed`` against a running node, through its API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dcmnode.cli.main import main
from dcmnode.testing import series
from pipelines import Recording
from sending import store_all


def test_status_prints_patients_jobs_and_deliveries(serve: Any, capsys: Any) -> None:
    with serve(Recording, fail_for=("S1",)) as api:
        store_all(api.node, series("S1", 2))
        api.node.wait_idle()
        assert main(["status", "--url", api.url]) == 0
    out = capsys.readouterr().out
    assert "Recording NODE" in out and "processing" in out
    assert "patients waiting (1)" in out and "S1: 0 instances" in out
    assert "failed" in out and "RuntimeError: model exploded on S1" in out


def test_failed_list_and_retry_act_on_the_running_node_found_from_its_directory(
    serve: Any, capsys: Any, tmp_path: Path
) -> None:
    with serve(Recording, fail_for=("S2",), data_directory=str(tmp_path)) as api:
        store_all(api.node, series("S2", 3))
        api.node.wait_idle()
        (job,) = api.get("/api/failed")
        assert main(["failed", "list", str(tmp_path)]) == 0
        assert job["id"] in capsys.readouterr().out
        api.node.pipeline.fail_for = ()
        assert main(["failed", "retry", str(tmp_path), "--job", job["id"]]) == 0
        assert "1 failed jobs due again now (on the running node" in capsys.readouterr().out
        api.node.wait_idle()
        assert api.get("/api/failed") == []
        assert [j["state"] for j in api.get("/api/jobs")] == ["finished", "failed"]
        assert main(["failed", "retry", str(tmp_path), "--job", job["id"]]) == 1  # idempotent
    # stopped: the same command works on the directory itself
    assert main(["failed", "list", str(tmp_path)]) == 0
    assert "no failed jobs" in capsys.readouterr().out


def test_a_wrong_token_is_refused_with_one_line_and_changes_nothing(
    serve: Any, capsys: Any
) -> None:
    with serve(Recording, fail_for=("S3",)) as api:
        store_all(api.node, series("S3", 2))
        api.node.wait_idle()
        code = main(["failed", "discard", "--url", api.url, "--token", "nope" * 5, "--all"])
        assert code == 2
        assert "the token was refused or missing" in capsys.readouterr().err
        assert len(api.get("/api/failed")) == 1
