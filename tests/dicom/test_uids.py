"""Result UIDs are derived from the inputs, and series numbers follow the reference."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from dcmnode.dicom import Crosswalk, anonymize, derived_series, segmentation
from dcmnode.grinders import Volume
from dcmnode.testing import series

from .cases import BUILDERS, Builder

NAMED = [b for b in BUILDERS if b.named]


def uids(results: list[Dataset]) -> list[tuple[str, str, str]]:
    return [(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
            for ds in results]


@pytest.mark.parametrize("builder", NAMED, ids=[b.name for b in NAMED])
def test_building_again_from_the_same_inputs_makes_the_same_uids(builder: Builder) -> None:
    sources = series(count=3)
    first = builder.build(sources, series_description="Result", series_number=7)
    again = builder.build(sources, series_description="Result", series_number=7)
    assert uids(first) == uids(again)
    # The study stays the reference's; series and instances are new.
    assert {s for s, _, _ in uids(first)} == {str(sources[0].StudyInstanceUID)}
    assert not {i for _, _, i in uids(first)} & {str(ds.SOPInstanceUID) for ds in sources}
    assert len({i for _, _, i in uids(first)}) == len(first)


@pytest.mark.parametrize("builder", NAMED, ids=[b.name for b in NAMED])
def test_other_inputs_or_arguments_make_other_uids(builder: Builder) -> None:
    sources = series(count=3)
    base = uids(builder.build(sources, series_description="Result", series_number=7))
    others = [
        builder.build(series(count=3), series_description="Result", series_number=7),
        builder.build(sources, series_description="Other", series_number=7),
        builder.build(sources, series_description="Result", series_number=8),
        builder.build(sources, series_description="Result", series_number=7, uid_seed="v2"),
    ]
    for other in others:
        series_uids = {s for _, s, _ in uids(other)}
        assert not series_uids & {s for _, s, _ in base}
        assert not {i for _, _, i in uids(other)} & {i for _, _, i in base}


def test_order_of_the_reference_does_not_change_the_uids() -> None:
    sources = series(count=4)
    volume = Volume.from_datasets(sources)
    forward = segmentation(volume.array > 0, sources, segments=["a"])
    backward = segmentation(volume.array > 0, sources[::-1], segments=["a"])
    assert forward.SOPInstanceUID == backward.SOPInstanceUID
    organization = forward.DimensionOrganizationSequence[0].DimensionOrganizationUID
    assert organization == backward.DimensionOrganizationSequence[0].DimensionOrganizationUID
    assert {item.DimensionOrganizationUID for item in forward.DimensionIndexSequence} == {
        organization}


def test_anonymized_uids_follow_the_crosswalk() -> None:
    sources = series(count=2)
    secret = Crosswalk().secret
    first = anonymize(sources, Crosswalk(secret))
    again = anonymize(sources, Crosswalk(secret))
    assert uids(first) == uids(again)
    assert uids(anonymize(sources, Crosswalk())) != uids(first)


@pytest.mark.parametrize("builder", NAMED, ids=[b.name for b in NAMED])
def test_series_number_defaults_to_the_reference_plus_1000(builder: Builder) -> None:
    sources = series(count=3)
    for ds in sources:
        ds.SeriesNumber = 4
    assert {int(ds.SeriesNumber) for ds in builder.build(sources)} == {1004}
    for ds in sources:
        del ds.SeriesNumber  # none (or an unusable one): series 1000
    assert {int(ds.SeriesNumber) for ds in builder.build(sources)} == {1000}
    assert {int(ds.SeriesNumber) for ds in builder.build(sources, series_number=12)} == {12}


def test_argument_errors_name_the_argument_and_what_was_expected() -> None:
    sources = series(count=3)
    volume = Volume.from_datasets(sources)
    cases: list[tuple[type[Exception], str, dict[str, object]]] = [
        (TypeError, "argument 'series_number' must be an int, got str", {"series_number": "1"}),
        (ValueError, "argument 'series_number' must be between 0 and 2\\*\\*31 - 1, got -1",
         {"series_number": -1}),
        (ValueError, "argument 'series_description' must have at most 64 characters",
         {"series_description": "x" * 65}),
        (TypeError, "argument 'uid_seed' must be a str, got int", {"uid_seed": 3}),
    ]
    for error, message, arguments in cases:
        kwargs: dict[str, object] = {"series_description": "x", **arguments}
        with pytest.raises(error, match=message):
            derived_series(volume.array, volume, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="argument 'reference' must be a Volume or a sequence"):
        derived_series(volume.array, sources[0], series_description="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="argument 'reference' must hold at least one dataset"):
        derived_series(volume.array, [], series_description="x")
    with pytest.raises(ValueError, match="argument 'array_or_volume' must have the reference"):
        derived_series(volume.array[:1], volume, series_description="x")
    with pytest.raises(ValueError, match="argument 'mask' must have labels in 0..1"):
        segmentation(volume.array.astype(int) * 0 + 2, volume, segments=["a"])
    with pytest.raises(ValueError, match="argument 'segments' must be a non-empty list"):
        segmentation(volume.array > 0, volume, segments="a")  # type: ignore[arg-type]


def test_measurements_and_segments_are_checked_where_they_are_made() -> None:
    from pydicom.sr.codedict import codes

    from dcmnode.dicom import Measurement, Segment

    with pytest.raises(TypeError, match="argument 'value' must be a number, got str"):
        Measurement("Volume", "12", "mm3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="argument 'unit' must be a Code or a non-empty str"):
        Measurement("Volume", 12.0, "")
    with pytest.raises(ValueError, match="argument 'segment_number' must be a positive int"):
        Measurement("Volume", 12.0, "mm3", segment_number=0)
    with pytest.raises(TypeError, match="argument 'category' must be a Code"):
        Segment("Liver", category="Tissue")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="argument 'label' must have at most 64 characters"):
        Segment("x" * 65, codes.SCT.Tissue)
