"""`RecordingSCP`: a storage SCP on a free loopback port that keeps what it receives."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dcmnode.network.address import Address
from dcmnode.network.sockets import set_nodelay


class RecordingSCP:
    """A destination for tests: records every received data set.

    Parameters
    ----------
    ae_title : str
        Its AE title.
    status : int
        Status to answer every C-STORE with (use a failure to simulate a
        refusing PACS).
    port : int
        Port on 127.0.0.1; 0 picks a free one.
    answers : sequence of int
        Statuses for the first C-STOREs, in order (then *status* for the
        rest): a destination that refuses some instances and takes others.

    Examples
    --------
    >>> with RecordingSCP() as scp:                      # doctest: +SKIP
    ...     send(datasets, scp.address)
    ...     assert scp.wait_for(len(datasets), timeout=10)
    """

    def __init__(
        self,
        ae_title: str = "RECEIVER",
        status: int = 0x0000,
        port: int = 0,
        answers: Sequence[int] = (),
    ) -> None:
        self.ae_title = ae_title
        self._answers = list(answers)
        self.attempts: list[str] = []
        """SOP Instance UID of every C-STORE request, accepted or not, in order."""
        self._port = port
        self.status = status
        self.received: list[Dataset] = []
        self.associations = 0
        self._cond = threading.Condition()
        ae = AE(ae_title=ae_title)
        ae.add_supported_context(Verification)
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(str(context.abstract_syntax), ALL_TRANSFER_SYNTAXES)
        self._ae = ae
        self._server: Any = None

    def start(self) -> RecordingSCP:
        """Start listening on 127.0.0.1."""
        self._server = self._ae.start_server(
            ("127.0.0.1", self._port),
            block=False,
            evt_handlers=[
                (evt.EVT_C_STORE, self._on_store),
                (evt.EVT_CONN_OPEN, set_nodelay),
                (evt.EVT_ACCEPTED, self._on_accepted),
            ],
        )
        return self

    def stop(self) -> None:
        """Stop listening and end open associations."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    @property
    def address(self) -> Address:
        """Its address, for a `DicomOutput` or ``--set destination=``."""
        return Address(self.ae_title, "127.0.0.1", self.port)

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Block until at least *count* data sets arrived; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _on_accepted(self, event: Any) -> None:
        with self._cond:
            self.associations += 1

    def _on_store(self, event: Any) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        with self._cond:
            self.attempts.append(str(ds.SOPInstanceUID))
            status = self._answers.pop(0) if self._answers else self.status
            if status == 0:
                self.received.append(ds)
                self._cond.notify_all()
        return status

    def __enter__(self) -> RecordingSCP:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
