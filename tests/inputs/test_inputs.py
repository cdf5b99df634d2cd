"""Input matchers and the default completeness rule."""

from __future__ import annotations

import re

import pytest
from pydicom.dataset import Dataset

from dcmnode import Input, PipelineError
from dcmnode.inputs import by_instance_number, contiguous_instance_numbers


def ds(**attrs) -> Dataset:
    d = Dataset()
    for key, value in attrs.items():
        setattr(d, key, value)
    return d


def test_required_values_plain_regex_callable_and_tags():
    class Thorax(Input):
        required_values = {
            "Modality": "CT",
            (0x0008, 0x103E): re.compile(r"(?i).*thorax.*"),
            "SliceThickness": lambda v: float(v) <= 3,
            "ImageType": ["ORIGINAL", "PRIMARY"],
        }
        required_tags = ["ImagePositionPatient"]

    base = dict(
        Modality="CT",
        SeriesDescription="Thorax 2mm",
        SliceThickness=2,
        ImageType=["ORIGINAL", "PRIMARY"],
        ImagePositionPatient=[0, 0, 0],
    )
    inp = Thorax()
    assert inp.accepts(ds(**base))
    assert not inp.accepts(ds(**{**base, "Modality": "MR"}))
    assert not inp.accepts(ds(**{**base, "SeriesDescription": "Head"}))
    assert not inp.accepts(ds(**{**base, "SliceThickness": 5}))
    assert not inp.accepts(ds(**{**base, "ImageType": ["DERIVED", "PRIMARY"]}))
    missing = ds(**base)
    del missing.ImagePositionPatient
    assert not inp.accepts(missing)
    empty = ds(**{**base, "Modality": ""})
    assert not inp.accepts(empty)


def test_typo_in_keyword_fails_at_class_definition():
    with pytest.raises(Exception, match="Modalty"):

        class Bad(Input):
            required_values = {"Modalty": "CT"}

    with pytest.raises(PipelineError, match="required_tags"):

        class AlsoBad(Input):
            required_tags = "PixelData"


def test_default_is_complete_needs_contiguous_numbers_from_one():
    make = lambda *numbers: [ds(InstanceNumber=n, SOPInstanceUID=f"1.{n}") for n in numbers]  # noqa: E731
    assert contiguous_instance_numbers(make(2, 1, 3))
    assert not contiguous_instance_numbers(make(1, 3))
    assert not contiguous_instance_numbers(make(2, 3))
    assert not contiguous_instance_numbers(make(1, 1))
    assert not contiguous_instance_numbers([])
    assert not contiguous_instance_numbers([ds(SOPInstanceUID="1.9")])
    ordered = by_instance_number(make(3, 1, 2) + [ds(SOPInstanceUID="1.0")])
    assert [getattr(d, "InstanceNumber", None) for d in ordered] == [1, 2, 3, None]
