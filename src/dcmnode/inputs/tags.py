"""Naming DICOM attributes the way users write them."""

from __future__ import annotations

import re

from pydicom.datadict import tag_for_keyword
from pydicom.tag import BaseTag, Tag

from dcmnode.errors import ConfigError

_HEX = re.compile(r"\(?\s*([0-9A-Fa-f]{4})\s*,?\s*([0-9A-Fa-f]{4})\s*\)?")


def resolve_tag(name: object, what: str) -> BaseTag:
    """Turn a keyword, ``"(0010,0020)"``, ``"00100020"``, an int or a tuple into a tag.

    Raises `ConfigError` naming *what* when *name* is none of these.
    """
    if isinstance(name, str):
        tag = tag_for_keyword(name.strip())
        if tag is not None:
            return Tag(tag)
        match = _HEX.fullmatch(name.strip())
        if match:
            return Tag(int(match.group(1), 16), int(match.group(2), 16))
        if name.strip().lower().startswith("0x"):
            try:
                return Tag(int(name, 16))
            except ValueError:
                pass
        raise ConfigError(f"{what}: {name!r} is not a DICOM keyword or tag")
    if isinstance(name, int) and not isinstance(name, bool):
        return Tag(name)
    if isinstance(name, tuple) and len(name) == 2:
        return Tag(name)
    raise ConfigError(f"{what}: {name!r} is not a DICOM keyword or tag")
