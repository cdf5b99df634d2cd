"""Sending helpers for tests: real pynetdicom associations to a running node."""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
    Verification,
)

from dcmnode import Address
from dcmnode.network import requestor
from dcmnode.node import Node


def associate(node: Node, calling_ae: str = "SCANNER", called_ae: str = "NODE") -> Association:
    ae = AE(ae_title=calling_ae)
    for sop_class in (CTImageStorage, PositronEmissionTomographyImageStorage, MRImageStorage):
        ae.add_requested_context(sop_class)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    return requestor.associate(ae, Address(called_ae, "127.0.0.1", node.port))


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


def send_raw(assoc: Association, sop_class: str, sop_uid: str, body: bytes) -> int:
    """C-STORE *body* as the data set, bypassing every client-side check.

    Lets a test send bytes no well-behaved library would produce.
    """
    from io import BytesIO

    from pynetdicom.dimse_primitives import C_STORE

    context = next(c for c in assoc.accepted_contexts if c.abstract_syntax == sop_class)
    request = C_STORE()
    request.MessageID = 4242
    request.AffectedSOPClassUID = sop_class
    request.AffectedSOPInstanceUID = sop_uid
    request.Priority = 2
    request.DataSet = BytesIO(body)
    assoc.dimse.send_msg(request, context.context_id)
    _, response = assoc.dimse.get_msg(block=True)
    assert response is not None, "no response"
    return int(response.Status)
