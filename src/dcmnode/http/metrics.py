"""Prometheus metrics of one node, in a registry of its own (never the process-global one).

Counters and histograms follow the node's events; gauges are read from the
node's status at scrape time, so a scrape costs the receive path nothing.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dcmnode import events
from dcmnode.events import EventBus
from dcmnode.job import Job
from dcmnode.node.status import NodeStatus

_DURATIONS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class NodeMetrics:
    """A `CollectorRegistry` for one node, fed by its events and its status.

    Parameters
    ----------
    bus : EventBus
        The node's events.
    status : NodeStatus
        Read at every scrape for the gauges.
    """

    def __init__(self, bus: EventBus, status: NodeStatus) -> None:
        self.status = status
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.received = Counter("dcmnode_instances_received", "C-STORE requests answered, by "
                                "status", ["status"], registry=r)  # fmt: skip
        self.jobs = Counter("dcmnode_jobs_ended", "Jobs ended, by result", ["result"], registry=r)
        self.duration = Histogram("dcmnode_job_duration_seconds", "Job duration",
                                  buckets=_DURATIONS, registry=r)  # fmt: skip
        self.latency = Histogram("dcmnode_trigger_latency_seconds",
                                 "Last arrival of a patient's data to the start of its job",
                                 buckets=_DURATIONS, registry=r)  # fmt: skip
        self.deliveries = Counter("dcmnode_deliveries", "Delivery attempts, by result",
                                  ["result"], registry=r)  # fmt: skip
        r.register(_Gauges(status))
        bus.on(events.STORED, self._stored)
        bus.on(events.REJECTED, lambda status, **_: self.received.labels(f"0x{status:04X}").inc())
        bus.on(events.JOB_STARTED, self._started)
        bus.on(events.JOB_FINISHED, lambda job, duration: self._ended("finished", duration))
        bus.on(events.JOB_FAILED, lambda job, duration, error: self._ended("failed", duration))
        for name, result in ((events.EXPORT_DELIVERED, "delivered"),
                             (events.EXPORT_RETRYING, "retrying"),
                             (events.EXPORT_FAILED, "failed")):  # fmt: skip
            bus.on(name, self._delivery_counter(result))

    def _stored(self, **_: Any) -> None:
        self.received.labels("0x0000").inc()

    def _started(self, job: Job) -> None:
        arrival = self.status.board.last_arrival(job.patient_id)
        if arrival is not None:
            self.latency.observe(max(0.0, time.time() - arrival))

    def _ended(self, result: str, duration: float) -> None:
        self.jobs.labels(result).inc()
        self.duration.observe(duration)

    def _delivery_counter(self, result: str) -> Any:
        counter = self.deliveries.labels(result)
        return lambda **_: counter.inc()

    def render(self) -> bytes:
        """The metrics in Prometheus's text format."""
        return generate_latest(self.registry)


class _Gauges(Collector):
    """Gauges read from the node's status at scrape time."""

    def __init__(self, status: NodeStatus) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        status = self.status
        patients = status.store.patients()
        yield _gauge("dcmnode_associations_open", "Associations open now",
                     len(status.open_associations()))  # fmt: skip
        yield _gauge("dcmnode_patients_waiting", "Patients with data waiting to be processed",
                     sum(1 for p in patients if p.collecting))  # fmt: skip
        yield _gauge("dcmnode_jobs_failed_kept", "Failed jobs whose data is kept",
                     sum(len(p.failed) for p in patients))  # fmt: skip
        stats = status.runner.stats()
        jobs = GaugeMetricFamily("dcmnode_jobs", "Jobs by state now", labels=["state"])
        jobs.add_metric(["queued"], stats.queued)
        jobs.add_metric(["running"], stats.running)
        yield jobs
        yield _gauge("dcmnode_runner_queue_depth", "Jobs waiting for a worker", stats.queued)
        outbox = status.outbox.snapshot()
        backlog = GaugeMetricFamily("dcmnode_outbox_backlog", "Deliveries held, by state",
                                    labels=["state"])  # fmt: skip
        for state in ("sending", "waiting", "failed"):
            backlog.add_metric([state], sum(1 for _, s, _ in outbox if s == state))
        yield backlog
        directory = status.store.directory
        if directory is not None:
            yield _gauge("dcmnode_disk_free_bytes", "Free space in the data directory",
                         shutil.disk_usage(directory).free)  # fmt: skip
        yield _gauge("dcmnode_paused", "1 while processing is paused", int(status.controls.paused))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
