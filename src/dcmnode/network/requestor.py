"""Opening associations as a requestor, without pynetdicom's response-stealing race.

pynetdicom runs a *reactor* thread for every association that takes DIMSE
messages off the association's queue whenever it is not paused. Its pause
handshake has a window: ``send_c_store`` clears the checkpoint and waits for
``_is_paused``, but that flag can be a stale ``True`` from an iteration that
already passed the checkpoint -- the reactor then takes the C-STORE response,
logs "Received unexpected C-STORE service message", and the sender waits for
a DIMSE timeout (pynetdicom issues #842, #875). Under load this happened here
about once per thousand messages.

A requestor that only sends never needs the reactor to read DIMSE messages,
so `associate` parks it for good: the association's checkpoint is replaced by
a gate the reactor cannot pass until the association ends, and the first
message is sent only once the reactor is known to be parked. This touches
pynetdicom internals (``_reactor_checkpoint``, ``_kill``): pyproject pins the
minor version it was written against, `dcmnode.network.compat` checks them at
import, and the concurrency tests exercise them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pynetdicom import AE, evt
from pynetdicom.association import Association

from dcmnode.errors import NetworkError
from dcmnode.network import compat  # noqa: F401 - fails early on an unsupported pynetdicom
from dcmnode.network.address import Address
from dcmnode.network.sockets import set_nodelay


class _ParkedReactor(threading.Event):
    """A checkpoint that stays shut until the association is over."""

    def __init__(self, assoc: Association) -> None:
        super().__init__()
        self._assoc = assoc
        self.parked = threading.Event()

    def _over(self) -> bool:
        a: Any = self._assoc
        return bool(
            a._kill or a._sent_abort or a.is_released or a.is_aborted or not a.dul.is_alive()
        )

    def set(self) -> None:  # pynetdicom "restarts" the reactor after each message
        return None

    def clear(self) -> None:
        return None

    def is_set(self) -> bool:
        return self._over()

    def wait(self, timeout: float | None = None) -> bool:
        self.parked.set()
        while not self._over():
            time.sleep(0.01)
        return True


def associate(ae: AE, address: Address, handlers: list[Any] | None = None) -> Association:
    """Request an association to *address* with TCP_NODELAY and a parked reactor.

    Raises `NetworkError` when the association is rejected or cannot be made.
    """
    assoc = ae.associate(
        address.host,
        address.port,
        ae_title=address.ae_title,
        evt_handlers=[(evt.EVT_CONN_OPEN, set_nodelay), *(handlers or [])],
    )
    if not assoc.is_established:
        if assoc.is_rejected:
            raise NetworkError(f"{address}: association rejected")
        raise NetworkError(f"{address}: association failed (peer unreachable or aborted)")
    gate = _ParkedReactor(assoc)
    assoc._reactor_checkpoint = gate
    # Until the reactor sits at the gate it may still be in the iteration
    # that passed the old checkpoint; nothing has been sent yet, so whatever
    # it reads now is not ours. After this, it can read nothing at all.
    if not gate.parked.wait(10):
        assoc.abort()
        raise NetworkError(f"{address}: association thread did not settle")
    return assoc
