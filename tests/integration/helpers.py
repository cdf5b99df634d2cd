"""Sending helpers for integration tests: real pynetdicom associations."""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
    Verification,
)

from dcmnode.network.sockets import set_nodelay
from dcmnode.node import Node


def associate(node: Node, calling_ae: str = "SCANNER", called_ae: str = "NODE") -> Association:
    ae = AE(ae_title=calling_ae)
    for sop_class in (CTImageStorage, PositronEmissionTomographyImageStorage, MRImageStorage):
        ae.add_requested_context(sop_class)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    return ae.associate(
        "127.0.0.1", node.port, ae_title=called_ae, evt_handlers=[(evt.EVT_CONN_OPEN, set_nodelay)]
    )


def store_all(
    node: Node, datasets: Sequence[Dataset | str], calling_ae: str = "SCANNER"
) -> list[int]:
    """Send every dataset on one association; return the statuses."""
    assoc = associate(node, calling_ae)
    assert assoc.is_established, "association refused"
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()
