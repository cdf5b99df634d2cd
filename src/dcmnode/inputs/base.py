"""`Input`: one named input of a pipeline, and the rules that fill it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from pydicom.dataset import Dataset

from dcmnode.errors import PipelineError
from dcmnode.inputs.matchers import Matcher, presence_matcher, value_matcher
from dcmnode.inputs.tags import resolve_tag


def by_instance_number(datasets: Sequence[Dataset]) -> list[Dataset]:
    """The default grinder: the datasets sorted by InstanceNumber.

    Datasets without an InstanceNumber come last, ordered by SOP Instance UID,
    so the order is deterministic whatever the arrival order.
    """

    def key(ds: Dataset) -> tuple[int, int, str]:
        number = ds.get("InstanceNumber")
        if number is None or number == "":
            return (1, 0, str(ds.get("SOPInstanceUID", "")))
        return (0, int(number), str(ds.get("SOPInstanceUID", "")))

    return sorted(datasets, key=key)


def contiguous_instance_numbers(datasets: Sequence[Dataset]) -> bool:
    """The default completeness rule.

    True when every dataset has an InstanceNumber and the numbers are exactly
    1, 2, ..., n with no gap and no repeat. This cannot know that instance
    n + 1 was still to come: a series whose last images arrive in a later
    association is processed without them. Pipelines that know their
    series size (or can read it, e.g. from ImagesInAcquisition) should
    override ``is_complete``; a quiet period (``stable_after``) helps too.
    """
    if not datasets:
        return False
    numbers: list[int] = []
    for ds in datasets:
        value = ds.get("InstanceNumber")
        if value is None or value == "":
            return False
        numbers.append(int(value))
    numbers.sort()
    return numbers == list(range(1, len(numbers) + 1))


class Input:
    """One named input of a pipeline: which datasets belong to it, and when it is complete.

    Subclass it and set class attributes; the checks compile when the class is
    defined, so a typo in a keyword fails at import time with a message
    naming the input.

    Attributes
    ----------
    required_values : Mapping[str | int | tuple, object]
        Keyword or tag -> expected value. The value is a plain value, a
        compiled ``re.Pattern`` (full match) or a callable taking the value.
    required_tags : Sequence[str | int | tuple]
        Attributes that must be present and non-empty.
    single_series : bool
        If True, once the input holds a series, datasets of another series
        are not accepted into it.
    optional : bool
        If True the patient may be processed with this input empty.
    grinder : callable or None
        ``grinder(datasets) -> object``: what ``job.inputs[name]`` receives.
        Default: the datasets sorted by InstanceNumber.
    stable_after : float or None
        Seconds without new data for the patient before this input may be
        judged complete (a quiet period, on top of "nobody is delivering").
        None (the default): the pipeline's ``quiet_period``; 0: none.
    """

    required_values: ClassVar[Mapping[Any, Any]] = {}
    required_tags: ClassVar[Sequence[Any]] = ()
    single_series: ClassVar[bool] = False
    optional: ClassVar[bool] = False
    grinder: ClassVar[Callable[[Sequence[Dataset]], Any] | None] = None
    stable_after: ClassVar[float | None] = None

    _matchers: ClassVar[tuple[Matcher, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._matchers = cls._compile()

    @classmethod
    def _compile(cls) -> tuple[Matcher, ...]:
        name = cls.__name__
        if not isinstance(cls.required_values, Mapping):
            raise PipelineError(f"{name}.required_values must be a mapping of tag -> value")
        if isinstance(cls.required_tags, str) or not isinstance(cls.required_tags, Sequence):
            raise PipelineError(f"{name}.required_tags must be a list of keywords or tags")
        matchers = [
            value_matcher(resolve_tag(key, f"{name}.required_values"), expected)
            for key, expected in cls.required_values.items()
        ]
        stable = cls.stable_after
        if stable is not None and (
            isinstance(stable, bool) or not isinstance(stable, int | float) or stable < 0
        ):
            raise PipelineError(f"{name}.stable_after must be seconds >= 0 or None")
        tags = [resolve_tag(key, f"{name}.required_tags") for key in cls.required_tags]
        if tags:
            matchers.append(presence_matcher(tags))
        return tuple(matchers)

    def accepts(self, dataset: Dataset) -> bool:
        """True if *dataset* satisfies ``required_values`` and ``required_tags``."""
        return all(match(dataset) for match in self._matchers)

    def is_complete(self, datasets: Sequence[Dataset]) -> bool:
        """Decide whether the input holds everything ``process`` needs.

        Runs on an immutable snapshot, outside any lock, in the node's
        dispatcher thread. The default is `contiguous_instance_numbers`.
        """
        return contiguous_instance_numbers(datasets)

    def grind(self, datasets: Sequence[Dataset]) -> Any:
        """Turn the input's datasets into what ``process`` receives."""
        grinder = type(self).grinder
        if grinder is None:
            return by_instance_number(datasets)
        return grinder(datasets)
