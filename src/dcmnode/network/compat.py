"""The pynetdicom internals dcmnode relies on, checked once when the network layer loads.

Two places reach past pynetdicom's public API, each for a reason given in
its own module: `dcmnode.network.requestor` parks the requestor's reactor
(``_reactor_checkpoint``, ``_kill``, ``_sent_abort``, ``dul.is_alive``), and
`dcmnode.network.scp` swaps the server's supported ``contexts`` for a list
that is cheap to deep-copy. A pynetdicom release that renames any of these
would otherwise fail deep inside an association, as a hang or a slow
association; here it fails at import, naming the version.
"""

from __future__ import annotations

import pynetdicom
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.events import Event
from pynetdicom.transport import AssociationServer, RequestHandler

SUPPORTED = ">=3.0,<3.1"
"""The pynetdicom versions these internals were written and tested against."""


def missing_internals() -> list[str]:
    """Names of the internals this pynetdicom lacks (empty when all are there)."""
    missing = []
    assoc = Association(AE(), "requestor")  # cheap: no thread, no socket yet
    for name in ("_reactor_checkpoint", "_kill", "_sent_abort", "is_released", "is_aborted"):
        if not hasattr(assoc, name):
            missing.append(f"Association.{name}")
    if not callable(getattr(assoc.dul, "is_alive", None)):
        missing.append("DULServiceProvider.is_alive")
    if "contexts" not in AssociationServer.__init__.__code__.co_names:
        missing.append("AssociationServer.contexts")
    if "contexts" not in RequestHandler._create_association.__code__.co_names:
        missing.append("RequestHandler copying server.contexts")
    if not callable(getattr(Event, "encoded_dataset", None)):
        missing.append("Event.encoded_dataset")
    return missing


def check() -> None:
    """Raise ImportError naming the pynetdicom version if an internal is missing."""
    missing = missing_internals()
    if missing:
        raise ImportError(
            f"dcmnode's network layer relies on pynetdicom internals that pynetdicom "
            f"{pynetdicom.__version__} does not have ({', '.join(missing)}); "
            f"install a supported version: pip install 'pynetdicom{SUPPORTED}'"
        )


check()
