"""The DIMSE status codes dcmnode answers C-STORE requests with.

Every failure a sender can see is listed here, so that the README, the logs
and a PACS administrator reading a status code all agree on its meaning.
Codes in 0xC000-0xCFFF are the Storage Service's "Cannot understand" range
(PS3.4 B.2.3); dcmnode uses the low byte to say *why*.

========  ==============================================================
Code      Meaning
========  ==============================================================
0x0000    Success: the instance is stored (and, with a data directory,
          safely on disk).
0x0110    Processing failure: an unexpected error while storing; logged
          with the association and the traceback.
0xA700    Refused: out of resources (disk below the free-space watermark,
          or the node is shutting down).
0xC100    Cannot understand: the data set could not be decoded, or lacks
          SOP Instance UID / SOP Class UID.
0xC101    Cannot understand: the grouping attribute (``group_by``, e.g.
          PatientID) is missing or empty.
0xC102    Cannot understand: no input of the pipeline accepts the data set
          (or every accepting input is ``single_series`` and already holds
          another series).
0xC103    Cannot understand: the pipeline's ``filter`` rejected the data set.
========  ==============================================================

With ``unrouted = "discard"`` the node answers 0x0000 for 0xC102 and 0xC103
cases instead, drops the data set and logs it: the sender is told "fine" and
nothing is kept. Use it only where a sender aborts on failures.
"""

from __future__ import annotations

from enum import IntEnum


class Status(IntEnum):
    """C-STORE response statuses used by the node."""

    SUCCESS = 0x0000
    PROCESSING_FAILURE = 0x0110
    OUT_OF_RESOURCES = 0xA700
    CANNOT_PARSE = 0xC100
    MISSING_GROUPING = 0xC101
    NOT_ROUTED = 0xC102
    FILTERED = 0xC103

    def describe(self) -> str:
        """Return a short human-readable meaning of the status."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Status.SUCCESS: "stored",
    Status.PROCESSING_FAILURE: "processing failure while storing",
    Status.OUT_OF_RESOURCES: "out of resources",
    Status.CANNOT_PARSE: "data set could not be decoded",
    Status.MISSING_GROUPING: "grouping attribute missing",
    Status.NOT_ROUTED: "no input accepts the data set",
    Status.FILTERED: "rejected by the pipeline filter",
}


def describe(code: int) -> str:
    """Describe any status code, dcmnode's own or a peer's."""
    try:
        return Status(code).describe()
    except ValueError:
        pass
    if code == 0:
        return "success"
    if 0xB000 <= code <= 0xBFFF or code in (0x0001, 0x0107, 0x0116):
        return "warning"
    if 0xA700 <= code <= 0xA7FF:
        return "refused: out of resources"
    if 0xA900 <= code <= 0xA9FF:
        return "error: data set does not match SOP class"
    if 0xC000 <= code <= 0xCFFF:
        return "error: cannot understand"
    if code == 0x0122:
        return "refused: SOP class not supported"
    if code == 0x0124:
        return "refused: not authorised"
    return "failure"


def is_success(code: int) -> bool:
    """True for success and warning statuses (the instance was kept)."""
    return code == 0 or 0xB000 <= code <= 0xBFFF or code in (0x0001, 0x0107, 0x0116)
