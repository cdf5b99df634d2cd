"""Value matchers: how ``Input.required_values`` compares an attribute."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag

Matcher = Callable[[Dataset], bool]


def _plain(value: Any) -> Any:
    """Reduce a pydicom value to Python builtins for comparison."""
    if isinstance(value, MultiValue | list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float):
        return value
    return str(value).strip()


def _equal(actual: Any, expected: Any) -> bool:
    actual = _plain(actual)
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_equal(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, str):
        return str(actual).strip() == expected.strip()
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        try:
            return float(actual) == float(expected)
        except (TypeError, ValueError):
            return False
    return bool(actual == expected)


def value_matcher(tag: BaseTag, expected: Any) -> Matcher:
    """Build a matcher for one ``required_values`` entry.

    *expected* may be a plain value (compared after stripping DICOM padding;
    numbers compare numerically, sequences element-wise), a compiled regular
    expression (which must match the whole string value) or a callable that
    receives the value and returns a bool. A missing or empty attribute never
    matches.
    """
    if isinstance(expected, re.Pattern):
        pattern = expected

        def check(dataset: Dataset) -> bool:
            value = _get(dataset, tag)
            return value is not None and pattern.fullmatch(str(_plain(value))) is not None

    elif callable(expected):
        predicate = expected

        def check(dataset: Dataset) -> bool:
            value = _get(dataset, tag)
            return value is not None and bool(predicate(value))

    else:

        def check(dataset: Dataset) -> bool:
            value = _get(dataset, tag)
            return value is not None and _equal(value, expected)

    return check


def presence_matcher(tags: Sequence[BaseTag]) -> Matcher:
    """Build a matcher that requires every tag in *tags* to be present and non-empty."""
    needed = tuple(tags)

    def check(dataset: Dataset) -> bool:
        return all(_get(dataset, tag) is not None for tag in needed)

    return check


def _get(dataset: Dataset, tag: BaseTag) -> Any:
    element = dataset.get(tag)
    if element is None:
        return None
    value = element.value
    if value is None or value == "" or value == b"":
        return None
    return value
