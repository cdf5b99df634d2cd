"""The outbox: results wait here until every destination has every instance.

A job's `DicomOutput`s are handed to the outbox when ``process`` returns.
With a data directory each one is persisted first -- the datasets as files,
and a manifest saying where they go and what has arrived -- so delivery
survives a restart. One thread delivers: it sends each destination what it
does not have yet, records what arrived, and retries the rest with
exponential backoff until delivered, or until the retries are used up and
the delivery is marked failed (kept on disk, listed by ``dcmnode failed``).

Delivery is at-least-once per instance: a crash after a destination stored
an instance and before the manifest recorded it sends that instance again,
which a PACS stores once (same SOP Instance UID).
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset

from dcmnode import events
from dcmnode.events import EventBus
from dcmnode.network.address import Address
from dcmnode.network.scu import SendReport, send
from dcmnode.network.status import is_success
from dcmnode.node.activity import Activity

log = logging.getLogger("dcmnode.outbox")

MANIFEST = "manifest.json"


@dataclass
class Delivery:
    """One output of one job, on its way to its destinations."""

    id: str
    job_id: str
    patient: str
    destinations: list[Address]
    sops: list[str]
    delivered: dict[str, set[str]] = field(default_factory=dict)
    attempts: int = 0
    state: str = "pending"  # pending | failed
    last_error: str = ""
    datasets: list[Dataset] | None = None
    """In memory only; with a data directory the datasets are files in `folder`."""
    folder: Path | None = None

    def missing(self, address: Address) -> list[int]:
        """Indexes of the instances *address* does not have yet."""
        done = self.delivered.get(str(address), set())
        return [i for i, sop in enumerate(self.sops) if sop not in done]

    def complete(self) -> bool:
        """True when every destination has every instance."""
        return all(not self.missing(a) for a in self.destinations)

    def load(self, indexes: list[int]) -> list[Dataset]:
        """The datasets at *indexes* (read back from the folder when persisted)."""
        if self.datasets is not None:
            return [self.datasets[i] for i in indexes]
        assert self.folder is not None
        return [dcmread(self.folder / f"{i:05d}.dcm") for i in indexes]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "job_id": self.job_id,
            "patient": self.patient,
            "destinations": [str(a) for a in self.destinations],
            "sops": self.sops,
            "delivered": {k: sorted(v) for k, v in self.delivered.items()},
            "attempts": self.attempts,
            "state": self.state,
            "last_error": self.last_error,
        }

    @classmethod
    def from_json(cls, data: dict[str, object], folder: Path) -> Delivery:
        delivered = data.get("delivered", {})
        assert isinstance(delivered, dict)
        return cls(
            str(data["id"]),
            str(data["job_id"]),
            str(data["patient"]),
            [Address.parse(str(a)) for a in data["destinations"]],  # type: ignore[attr-defined]
            [str(s) for s in data["sops"]],  # type: ignore[attr-defined]
            {str(k): set(v) for k, v in delivered.items()},
            int(data.get("attempts", 0)),  # type: ignore[call-overload]
            str(data.get("state", "pending")),
            str(data.get("last_error", "")),
            None,
            folder,
        )


def _write_json(path: Path, data: object) -> None:
    temp = path.with_suffix(".tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


class Outbox:
    """Delivers `DicomOutput` results with retries; persisted when *directory* is set.

    Parameters
    ----------
    directory : Path or None
        ``DATA_DIR/outbox``; None keeps deliveries in memory.
    calling_ae : str
        Our AE title when sending.
    timeout : float
        Seconds per DIMSE exchange.
    retries : int
        Attempts after the first before a delivery is marked failed.
    backoff, backoff_max : float
        Seconds before the first retry, doubling each time up to the maximum.
    """

    def __init__(
        self,
        directory: Path | None,
        calling_ae: str,
        timeout: float,
        retries: int,
        backoff: float,
        backoff_max: float,
        activity: Activity,
        bus: EventBus,
    ) -> None:
        self.directory = directory
        self.calling_ae = calling_ae
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.activity = activity
        self.bus = bus
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._stopping = False
        self._failed: dict[str, Delivery] = {}  # used up its retries; kept for a person
        self._current: Delivery | None = None  # being attempted right now
        self._thread = threading.Thread(target=self._loop, name="dcmnode-outbox", daemon=True)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    # -- in -------------------------------------------------------------------------

    def put(self, job_id: str, patient: str, index: int, datasets: list[Dataset],
            destinations: list[Address]) -> None:  # fmt: skip
        """Persist one output's datasets and queue their delivery.

        Raises OSError when the results cannot be written: the job then fails
        and keeps its input data.
        """
        delivery = Delivery(
            f"{job_id}-{index}",
            job_id,
            patient,
            list(destinations),
            [str(ds.SOPInstanceUID) for ds in datasets],
        )
        if self.directory is None:
            delivery.datasets = list(datasets)
        else:
            folder = self.directory / delivery.id
            temp = self.directory / f".{delivery.id}.tmp"
            shutil.rmtree(temp, ignore_errors=True)
            temp.mkdir()
            for i, ds in enumerate(datasets):
                path = temp / f"{i:05d}.dcm"
                dcmwrite(path, ds, enforce_file_format=True)
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
            _write_json(temp / MANIFEST, delivery.to_json())
            os.replace(temp, folder)
            delivery.folder = folder
        self.bus.emit(
            events.EXPORT_QUEUED,
            job_id=job_id,
            patient=patient,
            delivery=delivery.id,
            destinations=[str(a) for a in delivery.destinations],
            sop_instance_uids=list(delivery.sops),
        )
        self._queue(delivery, 0.0)

    def load(self) -> int:
        """Queue the pending deliveries found in the directory (restart)."""
        if self.directory is None:
            return 0
        count = 0
        for manifest in sorted(self.directory.glob(f"*/{MANIFEST}")):
            try:
                delivery = Delivery.from_json(json.loads(manifest.read_text()), manifest.parent)
            except Exception as exc:
                log.error("outbox: cannot read %s (%s); left in place", manifest, exc)
                continue
            if delivery.state == "pending":
                self._queue(delivery, 0.0)
                count += 1
            elif delivery.state == "failed":
                with self._cond:
                    self._failed[delivery.id] = delivery
        for stale in self.directory.glob(".*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)  # a job that died persisting; it reruns
        return count

    def _queue(self, delivery: Delivery, delay: float) -> None:
        self.activity.begin()
        with self._cond:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), delivery))
            self._cond.notify()

    # -- delivering -----------------------------------------------------------------

    def start(self) -> None:
        """Start the delivering thread."""
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop after the current attempt; what is pending stays persisted."""
        with self._cond:
            self._stopping = True
            waiting = len(self._due)
            self._cond.notify()
        self._thread.join(timeout)
        if waiting:
            where = "kept for the next start" if self.directory else "lost (no data directory)"
            log.warning("outbox: %d deliveries still pending at stop; %s", waiting, where)
        with self._cond:
            dropped = len(self._due)
            self._due.clear()
        if dropped:
            self.activity.end(dropped)  # outside our lock: never hold two at once

    def _next(self) -> Delivery | None:
        with self._cond:
            while not self._stopping:
                if self._due and self._due[0][0] <= time.monotonic():
                    return heapq.heappop(self._due)[2]
                wait = self._due[0][0] - time.monotonic() if self._due else None
                self._cond.wait(wait)
            return None

    def _loop(self) -> None:
        # The thread's error boundary: no exception may end it, or results
        # would be persisted and never sent (DESIGN.md, house rule 6).
        while (delivery := self._next()) is not None:
            self._current = delivery
            try:
                self._attempt(delivery)
            except Exception:
                log.exception("outbox: delivery %s: unexpected error", delivery.id)
                try:
                    self._retry_or_fail(delivery, "unexpected error (see log)")
                except Exception:
                    log.exception("outbox: delivery %s set aside until the next start",
                                  delivery.id)  # fmt: skip
                    self.activity.end()
            finally:
                self._current = None

    def _attempt(self, delivery: Delivery) -> None:
        errors = []
        for address in delivery.destinations:
            missing = delivery.missing(address)
            if not missing:
                continue
            report = SendReport()
            try:
                send(
                    delivery.load(missing),
                    address,
                    self.calling_ae,
                    timeout=self.timeout,
                    report=report,
                )
            except Exception as exc:
                errors.append(f"{address}: {exc}")
            # What arrived before any break-off counts: only the rest is resent.
            arrived = delivery.delivered.setdefault(str(address), set())
            for ds, code in report.statuses:
                if isinstance(ds, Dataset) and is_success(code):
                    arrived.add(str(ds.SOPInstanceUID))
            if not report.ok:
                errors.append(f"{address}: {len(report.failed)} refused {report.summary()}")
        delivery.attempts += 1
        if not errors:
            log.info("job %s: results delivered to %s", delivery.job_id,
                     ", ".join(str(a) for a in delivery.destinations))  # fmt: skip
            if delivery.folder is not None:
                shutil.rmtree(delivery.folder, ignore_errors=True)
            self.bus.emit(events.EXPORT_DELIVERED, job_id=delivery.job_id, delivery=delivery.id)
            self.activity.end()
            return
        self._retry_or_fail(delivery, "; ".join(errors))

    def _retry_or_fail(self, delivery: Delivery, error: str) -> None:
        delivery.last_error = error
        if delivery.attempts > self.retries:
            delivery.state = "failed"
            log.error("job %s: delivery failed after %d attempts, kept: %s",
                      delivery.job_id, delivery.attempts, error)  # fmt: skip
            self._save(delivery)
            with self._cond:
                self._failed[delivery.id] = delivery
            self.bus.emit(events.EXPORT_FAILED, job_id=delivery.job_id, error=error)
            self.activity.end()
            return
        delay = min(self.backoff * 2 ** (delivery.attempts - 1), self.backoff_max)
        log.warning("job %s: delivery attempt %d failed (%s); next in %.1f s",
                    delivery.job_id, delivery.attempts, error, delay)  # fmt: skip
        self._save(delivery)
        self.bus.emit(
            events.EXPORT_RETRYING,
            job_id=delivery.job_id,
            attempt=delivery.attempts,
            delay=delay,
            error=error,
        )
        self._queue(delivery, delay)  # counts again before this attempt stops counting
        self.activity.end()

    def _save(self, delivery: Delivery) -> None:
        """Record the delivery's progress; a failure is logged, never raised.

        What could not be recorded is only progress: at worst a restart sends
        an instance again (which a PACS stores once) or tries once more.
        """
        if delivery.folder is None:
            return
        try:
            _write_json(delivery.folder / MANIFEST, delivery.to_json())
        except OSError as exc:
            log.error("job %s: could not record delivery progress: %s", delivery.job_id, exc)

    # -- status and actions (the HTTP API; see dcmnode.node.status) -------------------

    def alive(self) -> bool:
        """True while the delivering thread runs."""
        return self._thread.is_alive()

    def snapshot(self) -> list[tuple[Delivery, str, float | None]]:
        """``(delivery, state, next attempt as time.time())`` of every delivery held.

        State is ``sending``, ``waiting`` or ``failed``. The deliveries are
        the live objects: read them, never change them.
        """
        now, wall = time.monotonic(), time.time()
        Row = tuple[Delivery, str, float | None]
        with self._cond:
            due: list[Row] = [(d, "waiting", wall + max(0.0, at - now)) for at, _, d in self._due]
            failed: list[Row] = [(d, "failed", None) for d in self._failed.values()]
        current = self._current
        sending: list[Row] = [] if current is None else [(current, "sending", None)]
        return sending + sorted(due, key=lambda item: item[2] or 0.0) + failed

    def retry(self, delivery_id: str) -> bool:
        """Queue a failed delivery again with fresh retries; False if it is not failed."""
        with self._cond:
            delivery = self._failed.pop(delivery_id, None)
        if delivery is None:
            return False
        delivery.state, delivery.attempts = "pending", 0
        self._save(delivery)
        self._queue(delivery, 0.0)
        log.info("outbox: delivery %s queued again", delivery_id)
        return True

    def discard(self, delivery_id: str) -> bool:
        """Delete a failed delivery and its result files; False if it is not failed."""
        with self._cond:
            delivery = self._failed.pop(delivery_id, None)
        if delivery is None:
            return False
        if delivery.folder is not None:
            shutil.rmtree(delivery.folder, ignore_errors=True)
        log.warning("outbox: failed delivery %s discarded", delivery_id)
        return True
