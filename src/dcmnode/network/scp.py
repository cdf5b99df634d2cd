"""The listening side: a pynetdicom AE that hands every event to the node.

This module is the only one that knows pynetdicom's event API. It assigns
each connection a process-unique association id (never a thread id, which
the OS reuses) and guarantees that every opened id is closed exactly once,
whether the peer released, aborted or vanished.
"""

from __future__ import annotations

import copy
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from dcmnode.network import compat  # noqa: F401 - fails early on an unsupported pynetdicom
from dcmnode.network.association import AssociationContext, Sender
from dcmnode.network.sockets import set_nodelay
from dcmnode.network.status import Status

log = logging.getLogger("dcmnode.scp")

_ids = itertools.count(1)

OnOpen = Callable[[AssociationContext], None]
OnStore = Callable[[AssociationContext, Dataset, Callable[[], bytes]], int]
OnClose = Callable[[AssociationContext], None]


class StorageSCP:
    """Accept C-ECHO and C-STORE on (host, port) and report to three callbacks.

    Parameters
    ----------
    ae_title, host, port :
        Identity and listening address (port 0 picks a free port).
    on_open, on_store, on_close :
        Called with the association's context. ``on_store`` also gets the
        decoded data set and a function returning it encoded as a Part-10
        file exactly as received; it returns the status. ``on_close`` runs
        exactly once per ``on_open``.
    require_called_ae : bool
        Reject associations whose called AE title is not ours.
    allowed_calling_aes : list of str
        If non-empty, the only calling AE titles accepted.
    max_associations : int
        Associations served at once; more are rejected as transient.
    network_timeout : float
        Seconds of silence before an association is aborted.
    """

    def __init__(
        self,
        ae_title: str,
        host: str,
        port: int,
        on_open: OnOpen,
        on_store: OnStore,
        on_close: OnClose,
        require_called_ae: bool = True,
        allowed_calling_aes: list[str] | None = None,
        max_associations: int = 32,
        network_timeout: float = 60.0,
    ) -> None:
        self._on_open = on_open
        self._on_store = on_store
        self._on_close = on_close
        self._lock = threading.Lock()
        self._contexts: dict[int, tuple[AssociationContext, Any]] = {}
        ae = AE(ae_title=ae_title)
        ae.require_called_aet = require_called_ae
        ae.require_calling_aet = list(allowed_calling_aes or [])
        ae.maximum_associations = max_associations
        ae.network_timeout = network_timeout
        ae.acse_timeout = network_timeout
        ae.dimse_timeout = network_timeout
        # Bigger PDUs mean fewer reads per instance; every peer handles them.
        ae.maximum_pdu_size = 262144
        ae.add_supported_context(Verification)
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(str(context.abstract_syntax), ALL_TRANSFER_SYNTAXES)
        self._ae = ae
        self._server: ThreadedAssociationServer | None = None
        self._address = (host, port)

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port); the real port once started with port 0."""
        if self._server is None:
            return self._address
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Bind and start serving in background threads."""
        handlers: list[Any] = [
            (evt.EVT_CONN_OPEN, self._handle_open),
            (evt.EVT_CONN_CLOSE, self._handle_close),
            (evt.EVT_C_STORE, self._handle_store),
        ]
        server = self._ae.start_server(self._address, block=False, evt_handlers=handlers)
        assert server is not None  # non-blocking start always returns the server
        server.contexts = _ContextList(server.contexts)
        self._server = server

    def stop_accepting(self) -> None:
        """Close the listening socket; open associations carry on."""
        if self._server is not None:
            self._server.shutdown()

    def abort_all(self) -> None:
        """Abort every association still open (end of a graceful stop)."""
        for assoc in list(self._ae.active_associations):
            assoc.abort()

    def open_count(self) -> int:
        """Connections opened and not yet closed."""
        with self._lock:
            return len(self._contexts)

    def associations(self) -> list[AssociationContext]:
        """Copies of the open associations' contexts (for status pages)."""
        with self._lock:
            return [replace(c, refused=dict(c.refused)) for c, _ in self._contexts.values()]

    def sender(self, association: int) -> Sender | None:
        """Who is on the other end of open association *association* (None once closed)."""
        with self._lock:
            entry = self._contexts.get(association)
        return None if entry is None else entry[0].sender

    # -- pynetdicom handlers (run in pynetdicom's threads) ---------------------

    def _handle_open(self, event: Any) -> None:
        set_nodelay(event)
        assoc = event.assoc
        address = event.address[0] if event.address else ""
        context = AssociationContext(next(_ids), Sender("", str(address)))
        assoc.dcmnode_context = context
        with self._lock:
            self._contexts[context.id] = (context, assoc)
        try:
            self._on_open(context)
        except Exception:
            log.exception("%s: open handler failed", context)

    def _handle_close(self, event: Any) -> None:
        context = getattr(event.assoc, "dcmnode_context", None)
        if context is not None:
            self._close(context)

    def _close(self, context: AssociationContext) -> None:
        with self._lock:
            if self._contexts.pop(context.id, None) is None:
                return  # closed already: pynetdicom may report a close twice
        try:
            self._on_close(context)
        except Exception:
            log.exception("%s: close handler failed", context)

    def sweep(self) -> int:
        """Close associations whose thread ended without a close event; return how many.

        pynetdicom reports every close we have seen, but a patient whose
        association vanished silently would never be checked again, so the
        maintenance thread asks here on every round.
        """
        with self._lock:
            gone = [
                context
                for context, assoc in self._contexts.values()
                if assoc.ident is not None and not assoc.is_alive()  # started, then ended
            ]
        for context in gone:
            log.warning("%s: ended without a close event; treated as closed", context)
            self._close(context)
        return len(gone)

    def _handle_store(self, event: Any) -> int:
        context: AssociationContext | None = getattr(event.assoc, "dcmnode_context", None)
        if context is None:  # cannot happen: open always precedes store
            return int(Status.PROCESSING_FAILURE)
        if not context.sender.ae_title:
            context.sender = Sender(_text(event.assoc.requestor.ae_title), context.sender.address)
        try:
            dataset = event.dataset
            dataset.file_meta = event.file_meta
        except Exception as exc:
            log.warning("%s: data set could not be decoded: %s", context, exc)
            return int(Status.CANNOT_PARSE)
        return self._on_store(context, dataset, event.encoded_dataset)


class _ContextList(list[Any]):
    """The server's supported contexts, cheap to copy for each association.

    pynetdicom deep-copies the supported contexts for every association it
    accepts. With every storage SOP class times every transfer syntax that
    is ~170 contexts x 45 UIDs and costs ~120 ms per association -- more
    than storing a whole series over it. UIDs are immutable strings, so a
    copy of each context with its own lists is just as independent.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        copies = []
        for context in self:
            clone = copy.copy(context)
            for name, value in vars(context).items():
                if isinstance(value, list):
                    setattr(clone, name, list(value))
            copies.append(clone)
        return copies


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip()
    return str(value).strip()
