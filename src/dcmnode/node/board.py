"""`Board`: what the node's events say about jobs and associations, kept for status pages.

The store knows which data waits; it forgets a job once it has ended well,
and it never knew who is connected since when. The board subscribes to the
node's events and keeps that picture: recent jobs with their state,
durations, error and log records, open associations with what they brought,
and the last arrival per patient (for the trigger latency). Every handler
takes the board's own lock for one dict update -- never the store's -- so
the receive path pays next to nothing, and readers get copies.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

from dcmnode import events
from dcmnode.events import EventBus
from dcmnode.job import Job

LOG_RECORDS_PER_JOB = 200


@dataclass
class JobRecord:
    """One job as the status pages show it."""

    id: str
    patient: str
    generation: int
    state: str  # queued | running | finished | failed
    sender: str
    sops: tuple[str, ...]
    queued: float
    started: float | None = None
    ended: float | None = None
    duration: float | None = None
    error: str | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The job without its SOP list, error text and log (for lists)."""
        return {
            "id": self.id,
            "patient": self.patient,
            "generation": self.generation,
            "state": self.state,
            "sender": self.sender,
            "instances": len(self.sops),
            "queued": self.queued,
            "started": self.started,
            "ended": self.ended,
            "duration": self.duration,
            "reason": None if self.error is None else self.error.splitlines()[0],
        }

    def detail(self) -> dict[str, Any]:
        """Everything, including the traceback and the job's log records."""
        return {**self.summary(), "sops": list(self.sops), "error": self.error,
                "logs": list(self.logs)}  # fmt: skip


@dataclass
class AssociationRecord:
    """An open association: since when, what it brought, for whom."""

    id: int
    since: float
    instances: int = 0
    patients: set[str] = field(default_factory=set)


class Board:
    """Recent jobs, open associations and last arrivals, fed by the node's events.

    Parameters
    ----------
    bus : EventBus
        The node's events.
    keep : int
        Ended jobs kept for the status pages (the oldest go first).
    """

    def __init__(self, bus: EventBus, keep: int = 1000) -> None:
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, JobRecord] = OrderedDict()
        self._associations: dict[int, AssociationRecord] = {}
        # Patient -> last arrival, newest last; bounded like the jobs, so a node
        # that sees a new patient every minute for months does not grow with them.
        self._arrivals: OrderedDict[str, float] = OrderedDict()
        self._keep = keep
        self._keep_arrivals = 10 * keep
        self.log_handler = _JobLogHandler(self)
        bus.on(events.ASSOCIATION_OPENED, self._opened)
        bus.on(events.ASSOCIATION_CLOSED, self._closed)
        bus.on(events.STORED, self._stored)
        bus.on(events.JOB_QUEUED, self._queued)
        bus.on(events.JOB_STARTED, self._started)
        bus.on(events.JOB_FINISHED, self._finished)
        bus.on(events.JOB_FAILED, self._failed)

    # -- event handlers (any node thread) -------------------------------------------

    def _opened(self, association: int) -> None:
        with self._lock:
            self._associations[association] = AssociationRecord(association, time.time())

    def _closed(self, association: int) -> None:
        with self._lock:
            self._associations.pop(association, None)

    def _stored(self, association: int, patient: str, **_: Any) -> None:
        now = time.time()
        with self._lock:
            self._arrivals[patient] = now
            self._arrivals.move_to_end(patient)
            if len(self._arrivals) > self._keep_arrivals:
                self._arrivals.popitem(last=False)
            record = self._associations.get(association)
            if record is not None:
                record.instances += 1
                record.patients.add(patient)

    def _queued(self, job: Job) -> None:
        sops = tuple(
            str(ds.get("SOPInstanceUID", "")) for group in job.datasets.values() for ds in group
        )
        sender = f"{job.sender.ae_title}@{job.sender.address}"
        record = JobRecord(
            job.id, job.patient_id, job.generation, "queued", sender, sops, time.time()
        )
        with self._lock:
            self._jobs[job.id] = record
            self._trim()

    def _started(self, job: Job) -> None:
        with self._lock:
            record = self._jobs.get(job.id)
            if record is not None:
                record.state, record.started = "running", time.time()

    def _finished(self, job: Job, duration: float) -> None:
        self._end(job, "finished", duration, None)

    def _failed(self, job: Job, duration: float, error: str) -> None:
        self._end(job, "failed", duration, error)

    def _end(self, job: Job, state: str, duration: float, error: str | None) -> None:
        with self._lock:
            record = self._jobs.get(job.id)
            if record is None:  # failed at its deadline: never queued
                record = JobRecord(job.id, job.patient_id, job.generation, state, "", (),
                                   time.time())  # fmt: skip
                self._jobs[job.id] = record
            record.state, record.ended = state, time.time()
            record.duration, record.error = duration, error
            self._jobs.move_to_end(job.id)
            self._trim()

    def _trim(self) -> None:
        while len(self._jobs) > self._keep:
            oldest = next(iter(self._jobs))
            if self._jobs[oldest].state in ("queued", "running"):
                break  # never forget live work; ended jobs are behind it soon
            del self._jobs[oldest]

    def add_log(self, job_id: str, entry: dict[str, Any]) -> None:
        """Attach a log record to a job the board knows (others are ignored)."""
        with self._lock:
            record = self._jobs.get(job_id)
            if record is not None and len(record.logs) < LOG_RECORDS_PER_JOB:
                record.logs.append(entry)

    # -- reading --------------------------------------------------------------------

    def jobs(self) -> list[JobRecord]:
        """Copies of the jobs, oldest first."""
        with self._lock:
            return [replace(r, logs=list(r.logs)) for r in self._jobs.values()]

    def job(self, job_id: str) -> JobRecord | None:
        """A copy of one job, or None."""
        with self._lock:
            record = self._jobs.get(job_id)
            return None if record is None else replace(record, logs=list(record.logs))

    def associations(self) -> list[AssociationRecord]:
        """Copies of the open associations."""
        with self._lock:
            return [replace(r, patients=set(r.patients)) for r in self._associations.values()]

    def last_arrival(self, patient: str) -> float | None:
        """``time.time()`` of the patient's last stored instance this run, if any."""
        with self._lock:
            return self._arrivals.get(patient)

    def known_job(self, job_id: str) -> bool:
        """True when *job_id* is on the board (cheap check for the log handler)."""
        return job_id in self._jobs


class _JobLogHandler(logging.Handler):
    """Copies log records that name a job (a `Job` or a known job id argument) to it."""

    def __init__(self, board: Board) -> None:
        super().__init__(logging.INFO)
        self.board = board

    def emit(self, record: logging.LogRecord) -> None:
        try:
            args = record.args if isinstance(record.args, tuple) else ()
            job_id = next(
                (a.id if isinstance(a, Job) else a for a in args
                 if isinstance(a, Job) or (isinstance(a, str) and self.board.known_job(a))),
                None,
            )  # fmt: skip
            if job_id is None:
                return
            entry = {"time": record.created, "level": record.levelname,
                     "logger": record.name, "message": record.getMessage()}  # fmt: skip
            self.board.add_log(job_id, entry)
        except Exception:  # a status page must never break logging
            self.handleError(record)
