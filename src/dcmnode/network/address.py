"""Where a DICOM peer lives: AE title, host and port."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dcmnode.errors import ConfigError

_AE_FORBIDDEN = re.compile(r"[\\\x00-\x1f\x7f]")


def check_ae_title(value: str, what: str = "ae_title") -> str:
    """Return *value* if it is a valid AE title, else raise `ConfigError`.

    An AE title is 1 to 16 characters of the default repertoire without
    backslash or control characters; leading and trailing spaces are not
    significant and are stripped.
    """
    if not isinstance(value, str):
        raise ConfigError(f"{what}: expected a string, got {type(value).__name__}")
    stripped = value.strip()
    if not stripped:
        raise ConfigError(f"{what}: an AE title cannot be empty")
    if len(stripped) > 16:
        raise ConfigError(f"{what}: {stripped!r} is longer than 16 characters")
    if _AE_FORBIDDEN.search(stripped) or not stripped.isascii():
        raise ConfigError(f"{what}: {stripped!r} contains characters not allowed in an AE title")
    return stripped


def check_port(value: int, what: str = "port", allow_zero: bool = False) -> int:
    """Return *value* if it is a TCP port number, else raise `ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what}: expected an integer port, got {value!r}")
    low = 0 if allow_zero else 1
    if not low <= value <= 65535:
        raise ConfigError(f"{what}: {value} is not a port number ({low}-65535)")
    return value


@dataclass(frozen=True)
class Address:
    """A DICOM application entity reachable over the network.

    Parameters
    ----------
    ae_title : str
        The peer's (called) AE title.
    host : str
        Host name or IP address.
    port : int
        TCP port.

    Examples
    --------
    >>> Address("PACS", "10.0.0.5", 104)
    Address(ae_title='PACS', host='10.0.0.5', port=104)
    >>> Address.parse("PACS@10.0.0.5:104") == Address("PACS", "10.0.0.5", 104)
    True
    """

    ae_title: str
    host: str
    port: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", check_ae_title(self.ae_title, "Address.ae_title"))
        if not isinstance(self.host, str) or not self.host.strip():
            raise ConfigError("Address.host: a host name or IP address is required")
        check_port(self.port, "Address.port")

    @classmethod
    def parse(cls, text: str) -> Address:
        """Build an address from ``"AET@host:port"`` (IPv6 hosts in brackets)."""
        match = re.fullmatch(r"\s*([^@]+)@(\[[^\]]+\]|[^:@]+):(\d+)\s*", text)
        if match is None:
            raise ConfigError(f"{text!r} is not an address of the form AET@host:port")
        ae_title, host, port = match.groups()
        return cls(ae_title, host.strip("[]"), int(port))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.ae_title}@{host}:{self.port}"
