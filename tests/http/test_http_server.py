"""The HTTP server's skeleton: started and stopped with the node, health, readiness, token."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from dcmnode.errors import NetworkError
from dcmnode.node import Node
from dcmnode.testing import running
from pipelines import Recording


def test_health_and_ready_answer_while_the_node_runs_and_stop_with_it(serve: Any) -> None:
    with serve(Recording) as api:
        assert httpx.get(api.url + "/health").json() == {"status": "ok"}
        ready = httpx.get(api.url + "/ready")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "scp_listening": True, "disk_ok": True,
                                "outbox_alive": True}  # fmt: skip
        url = api.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health")


def test_ready_says_503_when_the_disk_is_below_the_watermark(tmp_path: Path, serve: Any) -> None:
    # a watermark no disk can meet: receiving refuses, and /ready says why
    with serve(Recording, data_directory=str(tmp_path), min_free_mb=10**9) as api:
        ready = httpx.get(api.url + "/ready")
        assert ready.status_code == 503
        assert ready.json()["disk_ok"] is False


def test_a_node_built_in_code_serves_no_http_unless_asked() -> None:
    with running(Recording) as node:
        assert node.operating.http is None


def test_a_busy_http_port_is_a_clear_error_at_start(serve: Any) -> None:
    with serve(Recording) as api:
        port = int(api.url.rsplit(":", 1)[1])
        node = Node(Recording(data_directory=None, port=0, http=True, http_port=port))
        with pytest.raises(NetworkError, match=f"cannot serve HTTP on 127.0.0.1:{port}"):
            node.start()


def test_the_token_is_generated_once_into_the_data_directory_with_0600(
    tmp_path: Path, serve: Any
) -> None:
    with serve(Recording, data_directory=str(tmp_path)) as api:
        first = api.token
    path = tmp_path / "http-token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().strip() == first
    with serve(Recording, data_directory=str(tmp_path)) as api:
        assert api.token == first  # kept across restarts


def test_a_token_setting_wins_and_writes_no_file(tmp_path: Path, serve: Any) -> None:
    with serve(Recording, data_directory=str(tmp_path), http_token="x" * 20) as api:
        assert api.token == "x" * 20
    assert not (tmp_path / "http-token").exists()


def test_every_post_needs_the_token_and_a_refused_one_changes_nothing(serve: Any) -> None:
    with serve(Recording) as api:
        for headers in ({}, {"X-Dcmnode-Token": "wrong"}, {"Authorization": "Bearer wrong"}):
            response = httpx.post(api.url + "/api/pause", headers=headers)
            assert response.status_code == 401
            assert api.node.paused is False
        assert httpx.get(api.url + "/api/node").status_code == 200  # reads are open on loopback
        bearer = httpx.post(
            api.url + "/api/pause", headers={"Authorization": f"Bearer {api.token}"}
        )
        assert bearer.json() == {"done": True, "message": "paused"}
        assert api.node.paused is True


def test_beyond_loopback_every_request_needs_the_token(serve: Any) -> None:
    with serve(Recording, http_host="0.0.0.0") as api:
        port = api.url.rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"
        for path in ("/health", "/ready", "/metrics", "/api/node", "/api/patients"):
            assert httpx.get(url + path).status_code == 401, path
            ok = httpx.get(url + path, headers={"X-Dcmnode-Token": api.token})
            assert ok.status_code == 200, path


def test_the_openapi_schema_lists_views_and_actions_and_no_cdn_pages(serve: Any) -> None:
    with serve(Recording) as api:
        schema = httpx.get(api.url + "/openapi.json").json()
        for path in ("/api/patients", "/api/jobs", "/api/jobs/{job_id}", "/api/deliveries",
                     "/api/associations", "/api/node", "/api/audit", "/api/pause",
                     "/api/jobs/{job_id}/retry", "/api/patients/{patient}/force"):  # fmt: skip
            assert path in schema["paths"], path
        assert httpx.get(api.url + "/docs").status_code == 404  # Swagger UI loads from a CDN
