"""The ASGI app: REST API, dashboard, metrics, health -- reading the node through `NodeStatus`.

Endpoints are plain (non-async) functions, so FastAPI runs them on its
thread pool: a view that waits for a store lock never blocks the event
loop, and no lock is held while JSON is rendered (views return copies).
"""

from __future__ import annotations

import ipaddress
import secrets
from importlib.resources import files
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from dcmnode.http.metrics import NodeMetrics
from dcmnode.node.status import NodeStatus, Outcome

TOKEN_HEADER = "X-Dcmnode-Token"
OPERATOR_HEADER = "X-Dcmnode-Operator"


def is_loopback(host: str) -> bool:
    """True when *host* is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Guard:
    """Checks the token: on every action, and on every request beyond loopback."""

    def __init__(self, token: str, everywhere: bool) -> None:
        self.token = token
        self.everywhere = everywhere

    def given(self, request: Request) -> bool:
        header = request.headers.get(TOKEN_HEADER, "")
        bearer = request.headers.get("Authorization", "")
        if bearer.lower().startswith("bearer "):
            header = header or bearer[7:].strip()
        return bool(header) and secrets.compare_digest(header.encode(), self.token.encode())

    def read(self, request: Request) -> None:
        if self.everywhere and not self.given(request):
            raise HTTPException(401, "a token is required (header X-Dcmnode-Token)")

    def act(self, request: Request) -> str:
        """Refuse an action without the token; return who acts (for the audit trail)."""
        if not self.given(request):
            raise HTTPException(401, "actions need the token (header X-Dcmnode-Token)")
        client = request.client.host if request.client else "?"
        operator = request.headers.get(OPERATOR_HEADER, "api")[:64]
        return f"{operator}@{client}"


def _outcome(outcome: Outcome) -> dict[str, Any]:
    return {"done": outcome.done, "message": outcome.message}


def create_app(status: NodeStatus, metrics: NodeMetrics, token: str, host: str) -> FastAPI:
    """The app for one node; *host* decides whether reads need the token too."""
    guard = _Guard(token, everywhere=not is_loopback(host))
    app = FastAPI(
        title="dcmnode", summary="Operate a running dcmnode node", docs_url=None, redoc_url=None
    )  # fmt: skip  (their pages load JS from a CDN)
    read = [Depends(guard.read)]

    @app.get("/health", dependencies=read, tags=["health"])
    def health() -> dict[str, str]:
        """The process serves."""
        return {"status": "ok"}

    @app.get("/ready", dependencies=read, tags=["health"])
    def ready() -> JSONResponse:
        """SCP listening, disk above the watermark, delivery thread alive (503 if not)."""
        checks = status.readiness()
        return JSONResponse({"ready": all(checks.values()), **checks},
                            status_code=200 if all(checks.values()) else 503)  # fmt: skip

    @app.get("/metrics", dependencies=read, tags=["metrics"])
    def prometheus() -> Response:
        """Prometheus text format."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    _add_views(app, status, read)
    _add_actions(app, status, guard)
    _add_dashboard(app)
    return app


def _add_views(app: FastAPI, status: NodeStatus, read: list[Any]) -> None:
    @app.get("/api/node", dependencies=read, tags=["views"])
    def node() -> dict[str, Any]:
        """Version, settings (secrets masked), disk, runner, uptime, paused."""
        return status.node()

    @app.get("/api/patients", dependencies=read, tags=["views"])
    def patients() -> list[dict[str, Any]]:
        """Patients held, per input counts, and why each is not processed yet."""
        return status.patients()

    @app.get("/api/jobs", dependencies=read, tags=["views"])
    def jobs(state: str | None = None) -> list[dict[str, Any]]:
        """Recent jobs, newest first; ``state``: queued, running, finished or failed."""
        return status.jobs(state)

    @app.get("/api/jobs/{job_id}", dependencies=read, tags=["views"])
    def job(job_id: str) -> dict[str, Any]:
        """One job with its traceback and its log records."""
        found = status.job(job_id)
        if found is None:
            raise HTTPException(404, f"no job {job_id}")
        return found

    @app.get("/api/failed", dependencies=read, tags=["views"])
    def failed() -> list[dict[str, Any]]:
        """Failed jobs whose data is kept (retry or discard them)."""
        return status.failed_jobs()

    @app.get("/api/deliveries", dependencies=read, tags=["views"])
    def deliveries() -> list[dict[str, Any]]:
        """The outbox: sending, waiting for a retry, failed."""
        return status.deliveries()

    @app.get("/api/associations", dependencies=read, tags=["views"])
    def associations() -> list[dict[str, Any]]:
        """Associations open now."""
        return status.associations()

    @app.get("/api/audit", dependencies=read, tags=["views"])
    def audit(patient: str | None = None, sop: str | None = None, job: str | None = None,
              kind: str | None = None, since: float | None = None,
              limit: int = 500) -> list[dict[str, Any]]:  # fmt: skip
        """The audit trail, newest first: where did this study go?"""
        status.audit.flush(5.0)
        return status.audit.query(patient, sop, job, kind, since, limit)


def _add_actions(app: FastAPI, status: NodeStatus, guard: _Guard) -> None:
    act = Depends(guard.act)

    @app.post("/api/jobs/{job_id}/retry", tags=["actions"])
    def retry_job(job_id: str, who: str = act) -> dict[str, Any]:
        """Make a failed job's data due again."""
        return _outcome(status.retry_job(job_id, who))

    @app.post("/api/jobs/{job_id}/discard", tags=["actions"])
    def discard_job(job_id: str, who: str = act) -> dict[str, Any]:
        """Delete a failed job's data for good."""
        return _outcome(status.discard_job(job_id, who))

    @app.post("/api/patients/{patient}/force", tags=["actions"])
    def force(patient: str, who: str = act) -> dict[str, Any]:
        """Process a waiting patient now, complete or not."""
        return _outcome(status.force(patient, who))

    @app.post("/api/deliveries/{delivery_id}/retry", tags=["actions"])
    def retry_delivery(delivery_id: str, who: str = act) -> dict[str, Any]:
        """Queue a failed delivery again with fresh retries."""
        return _outcome(status.retry_delivery(delivery_id, who))

    @app.post("/api/deliveries/{delivery_id}/discard", tags=["actions"])
    def discard_delivery(delivery_id: str, who: str = act) -> dict[str, Any]:
        """Delete a failed delivery and its results."""
        return _outcome(status.discard_delivery(delivery_id, who))

    @app.post("/api/pause", tags=["actions"])
    def pause(who: str = act) -> dict[str, Any]:
        """Pause processing; receiving goes on."""
        return _outcome(status.pause(who))

    @app.post("/api/resume", tags=["actions"])
    def resume(who: str = act) -> dict[str, Any]:
        """Resume processing."""
        return _outcome(status.resume(who))


def _add_dashboard(app: FastAPI) -> None:
    # The page is a shell without data: every number on it comes from the
    # API, with the token where one is needed.
    page = files("dcmnode.http").joinpath("dashboard.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(page)
