"""Grinder that hands ``process`` selected attribute values instead of datasets."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

__all__ = ["TagsGrinder"]


class TagsGrinder:
    """Pick attributes from the first dataset (by InstanceNumber) of an input.

    Values become plain Python types (``str``, ``int``, ``float``, lists), so
    the result pickles and serialises to JSON without pydicom.

    Parameters
    ----------
    keywords
        DICOM keywords such as ``"PatientWeight"``.
    as_dataclass
        Return an instance of a frozen dataclass with one field per keyword
        instead of a ``dict``.
    required
        Raise :class:`KeyError` when an attribute is absent; otherwise its
        value is ``None``.
    """

    def __init__(
        self, keywords: Sequence[str], *, as_dataclass: bool = False, required: bool = False
    ) -> None:
        if isinstance(keywords, str):
            raise TypeError("keywords must be a sequence of keywords, not a single string")
        unknown = [k for k in keywords if tag_for_keyword(k) is None]
        if unknown:
            raise ValueError(f"keywords contains unknown DICOM keywords: {unknown}")
        self.keywords = tuple(keywords)
        self.as_dataclass = as_dataclass
        self.required = required

    def __call__(self, datasets: Sequence[Dataset]) -> Any:
        if not datasets:
            raise ValueError("datasets is empty: no attribute to read")
        first = min(datasets, key=lambda ds: int(ds.get("InstanceNumber") or 0))
        values: dict[str, Any] = {}
        for keyword in self.keywords:
            if keyword not in first:
                if self.required:
                    uid = first.get("SOPInstanceUID")
                    raise KeyError(f"{keyword} is absent from instance {uid}")
                values[keyword] = None
                continue
            values[keyword] = plain(first[keyword].value)
        if not self.as_dataclass:
            return values
        return _record_type(self.keywords)(**values)

    def __repr__(self) -> str:
        return f"TagsGrinder({list(self.keywords)!r}, as_dataclass={self.as_dataclass})"


def plain(value: Any) -> Any:
    """Convert a pydicom element value to built-in Python types."""
    if isinstance(value, MultiValue | list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, PersonName):
        return str(value)
    if isinstance(value, Dataset):
        return {keyword_for_tag(e.tag) or str(e.tag): plain(e.value) for e in value}
    if isinstance(value, bytes):
        return value
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if hasattr(value, "__iter__"):  # Sequence of items
        return [plain(v) for v in value]
    return value


_RECORDS: dict[tuple[str, ...], type] = {}


def _record_type(keywords: tuple[str, ...]) -> type:
    # One class per keyword set, registered under this module so that
    # instances pickle by reference (needed when a grinder runs elsewhere).
    if keywords not in _RECORDS:
        name = "Tags_" + "_".join(keywords)
        cls = dataclasses.make_dataclass(name, [(k, Any, None) for k in keywords], frozen=True)
        cls.__module__ = __name__
        globals()[name] = cls
        _RECORDS[keywords] = cls
    return _RECORDS[keywords]
