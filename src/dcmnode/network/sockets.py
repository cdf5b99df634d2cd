"""Socket tuning shared by the SCP and the SCU."""

from __future__ import annotations

import logging
import socket
from typing import Any

log = logging.getLogger("dcmnode.network")


def set_nodelay(event: Any) -> None:
    """EVT_CONN_OPEN handler: switch Nagle's algorithm off on the association's socket.

    pynetdicom leaves Nagle on. A DIMSE message is usually a small command
    PDU followed by data PDUs; with Nagle on one side and delayed ACK on the
    other, every message waits ~40 ms for an ACK, which caps a DCMTK peer at
    about 20 instances per second.
    """
    try:
        sock = event.assoc.dul.socket.socket
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError) as exc:  # a socket already closed is harmless
        log.debug("could not set TCP_NODELAY: %s", exc)
