"""Receiving: from an association's data sets to store entries and C-STORE statuses.

Runs in the association's thread: `Receiver.opened` and `Receiver.closed`
bracket an association, `Receiver.receive` handles each instance -- parse,
filter, group, route, persist through the store, answer. Nothing here waits
for processing (DESIGN.md, house rule 4); a closed association only queues
readiness checks for the patients nobody delivers for any more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset

from dcmnode import events
from dcmnode.events import EventBus
from dcmnode.inputs.tags import resolve_tag
from dcmnode.network.association import AssociationContext, Sender
from dcmnode.network.status import Status
from dcmnode.node.activity import Activity
from dcmnode.pipeline import Pipeline
from dcmnode.store.model import Instance
from dcmnode.store.protocol import OutOfSpace, Store

log = logging.getLogger("dcmnode.scp")


class Receiver:
    """The node's side of every association: its open, its instances, its close.

    Parameters
    ----------
    pipeline : Pipeline
        Supplies ``filter``, ``group_by``, the inputs and ``unrouted``.
    store : Store
        Where accepted instances go.
    bus : EventBus
        Receives association, ``stored`` and ``rejected`` events.
    activity : Activity
        An open association counts as work until it has closed.
    check : callable
        Queues readiness checks for patients (the dispatcher's ``check``).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        store: Store,
        bus: EventBus,
        activity: Activity,
        check: Callable[[list[str]], None],
    ) -> None:
        self.pipeline = pipeline
        self.store = store
        self.bus = bus
        self.activity = activity
        self.check = check
        self.group_tag = resolve_tag(pipeline.group_by, "group_by")
        self.inputs = list(pipeline.input_objects.items())
        self.uses_filter = type(pipeline).filter is not Pipeline.filter
        self.discard = pipeline.unrouted == "discard"

    def opened(self, context: AssociationContext) -> None:
        """A connection was accepted: it counts as delivering until `closed`."""
        self.activity.begin()
        self.store.open_association(context.id)
        log.debug("%s: connection opened", context)
        self.bus.emit(events.ASSOCIATION_OPENED, association=context.id)

    def closed(self, context: AssociationContext) -> None:
        """The association ended (released, aborted or vanished): check its quiet patients."""
        quiet = self.store.close_association(context.id)
        # Count the follow-up checks before the connection stops counting, so
        # the node never looks idle in between.
        self.check(quiet)
        if context.stored or context.refused:
            refused = ", ".join(f"0x{k:04X}: {v}" for k, v in sorted(context.refused.items()))
            log.info(
                "%s: closed; %d stored%s",
                context,
                context.stored,
                f", refused {refused}" if refused else "",
            )
        self.bus.emit(events.ASSOCIATION_CLOSED, association=context.id)
        self.activity.end()

    def receive(
        self,
        context: AssociationContext,
        dataset: Dataset,
        encoded: Callable[[], bytes] | None = None,
    ) -> int:
        """Route one data set and return the C-STORE status for it. Never raises.

        *encoded* returns the data set as a Part-10 file, as received; a
        persistent store writes it before the instance is acknowledged.
        """
        try:
            status = self._receive(context, dataset, encoded)
        except Exception:
            log.exception("%s: unexpected error while storing", context)
            status = Status.PROCESSING_FAILURE
        if status == Status.SUCCESS:
            context.stored += 1
        else:
            context.refused[status] = context.refused.get(status, 0) + 1
        return int(status)

    def _receive(
        self,
        context: AssociationContext,
        dataset: Dataset,
        encoded: Callable[[], bytes] | None,
        adopted: str | None = None,
    ) -> Status:
        try:
            sop_uid = str(dataset.SOPInstanceUID)
            sop_class = str(dataset.SOPClassUID)
            series_uid = str(dataset.get("SeriesInstanceUID", ""))
        except Exception as exc:
            log.warning("%s: data set could not be decoded: %s", context, exc)
            return self._refuse(context, Status.CANNOT_PARSE, None, str(exc))
        if not sop_uid or not sop_class:
            log.warning("%s: data set without SOP Instance/Class UID", context)
            return self._refuse(context, Status.CANNOT_PARSE, None, "no SOP UIDs")
        element = dataset.get(self.group_tag)
        patient = str(element.value).strip() if element is not None and element.value else ""
        if self.uses_filter and not self.pipeline.filter(dataset):
            return self._unwanted(context, Status.FILTERED, sop_uid, "rejected by filter", patient)
        if not patient:
            log.warning("%s: instance %s has no %s; refused", context, sop_uid,
                        self.pipeline.group_by)  # fmt: skip
            return self._refuse(context, Status.MISSING_GROUPING, sop_uid, "no grouping value")
        routes = [
            (name, type(inp).single_series) for name, inp in self.inputs if inp.accepts(dataset)
        ]
        if not routes:
            return self._unwanted(
                context, Status.NOT_ROUTED, sop_uid, "no input accepts it", patient
            )
        try:
            path, receipt = self._persist(patient, dataset, encoded, adopted)
        except OutOfSpace as exc:
            log.error("%s: patient %r: instance %s refused: %s", context, patient, sop_uid, exc)
            return self._refuse(context, Status.OUT_OF_RESOURCES, sop_uid, str(exc))
        instance = Instance(sop_uid, sop_class, series_uid, dataset, path, receipt)
        return self._add(context, patient, routes, instance, written=adopted is None)

    def _persist(
        self,
        patient: str,
        dataset: Dataset,
        encoded: Callable[[], bytes] | None,
        adopted: str | None,
    ) -> tuple[str | None, str]:
        """Write the instance to a persistent store first; ``(path, receipt)``."""
        if adopted is not None:
            return adopted, Path(adopted).stem
        return self.store.persist(patient, dataset, encoded or _not_encoded)

    def _add(
        self,
        context: AssociationContext,
        patient: str,
        routes: list[tuple[str, bool]],
        instance: Instance,
        written: bool,
    ) -> Status:
        sop_uid = instance.sop_instance_uid
        result = self.store.add(context.id, patient, routes, instance, context.sender)
        if not result.inputs:
            if written and instance.path is not None:
                self.store.discard_file(instance.path)
            return self._unwanted(
                context,
                Status.NOT_ROUTED,
                sop_uid,
                "its single-series inputs already hold another series",
                patient,
            )
        if result.replaced:
            log.info("%s: patient %r: instance %s received again; replaced", context, patient,
                     sop_uid)  # fmt: skip
        self.bus.emit(
            events.STORED,
            association=context.id,
            patient=patient,
            sop_instance_uid=sop_uid,
            inputs=result.inputs,
        )
        return Status.SUCCESS

    def adopt(self, path: Path) -> int:
        """Route a file found in the data directory but missing from its index (restart)."""
        context = AssociationContext(0, Sender("(restart)", "local"))
        try:
            dataset = dcmread(path, stop_before_pixels=True)
        except Exception as exc:
            log.warning("restart: cannot read %s (%s); left in place", path, exc)
            return int(Status.CANNOT_PARSE)
        try:
            status = self._receive(context, dataset, None, adopted=str(path))
        except Exception:
            log.exception("restart: could not route %s", path)
            return int(Status.PROCESSING_FAILURE)
        if status != Status.SUCCESS:
            log.warning("restart: %s not taken back (0x%04X); left in place", path, status)
        return int(status)

    def _unwanted(
        self,
        context: AssociationContext,
        status: Status,
        sop_uid: str,
        why: str,
        patient: str | None = None,
    ) -> Status:
        who = f"patient {patient!r}: " if patient else ""
        if self.discard:
            log.info("%s: %sinstance %s discarded: %s", context, who, sop_uid, why)
            return Status.SUCCESS
        log.warning("%s: %sinstance %s refused (0x%04X): %s", context, who, sop_uid, status, why)
        return self._refuse(context, status, sop_uid, why)

    def _refuse(
        self, context: AssociationContext, status: Status, sop_uid: str | None, why: str
    ) -> Status:
        self.bus.emit(
            events.REJECTED,
            association=context.id,
            sop_instance_uid=sop_uid,
            status=int(status),
            reason=why,
        )
        return status


def _not_encoded() -> bytes:
    raise ValueError("a persistent store needs the data set as received")
