"""``dcmnode status`` and the live half of ``dcmnode failed``: a running node through its API.

Only the standard library's ``urllib`` is used, so the command line needs no
extra. A running node with a data directory notes its API's URL in
``DATA_DIR/http.json`` and keeps its token in ``DATA_DIR/http-token``;
``dcmnode failed ... DATA_DIR`` uses them to act on the running node instead
of on its directory (which the node holds locked).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dcmnode.errors import DcmnodeError

DEFAULT_URL = "http://127.0.0.1:11180"
TOKEN_ENV = "DCMNODE_HTTP_TOKEN"


class Api:
    """A small JSON client for one node's API."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def _call(self, method: str, path: str) -> Any:
        headers = {"X-Dcmnode-Token": self.token} if self.token else {}
        request = urllib.request.Request(self.url + path, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            if exc.code == 401:
                detail = f"the token was refused or missing (--token or ${TOKEN_ENV})"
            raise DcmnodeError(f"{method} {self.url}{path}: {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DcmnodeError(f"cannot reach the node at {self.url}: {reason}") from None

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", path)
        return result


def _token(given: str | None, directory: str | None) -> str | None:
    if given:
        return given
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    if directory:
        try:
            return (Path(directory) / "http-token").read_text(encoding="ascii").strip()
        except OSError:
            return None
    return None


def live_api(url: str | None, token: str | None, directory: str | None) -> Api | None:
    """The API of the node to talk to: the *url* given, or the one running on *directory*.

    None when no URL is given and no node answers for the directory (it is
    stopped: act on the directory itself).
    """
    if url:
        return Api(url, _token(token, directory))
    if not directory:
        return None
    try:
        note = json.loads((Path(directory) / "http.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    api = Api(str(note["url"]), _token(token, directory))
    try:
        api.get("/health")
    except DcmnodeError:
        return None  # a note left by a node that died: the directory is free
    return api


def _when(t: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) if t else "-"


def status(args: argparse.Namespace) -> int:
    """Print what the node holds: waiting patients, jobs, deliveries, associations."""
    if args.url is None and args.data_directory:
        api = live_api(None, args.token, args.data_directory)
        if api is None:
            raise DcmnodeError(f"no node with an HTTP API is running on {args.data_directory}")
    else:
        api = Api(args.url or DEFAULT_URL, _token(args.token, args.data_directory))
    node = api.get("/api/node")
    disk = node["disk"]
    free = "" if disk["free_mb"] is None else f", {disk['free_mb']} MB free"
    state = "PAUSED" if node["paused"] else "processing"
    print(f"{node['pipeline']} {node['settings']['ae_title']} (dcmnode {node['version']}), "
          f"up {node['uptime']:.0f} s, {state}{free}")  # fmt: skip
    _section("patients waiting", api.get("/api/patients"), _patient)
    _section("jobs", api.get("/api/jobs")[: args.limit], _job)
    _section("deliveries", api.get("/api/deliveries"), _delivery)
    _section("associations", api.get("/api/associations"), _association)
    return 0


def _section(title: str, rows: list[dict[str, Any]], line: Callable[[Any], str]) -> None:
    print(f"\n{title} ({len(rows)})")
    for row in rows:
        print("  " + line(row))


def _patient(p: dict[str, Any]) -> str:
    why = "; ".join(p["waiting_for"]) or "due for a check"
    failed = f"; failed jobs {', '.join(p['failed_jobs'])}" if p["failed_jobs"] else ""
    return f"{p['patient']}: {p['instances']} instances; {why}{failed}"


def _job(j: dict[str, Any]) -> str:
    took = f"  {j['duration']:.2f} s" if j["duration"] is not None else ""
    reason = f"\n      {j['reason']}" if j["reason"] else ""
    return f"{j['id']}  {j['patient']}  {j['state']}  {j['instances']} instances{took}{reason}"


def _delivery(d: dict[str, Any]) -> str:
    where = ", ".join(
        f"{x['address']} {x['delivered']}/{d['instances']}" for x in d["destinations"]
    )
    error = f"\n      {d['last_error']}" if d["last_error"] else ""
    return (f"{d['id']}  {d['patient']}  {d['state']}  attempts {d['attempts']}  "
            f"next {_when(d['next_attempt'])}  {where}{error}")  # fmt: skip


def _association(a: dict[str, Any]) -> str:
    return (f"{a['id']}  {a['calling_ae']}@{a['address']} since {_when(a['since'])}: "
            f"{a['instances']} instances for {', '.join(a['patients']) or '-'}")  # fmt: skip


def failed_through_api(api: Api, args: argparse.Namespace) -> int:
    """``dcmnode failed list|retry|discard`` on a running node."""
    jobs = api.get("/api/failed")
    deliveries = [d for d in api.get("/api/deliveries") if d["state"] == "failed"]
    if args.action == "list":
        if not jobs and not deliveries:
            print("no failed jobs")
        for job in jobs:
            print(f"{job['id']}  patient {job['patient']!r}  {job['instances']} instances  "
                  f"{_when(job['failed'])}\n    {job['reason']}")  # fmt: skip
        for d in deliveries:
            print(f"{d['job_id']}  patient {d['patient']!r}  {d['instances']} results not "
                  f"delivered after {d['attempts']} attempts\n    {d['last_error']}")  # fmt: skip
        return 0
    if args.patient is None and args.job is None and not args.all:
        raise DcmnodeError(f"failed {args.action}: name --patient, --job or --all")

    def chosen(patient: str, job_id: str) -> bool:
        return (args.patient is None or patient == args.patient) and (
            args.job is None or job_id == args.job
        )

    count = 0
    for job in jobs:
        if chosen(job["patient"], job["id"]):
            count += api.post(f"/api/jobs/{_quote(job['id'])}/{args.action}")["done"]
    for d in deliveries:
        if chosen(d["patient"], d["job_id"]):
            count += api.post(f"/api/deliveries/{_quote(d['id'])}/{args.action}")["done"]
    done = "due again now" if args.action == "retry" else "deleted"
    print(f"{count} failed jobs {done} (on the running node at {api.url})")
    return 0 if count else 1


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``dcmnode status``."""
    cmd = sub.add_parser("status", help="what a running node holds: patients, jobs, deliveries")
    cmd.add_argument("--url", help=f"the node's HTTP API (default: {DEFAULT_URL})")
    cmd.add_argument("--token", help=f"the API token (default: ${TOKEN_ENV} or DATA_DIR's)")
    cmd.add_argument("--data-directory", help="the node running on this data directory")
    cmd.add_argument("--limit", type=int, default=20, help="jobs to show (newest first)")
    cmd.set_defaults(func=status)
