"""`NodeStatus`: the narrow interface the HTTP API reads the running node through.

Every view is built from copies -- a store snapshot, the board's records,
the outbox's list -- taken under each owner's own short lock and rendered
outside every lock, so a status page never holds up receiving. Every action
goes through the owner's own method (the store's ``retry_failed`` and
``discard_failed``, the outbox's ``retry`` and ``discard``, the node's
``pause``, ``resume`` and ``force``), is idempotent (a second call finds
nothing to do and says so) and is written to the audit trail.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from dcmnode.network.association import AssociationContext
from dcmnode.node.audit import AuditTrail
from dcmnode.node.board import Board
from dcmnode.node.outbox import Outbox
from dcmnode.node.verdicts import Verdicts
from dcmnode.pipeline import Pipeline
from dcmnode.runners.base import Runner
from dcmnode.store.model import Snapshot
from dcmnode.store.protocol import Store

SECRET_WORDS = ("token", "password", "secret", "key")


class Controls(Protocol):
    """What the node offers for operating it (`dcmnode.node.Node` is one)."""

    @property
    def paused(self) -> bool:
        """True while processing is paused."""

    def pause(self) -> bool:
        """Pause processing; receiving goes on. True only for the call that paused."""

    def resume(self) -> bool:
        """Resume processing. True only for the call that resumed."""

    def force(self, patient: str) -> bool:
        """Process a waiting patient now; False when it has nothing waiting."""


@dataclass(frozen=True)
class Outcome:
    """What an action did: ``done`` False means there was nothing to do (idempotent)."""

    done: bool
    message: str


class NodeStatus:
    """Read-only views of a running node, and the operator's actions on it.

    Parameters
    ----------
    pipeline, store, runner, outbox :
        The node's parts.
    board : Board
        Jobs, associations and arrivals from the node's events.
    verdicts : Verdicts
        The dispatcher's last verdict per waiting patient.
    open_associations : callable
        The SCP's open associations (contexts with the calling AE and address).
    check : callable
        Queues readiness checks (the dispatcher's ``check``).
    controls : Controls
        Pause, resume and force.
    audit : AuditTrail
        Where actions are recorded.
    quiet_period : float
        The longest ``stable_after`` of the inputs.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        store: Store,
        runner: Runner,
        outbox: Outbox,
        board: Board,
        verdicts: Verdicts,
        open_associations: Callable[[], list[AssociationContext]],
        check: Callable[[list[str]], None],
        controls: Controls,
        audit: AuditTrail,
        quiet_period: float,
    ) -> None:
        self.pipeline = pipeline
        self.store = store
        self.runner = runner
        self.outbox = outbox
        self.board = board
        self.verdicts = verdicts
        self.open_associations = open_associations
        self.check = check
        self.controls = controls
        self.audit = audit
        self.quiet_period = quiet_period
        self.started = time.time()
        self.listening = False  # set by the node once its SCP accepts

    # -- views ------------------------------------------------------------------------

    def patients(self) -> list[dict[str, Any]]:
        """Every patient the store holds, with why its data is not processed yet."""
        due = {key: (gen, changed, started) for key, gen, changed, started in self.store.quiet()}
        delivering: dict[str, list[str]] = {}
        for record, context in self._associations():
            for patient in record["patients"]:
                delivering.setdefault(patient, []).append(context)
        paused = self.controls.paused
        views = []
        for status in self.store.patients():
            snapshot = self.store.snapshot(status.patient) if status.patient in due else None
            view: dict[str, Any] = {
                "patient": status.patient,
                "instances": status.collecting,
                "delivering": status.delivering,
                "running_job": status.running_job,
                "failed_jobs": [f.job_id for f in status.failed],
                "inputs": _inputs(snapshot),
                "generation": None if snapshot is None else snapshot.generation,
                "sender": None if snapshot is None else _sender(snapshot),
            }
            view["waiting_for"] = self._why(status.patient, status.collecting, status.running_job,
                                            delivering.get(status.patient, []),
                                            due.get(status.patient), paused)  # fmt: skip
            views.append(view)
        return views

    def _why(
        self,
        patient: str,
        collecting: int,
        running: str | None,
        senders: list[str],
        due: tuple[tuple[int, int], float, float] | None,
        paused: bool,
    ) -> list[str]:
        """Plain reasons, most important first; empty when a check is imminent."""
        if not collecting:
            return []
        reasons = [f"{who} still delivering" for who in senders]
        if running is not None:
            reasons.append(f"job {running} of earlier data still running")
        if due is not None:
            now = time.time()
            _, changed, started = due
            quiet_left = self.quiet_period - (now - changed)
            if quiet_left > 0:
                reasons.append(f"quiet period: {quiet_left:.0f} s left")
            verdict = self.verdicts.get(patient)
            if verdict is not None and verdict.reason != "quiet period":
                about = f" ({verdict.input})" if verdict.input else ""
                reasons.append(f"{verdict.reason}{about}")
            if self.pipeline.deadline and started:
                left = self.pipeline.deadline - (now - started)
                reasons.append(f"deadline in {max(0.0, left):.0f} s "
                               f"({self.pipeline.deadline_policy})")  # fmt: skip
        if paused:
            reasons.append("processing paused")
        return reasons

    def _associations(self) -> list[tuple[dict[str, Any], str]]:
        contexts = {c.id: c for c in self.open_associations()}
        views = []
        for record in self.board.associations():
            context = contexts.get(record.id)
            ae = context.sender.ae_title if context is not None else ""
            address = context.sender.address if context is not None else ""
            views.append(
                (
                    {"id": record.id, "calling_ae": ae, "address": address, "since": record.since,
                     "instances": record.instances, "patients": sorted(record.patients)},
                    f"association {record.id} ({ae or '?'}@{address or '?'})",
                )
            )  # fmt: skip
        return views

    def associations(self) -> list[dict[str, Any]]:
        """The associations open now: calling AE, address, since, instances, patients."""
        return [view for view, _ in self._associations()]

    def jobs(self, state: str | None = None) -> list[dict[str, Any]]:
        """Recent jobs (newest first), optionally only those in *state*."""
        records = reversed(self.board.jobs())
        return [r.summary() for r in records if state is None or r.state == state]

    def job(self, job_id: str) -> dict[str, Any] | None:
        """One job with its traceback and log records; None when unknown."""
        record = self.board.job(job_id)
        if record is not None:
            view = record.detail()
        else:  # a failed job from before this run is known to the store only
            failed = [f for f in self.store.failed() if f.job_id == job_id]
            if not failed:
                return None
            f = failed[0]
            sops = sorted({i.sop_instance_uid for group in f.inputs.values() for i in group})
            view = {"id": f.job_id, "patient": f.patient, "generation": f.generation,
                    "state": "failed", "ended": f.changed, "error": f.reason,
                    "reason": (f.reason.splitlines() or [""])[0],
                    "sops": sops, "instances": len(sops), "logs": []}  # fmt: skip
        view["retryable"] = any(f.job_id == job_id for f in self.store.failed())
        return view

    def failed_jobs(self) -> list[dict[str, Any]]:
        """The failed generations the store keeps (retry or discard them)."""
        return [
            {"id": f.job_id, "patient": f.patient, "generation": f.generation,
             "reason": f.reason.splitlines()[0] if f.reason else "", "failed": f.changed,
             "attempts": f.attempts,
             "instances": len({i.sop_instance_uid for g in f.inputs.values() for i in g})}
            for f in self.store.failed()
        ]  # fmt: skip

    def deliveries(self) -> list[dict[str, Any]]:
        """The outbox: every delivery held, its destinations, attempts and last error."""
        views = []
        for delivery, state, next_attempt in self.outbox.snapshot():
            delivered = {k: len(v) for k, v in list(delivery.delivered.items())}
            views.append(
                {"id": delivery.id, "job_id": delivery.job_id, "patient": delivery.patient,
                 "state": state, "instances": len(delivery.sops), "attempts": delivery.attempts,
                 "next_attempt": next_attempt, "last_error": delivery.last_error,
                 "destinations": [{"address": str(a), "delivered": delivered.get(str(a), 0)}
                                  for a in delivery.destinations]}
            )  # fmt: skip
        return views

    def disk(self) -> dict[str, Any]:
        """Free space in the data directory against the watermark."""
        directory = self.store.directory
        if directory is None:
            return {"directory": None, "free_mb": None, "min_free_mb": self.pipeline.min_free_mb,
                    "ok": True}  # fmt: skip
        free = shutil.disk_usage(directory).free // (1024 * 1024)
        return {"directory": str(directory), "free_mb": free,
                "min_free_mb": self.pipeline.min_free_mb,
                "ok": free >= self.pipeline.min_free_mb}  # fmt: skip

    def node(self) -> dict[str, Any]:
        """Version, settings (secrets masked), disk, runner, uptime, paused."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            release = version("dcmnode")
        except PackageNotFoundError:
            release = "unknown"
        stats = self.runner.stats()
        return {
            "version": release,
            "pipeline": type(self.pipeline).__name__,
            "settings": {k: _masked(k, v) for k, v in self.pipeline.settings().items()},
            "disk": self.disk(),
            "runner": {"type": type(self.runner).__name__, **_plain(vars(stats))},
            "uptime": time.time() - self.started,
            "paused": self.controls.paused,
        }

    def readiness(self) -> dict[str, bool]:
        """The checks behind ``/ready``: SCP listening, disk above the watermark, outbox alive."""
        return {
            "scp_listening": self.listening,
            "disk_ok": bool(self.disk()["ok"]),
            "outbox_alive": self.outbox.alive(),
        }

    # -- actions ----------------------------------------------------------------------

    def retry_job(self, job_id: str, who: str) -> Outcome:
        """Make a failed job's data due again (its patient is checked at once)."""
        failed = [f for f in self.store.failed() if f.job_id == job_id]
        # Only this job's data: the patient's other failures are not asked for.
        count = self.store.retry_failed(failed[0].patient, job_id) if failed else 0
        if count:
            self.check([failed[0].patient])
        return self._audited(
            who,
            "retry_job",
            job_id,
            count > 0,
            f"{count} instances due again",
            "not a failed job (any more)",
        )

    def discard_job(self, job_id: str, who: str) -> Outcome:
        """Delete a failed job's data for good."""
        failed = [f for f in self.store.failed() if f.job_id == job_id]
        count = self.store.discard_failed(failed[0].patient, job_id) if failed else 0
        return self._audited(
            who,
            "discard_job",
            job_id,
            count > 0,
            f"{count} instances deleted",
            "not a failed job (any more)",
        )

    def force(self, patient: str, who: str) -> Outcome:
        """Process a waiting patient now, complete or not."""
        done = self.controls.force(patient)
        return self._audited(
            who,
            "force",
            patient,
            done,
            "processing now",
            "nothing waiting for a check (delivering, running or no data)",
        )

    def retry_delivery(self, delivery_id: str, who: str) -> Outcome:
        """Queue a failed delivery again with fresh retries."""
        done = self.outbox.retry(delivery_id)
        return self._audited(
            who,
            "retry_delivery",
            delivery_id,
            done,
            "queued again",
            "not a failed delivery (any more)",
        )

    def discard_delivery(self, delivery_id: str, who: str) -> Outcome:
        """Delete a failed delivery and its result files."""
        done = self.outbox.discard(delivery_id)
        return self._audited(
            who,
            "discard_delivery",
            delivery_id,
            done,
            "deleted",
            "not a failed delivery (any more)",
        )

    def pause(self, who: str) -> Outcome:
        """Pause processing (receiving goes on)."""
        done = self.controls.pause()  # tested and set in one step: one racer wins
        return self._audited(who, "pause", "", done, "paused", "already paused")

    def resume(self, who: str) -> Outcome:
        """Resume processing."""
        done = self.controls.resume()
        return self._audited(who, "resume", "", done, "resumed", "not paused")

    def _audited(self, who: str, action: str, target: str, done: bool, yes: str,
                 no: str) -> Outcome:  # fmt: skip
        outcome = Outcome(done, yes if done else no)
        self.audit.action(who, action, target, outcome.done, outcome.message)
        return outcome


def _inputs(snapshot: Snapshot | None) -> dict[str, dict[str, int]]:
    if snapshot is None:
        return {}
    return {
        name: {"instances": len(group), "series": len({i.series_instance_uid for i in group})}
        for name, group in snapshot.inputs.items()
    }


def _sender(snapshot: Snapshot) -> str:
    return f"{snapshot.sender.ae_title}@{snapshot.sender.address}"


def _masked(name: str, value: Any) -> Any:
    if any(word in name.lower() for word in SECRET_WORDS) and value:
        return "***"
    return _plain(value)


def _plain(value: Any) -> Any:
    """*value* as JSON can hold it (addresses and other objects as text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
