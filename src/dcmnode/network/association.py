"""Who is on the other end of an association, and what it has delivered so far."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sender:
    """Who delivered data: the calling AE title and the peer's IP address."""

    ae_title: str
    address: str


@dataclass
class AssociationContext:
    """Per-association bookkeeping; only the association's own thread touches it.

    ``id`` is unique within the process (never a thread id, which the OS
    reuses), so a patient's "who is still delivering" set can never confuse
    an old association with a new one.
    """

    id: int
    sender: Sender
    stored: int = 0
    refused: dict[int, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"association {self.id} ({self.sender.ae_title}@{self.sender.address})"
