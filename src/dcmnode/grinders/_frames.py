"""Flatten single-frame and multi-frame instances into per-frame records.

A volume is built from 2-D frames. Classic CT/MR store one frame per
instance with the geometry at the top level; enhanced CT/MR and multi-frame
secondary capture store many frames per instance with geometry in the
Shared and Per-frame Functional Groups. Both become the same :class:`Frame`
so that ordering and checking happen in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pixel_array

from .errors import MissingAttributeError

__all__ = ["Frame", "frames_of"]


@dataclass(frozen=True)
class Frame:
    """Geometry and pixel source of one 2-D frame."""

    dataset: Dataset
    index: int | None  # frame index in a multi-frame instance, None if single-frame
    position: NDArray[np.float64] | None
    orientation: NDArray[np.float64] | None  # six direction cosines
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    spacing_between_slices: float | None
    slope: float | None
    intercept: float | None

    @property
    def label(self) -> str:
        """Human-readable identity for error messages (no patient data)."""
        number = self.dataset.get("InstanceNumber", "?")
        uid = self.dataset.get("SOPInstanceUID", "?")
        frame = "" if self.index is None else f" frame {self.index + 1}"
        return f"instance {number} ({uid}){frame}"

    def pixels(self) -> NDArray[Any]:
        """Decode this frame's stored values (any transfer syntax pydicom decodes)."""
        if (
            "PixelData" not in self.dataset
            and "FloatPixelData" not in self.dataset
            and "DoubleFloatPixelData" not in self.dataset
        ):
            raise MissingAttributeError(f"{self.label} has no Pixel Data")
        try:
            # pydicom.pixels.pixel_array decodes one frame and, unlike
            # Dataset.pixel_array, caches nothing on the dataset, so the
            # Volume does not hold every slice twice.
            array = _decode(self.dataset, self.index)
        except AttributeError as exc:
            raise MissingAttributeError(f"{self.label} has no Pixel Data") from exc
        except (RuntimeError, NotImplementedError) as exc:
            syntax = self.dataset.file_meta.get("TransferSyntaxUID", "unknown")
            raise MissingAttributeError(
                f"cannot decode pixels of {self.label} (transfer syntax {syntax}): {exc}; "
                "install pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg and pylibjpeg-rle"
            ) from exc
        return np.asarray(array)


def frames_of(datasets: Sequence[Dataset]) -> list[Frame]:
    """Return one :class:`Frame` per 2-D frame in ``datasets``."""
    frames: list[Frame] = []
    for ds in datasets:
        if "PerFrameFunctionalGroupsSequence" in ds or int(ds.get("NumberOfFrames", 1)) > 1:
            frames.extend(_multi_frame(ds))
        else:
            frames.append(_single_frame(ds))
    return frames


def _floats(value: Any) -> NDArray[np.float64] | None:
    if value is None or value == "":
        return None
    return np.asarray([float(v) for v in value], dtype=np.float64)


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def _spacing(value: Any) -> tuple[float, float] | None:
    values = _floats(value)
    if values is None:
        return None
    return float(values[0]), float(values[1])


def _single_frame(ds: Dataset) -> Frame:
    return Frame(
        dataset=ds,
        index=None,
        position=_floats(ds.get("ImagePositionPatient")),
        orientation=_floats(ds.get("ImageOrientationPatient")),
        pixel_spacing=_spacing(ds.get("PixelSpacing")),
        slice_thickness=_float(ds.get("SliceThickness")),
        spacing_between_slices=_float(ds.get("SpacingBetweenSlices")),
        slope=_float(ds.get("RescaleSlope")),
        intercept=_float(ds.get("RescaleIntercept")),
    )


def _group(ds: Dataset, index: int, name: str) -> Dataset | None:
    """Find a functional group macro: per-frame first, then shared (PS3.3 C.7.6.16)."""
    for sequence, item in (
        ("PerFrameFunctionalGroupsSequence", index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = ds.get(sequence)
        if groups is None or len(groups) <= item:
            continue
        macro = groups[item].get(name)
        if macro is not None and len(macro) > 0:
            return macro[0]  # type: ignore[no-any-return]
    return None


def _multi_frame(ds: Dataset) -> list[Frame]:
    count = int(ds.get("NumberOfFrames", 1))
    frames = []
    for index in range(count):
        plane = _group(ds, index, "PlanePositionSequence")
        orient = _group(ds, index, "PlaneOrientationSequence")
        measures = _group(ds, index, "PixelMeasuresSequence")
        transform = _group(ds, index, "PixelValueTransformationSequence")

        def pick(item: Dataset | None, keyword: str) -> Any:
            # Top-level values are the fallback for multi-frame objects that
            # predate functional groups (e.g. NM, old multi-frame MR, SC).
            if item is not None and keyword in item:
                return item.get(keyword)
            return ds.get(keyword)

        frames.append(
            Frame(
                dataset=ds,
                index=index,
                position=_floats(pick(plane, "ImagePositionPatient")),
                orientation=_floats(pick(orient, "ImageOrientationPatient")),
                pixel_spacing=_spacing(pick(measures, "PixelSpacing")),
                slice_thickness=_float(pick(measures, "SliceThickness")),
                spacing_between_slices=_float(pick(measures, "SpacingBetweenSlices")),
                slope=_float(pick(transform, "RescaleSlope")),
                intercept=_float(pick(transform, "RescaleIntercept")),
            )
        )
    return frames


def _decode(ds: Dataset, index: int | None) -> NDArray[Any]:
    """Decode one frame, preferring pylibjpeg and its plugins for compressed data.

    pylibjpeg-libjpeg, -openjpeg and -rle cover JPEG (baseline, extended,
    lossless), JPEG-LS, JPEG 2000 and RLE; pydicom's other plugins (Pillow,
    pyjpegls, its own RLE decoder) remain the fallback.
    """
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is not None and syntax.is_compressed:
        try:
            return pixel_array(ds, index=index, decoding_plugin="pylibjpeg")
        except (RuntimeError, ValueError, NotImplementedError):
            pass  # e.g. a plugin not installed: let pydicom pick another one
    return pixel_array(ds, index=index)
