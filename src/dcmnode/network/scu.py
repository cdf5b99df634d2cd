"""Sending to other nodes: C-ECHO and C-STORE with one association per batch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dcmnode.errors import NetworkError
from dcmnode.network.address import Address
from dcmnode.network.requestor import associate
from dcmnode.network.status import describe, is_success

log = logging.getLogger("dcmnode.scu")

Item = Dataset | Path
Progress = Callable[[Item, int], None]

# pynetdicom proposes at most 128 presentation contexts per association.
_MAX_CONTEXTS = 120


@dataclass
class SendReport:
    """Outcome of a `send`: one status per item (``-1``: not sent at all)."""

    statuses: list[tuple[Item, int]] = field(default_factory=list)

    @property
    def failed(self) -> list[tuple[Item, int]]:
        """Items whose status was neither success nor warning."""
        return [(item, code) for item, code in self.statuses if not is_success(code)]

    @property
    def ok(self) -> bool:
        """True when every item was stored (success or warning)."""
        return not self.failed

    def summary(self) -> dict[str, int]:
        """Count of items per status description."""
        counts: dict[str, int] = {}
        for _, code in self.statuses:
            label = "not sent" if code < 0 else f"0x{code:04X} {describe(code)}"
            counts[label] = counts.get(label, 0) + 1
        return counts


def _application_entity(calling_ae: str, timeout: float) -> AE:
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    ae.connection_timeout = timeout
    return ae


def echo(address: Address, calling_ae: str = "DCMNODE", timeout: float = 30.0) -> int:
    """Send a C-ECHO to *address* and return its status (0 is success).

    Raises `NetworkError` if no association could be established.
    """
    ae = _application_entity(calling_ae, timeout)
    ae.add_requested_context(Verification)
    assoc = associate(ae, address)
    try:
        status = assoc.send_c_echo()
        if "Status" not in status:
            raise NetworkError(f"{address}: no answer to C-ECHO")
        return int(status.Status)
    finally:
        assoc.release()


@dataclass(frozen=True)
class _Header:
    item: Item
    sop_class: str
    transfer_syntax: str


def _header(item: Item) -> _Header:
    if isinstance(item, Dataset):
        meta = getattr(item, "file_meta", None)
        syntax = meta.get("TransferSyntaxUID") if meta is not None else None
        return _Header(item, str(item.SOPClassUID), str(syntax or ExplicitVRLittleEndian))
    ds = dcmread(item, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    return _Header(item, str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID))


def _contexts(headers: Sequence[_Header]) -> list[tuple[str, list[str]]]:
    """One context per SOP class for uncompressed data, one per compressed syntax."""
    wanted: dict[tuple[str, str], list[str]] = {}
    for h in headers:
        syntax = UID(h.transfer_syntax)
        if syntax.is_compressed:
            wanted.setdefault((h.sop_class, syntax), [syntax])
        else:
            offers = wanted.setdefault((h.sop_class, "raw"), [])
            for ts in (syntax, ExplicitVRLittleEndian, ImplicitVRLittleEndian):
                if ts not in offers:
                    offers.append(ts)
    return [(sop_class, syntaxes) for (sop_class, _), syntaxes in wanted.items()]


def _batches(headers: list[_Header]) -> list[list[_Header]]:
    """Split items so that each association needs at most ``_MAX_CONTEXTS`` contexts."""
    batches: list[list[_Header]] = []
    current: list[_Header] = []
    for h in headers:
        if len(_contexts([*current, h])) > _MAX_CONTEXTS:
            batches.append(current)
            current = []
        current.append(h)
    if current:
        batches.append(current)
    return batches


def send(
    items: Iterable[Item],
    address: Address,
    calling_ae: str = "DCMNODE",
    progress: Progress | None = None,
    timeout: float = 60.0,
    report: SendReport | None = None,
) -> SendReport:
    """C-STORE datasets or Part-10 files to *address*.

    Items are sent as they are (compressed data stays compressed); an item
    that cannot be read is reported with status -1 and the rest go on.

    Parameters
    ----------
    items : iterable of Dataset or Path
        Datasets (with ``file_meta``) or paths of DICOM files.
    address : Address
        Where to send.
    calling_ae : str
        Our AE title.
    progress : callable, optional
        ``progress(item, status)`` after every item.
    timeout : float
        Seconds for connection, association and each DIMSE exchange.
    report : SendReport, optional
        Filled as items are answered; pass one to keep the statuses of what
        was sent before a `NetworkError` broke the transfer off.

    Raises
    ------
    NetworkError
        When an association cannot be established or breaks off.
    """
    report = report if report is not None else SendReport()
    headers: list[_Header] = []
    for item in items:
        try:
            headers.append(_header(item))
        except Exception as exc:
            log.warning("cannot send %s: %s", _name(item), exc)
            report.statuses.append((item, -1))
            if progress:
                progress(item, -1)
    for batch in _batches(headers):
        _send_batch(batch, address, calling_ae, progress, timeout, report)
    return report


def _send_batch(
    batch: Sequence[_Header],
    address: Address,
    calling_ae: str,
    progress: Progress | None,
    timeout: float,
    report: SendReport,
) -> None:
    ae = _application_entity(calling_ae, timeout)
    for sop_class, syntaxes in _contexts(batch):
        ae.add_requested_context(sop_class, syntaxes)
    assoc = associate(ae, address)
    try:
        for h in batch:
            if not assoc.is_established:
                raise NetworkError(f"{address}: association ended while sending")
            try:
                response = assoc.send_c_store(h.item)
                code = int(response.Status) if "Status" in response else -1
            except (ValueError, AttributeError) as exc:
                log.warning("%s: cannot send %s: %s", address, _name(h.item), exc)
                code = -1
            report.statuses.append((h.item, code))
            if progress:
                progress(h.item, code)
            if code == -1 and not assoc.is_established:
                raise NetworkError(f"{address}: association ended while sending")
    finally:
        if assoc.is_established:
            assoc.release()


def _name(item: Item) -> str:
    if isinstance(item, Dataset):
        return str(item.get("SOPInstanceUID", "dataset"))
    return str(item)
