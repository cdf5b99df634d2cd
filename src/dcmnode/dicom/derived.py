"""Derived image series: an array written back as a series next to its source."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    CTImageStorage,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
)

from ..grinders.volume import Volume
from ._classic import CLASSIC_OF, classic_header
from ._common import (
    ResultUIDs,
    add_file_meta,
    apply_overrides,
    check_text,
    copy_element,
    now,
    reference_datasets,
    series_number_for,
)
from ._conform import conform, missing_type1

__all__ = ["PixelEncoding", "derived_series", "pixel_encoding"]

logger = logging.getLogger(__name__)

# Classic single-frame image storage classes whose headers can be reused
# slice by slice: their modality modules stay valid for derived pixels.
SUPPORTED_SOP_CLASSES = {CTImageStorage, MRImageStorage, PositronEmissionTomographyImageStorage}

# Attributes never copied from the reference slice: they describe the old
# pixels, identify the old instance, or are recomputed from the geometry.
_NOT_COPIED = {
    "SOPInstanceUID",
    "SeriesInstanceUID",
    "InstanceNumber",
    "SeriesNumber",
    "SeriesDescription",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "SliceLocation",
    "PixelSpacing",
    "SpacingBetweenSlices",
    "ImageType",
    "SourceImageSequence",
    "ReferencedImageSequence",
    "DerivationDescription",
    "DerivationCodeSequence",
    "IconImageSequence",
    "ContentDate",
    "ContentTime",
    "InstanceCreationDate",
    "InstanceCreationTime",
    "ImagesInAcquisition",
    "DataSetTrailingPadding",
    "DigitalSignaturesSequence",
    "LossyImageCompression",
    "LossyImageCompressionRatio",
    "LossyImageCompressionMethod",
    "WindowCenterWidthExplanation",
    "VOILUTSequence",
    "ModalityLUTSequence",
    "RescaleType",
    "ReferencedPerformedProcedureStepSequence",
}


@dataclass(frozen=True)
class PixelEncoding:
    """How voxel values are stored: ``value = stored * slope + intercept``."""

    signed: bool
    slope: float
    intercept: float

    def encode(self, values: NDArray[Any]) -> NDArray[Any]:
        """Stored 16-bit integers for ``values``."""
        stored = np.round((np.asarray(values, dtype=np.float64) - self.intercept) / self.slope)
        dtype = np.int16 if self.signed else np.uint16
        info = np.iinfo(dtype)
        return np.clip(stored, info.min, info.max).astype(dtype)


def pixel_encoding(values: NDArray[Any]) -> PixelEncoding:
    """Choose a 16-bit encoding that represents ``values`` (exactly when possible).

    Integer values that fit 16 bits are stored as they are (signed when any
    is negative). Other values get a linear rescale over the full unsigned
    16-bit range, the precision loss being at most half a step.
    """
    array = np.asarray(values)
    if array.size == 0:
        raise ValueError("argument 'values' must hold at least one value, got an empty array")
    if not np.all(np.isfinite(array)):
        raise ValueError(
            "argument 'values' must be finite (DICOM pixels cannot hold them), "
            "got NaN or infinite values"
        )
    low, high = float(array.min()), float(array.max())
    integral = array.dtype.kind in "biu" or bool(np.all(array == np.round(array)))
    if integral and low >= -32768 and high <= 32767:
        return PixelEncoding(signed=low < 0, slope=1.0, intercept=0.0)
    if integral and low >= 0 and high <= 65535:
        return PixelEncoding(signed=False, slope=1.0, intercept=0.0)
    slope = (high - low) / 65535 if high > low else 1.0
    return PixelEncoding(signed=False, slope=slope, intercept=low)


def derived_series(
    array_or_volume: NDArray[Any] | Volume,
    reference: Volume | Sequence[Dataset],
    *,
    series_description: str,
    series_number: int | None = None,
    window: tuple[float, float] | None = None,
    derivation_description: str | None = None,
    series_instance_uid: str | None = None,
    uid_seed: str | None = None,
    **overrides: Any,
) -> list[Dataset]:
    """Write an array as a new image series in the reference's study.

    Parameters
    ----------
    array_or_volume
        Values indexed ``[slice, row, column]``. A :class:`Volume` carries
        its own geometry; a bare array takes the reference volume's and must
        have its shape.
    reference
        The source series (datasets or the :class:`Volume` built from them):
        patient and study modules, frame of reference, equipment and modality
        attributes are copied from it. CT, MR and PET are supported, classic
        or enhanced multi-frame; the result is classic images either way,
        which every PACS and viewer reads.
    series_description, series_number
        Shown in the viewer's series list. The series number defaults to the
        reference's SeriesNumber + 1000 (1000 when the reference has none).
    window
        ``(centre, width)`` of the VOI window; by default it spans the values.
    derivation_description
        Free text saying how the pixels were derived.
    series_instance_uid
        Use this UID instead of the derived one (e.g. to add to an earlier result).
    uid_seed
        Mixed into the derived UIDs: pass e.g. the model version when a new
        version's results must not be taken for the old ones.
    **overrides
        Any DICOM keyword set on every instance last (``None`` deletes it).

    Returns
    -------
    list of pydicom.Dataset
        One instance per slice with ``file_meta``. Series and SOP Instance
        UIDs are derived from the reference instances and the arguments, so
        building again from the same inputs gives the same UIDs.
    """
    check_text(series_description, "series_description")
    if derivation_description is not None:
        check_text(derivation_description, "derivation_description", 1024)
    sources = reference_datasets(reference)
    series_number = series_number_for(series_number, sources)
    _check_class(str(sources[0].SOPClassUID))
    ref_volume = reference if isinstance(reference, Volume) else Volume.from_datasets(sources)
    volume = _target_volume(array_or_volume, ref_volume)
    values = np.asarray(volume.array)
    if values.ndim != 3:
        raise ValueError(
            f"argument 'array_or_volume' must be 3-D [slice, row, column], got shape {values.shape}"
        )
    uids = ResultUIDs(
        "derived_series",
        sources,
        [series_description, series_number, derivation_description, series_instance_uid]
        # + 0.0 turns -0.0 into 0.0, which prints the same every time.
        + [values.shape, (np.round(volume.affine, 4) + 0.0).tolist()],
        uid_seed,
    )
    identity = _Identity(
        uids,
        series_instance_uid or uids.series,
        series_number,
        series_description,
        derivation_description,
        now(),
    )
    results = _slices(volume, ref_volume, sources, identity, window)
    conform(results, "derived_series")
    apply_overrides(results, overrides)
    _warn_type1(results[0])
    return results


def _check_class(sop_class: str) -> None:
    if sop_class not in SUPPORTED_SOP_CLASSES and sop_class not in CLASSIC_OF:
        raise ValueError(
            "argument 'reference' must be a CT, MR or PET image series, classic or "
            f"enhanced (use secondary_capture otherwise), got SOP class {sop_class}"
        )


def _slices(
    volume: Volume,
    ref_volume: Volume,
    sources: list[Dataset],
    identity: _Identity,
    window: tuple[float, float] | None,
) -> list[Dataset]:
    values = np.asarray(volume.array)
    encoding = pixel_encoding(values)
    stored = encoding.encode(values)
    centre, width = window if window is not None else _default_window(values)
    same_grid = ref_volume.shape[:3] == volume.shape[:3] and np.allclose(
        ref_volume.affine, volume.affine, atol=1e-4
    )
    by_uid = {str(ds.SOPInstanceUID): ds for ds in sources}
    results = []
    for k in range(values.shape[0]):
        # Reuse the header of the matching source slice so modality modules
        # (CT: KVP, acquisition; MR: sequence parameters) stay plausible.
        template = _source_for_slice(ref_volume, by_uid, k if same_grid else 0)
        ds = _copy_header(template)
        identity.apply(ds, template, k, values.shape[0])
        _set_geometry(ds, volume, k, same_grid)
        _set_pixels(ds, stored[k], encoding, centre, width)
        if same_grid:
            _reference_source(ds, ref_volume, by_uid, k)
        add_file_meta(ds)
        results.append(ds)
    return results


def _warn_type1(ds: Dataset) -> None:
    missing = missing_type1(ds)
    if missing:
        # Only the scanner knows these; making them up would mislead a
        # reader more than a validator's complaint does.
        logger.warning(
            "derived_series: the reference lacks Type 1 attributes %s of its modality "
            "module, so the result is not a valid %s image; pass them as keyword "
            "arguments (e.g. %s=...) to supply them",
            missing,
            ds.get("Modality", "?"),
            missing[0],
        )


@dataclass(frozen=True)
class _Identity:
    """What every instance of the new series states about itself."""

    uids: ResultUIDs
    series_uid: str
    series_number: int
    series_description: str
    derivation_description: str | None
    stamp: datetime.datetime

    def apply(self, ds: Dataset, template: Dataset, k: int, count: int) -> None:
        ds.SOPInstanceUID = self.uids.instance(k)
        ds.SeriesInstanceUID = self.series_uid
        ds.SeriesNumber = self.series_number
        ds.SeriesDescription = self.series_description
        ds.InstanceNumber = k + 1
        ds.ImageType = _image_type(template)
        if ds.get("Modality") == "PT":
            # PET Image module: the slice's place in this series, not the source's.
            ds.ImageIndex = k + 1
            ds.NumberOfSlices = count
        ds.ContentDate = ds.InstanceCreationDate = self.stamp.strftime("%Y%m%d")
        ds.ContentTime = ds.InstanceCreationTime = self.stamp.strftime("%H%M%S.%f")
        if self.derivation_description:
            ds.DerivationDescription = self.derivation_description


def _image_type(template: Dataset) -> list[str]:
    modality = template.get("Modality")
    # PET allows only PRIMARY as value 2 (PS3.3 C.8.9.4.1.1).
    values = ["DERIVED", "PRIMARY" if modality == "PT" else "SECONDARY"]
    # Keep the third value (AXIAL, LOCALIZER …) that viewers sort on; CT and
    # MR require one.
    third = [str(v) for v in list(template.get("ImageType") or [])[2:3] if v]
    if not third and modality in ("CT", "MR"):
        third = ["AXIAL" if modality == "CT" else "OTHER"]
    return values + third


def _target_volume(array_or_volume: NDArray[Any] | Volume, reference: Volume) -> Volume:
    if isinstance(array_or_volume, Volume):
        return array_or_volume
    array = np.asarray(array_or_volume)
    if array.shape[:3] != reference.shape[:3]:
        raise ValueError(
            f"argument 'array_or_volume' must have the reference volume's shape "
            f"{reference.shape} (or be a Volume with its own grid), got shape {array.shape}"
        )
    return reference.with_array(array)


def _default_window(values: NDArray[Any]) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    return (low + high) / 2, max(high - low, 1.0)


def _source_for_slice(volume: Volume, by_uid: dict[str, Dataset], k: int) -> Dataset:
    first = next(iter(by_uid.values()))
    source, frame = first, 1
    if volume.frame_numbers and k < len(volume.frame_numbers):
        uid, frame = volume.frame_numbers[k]
        source = by_uid.get(uid, first)
    if str(source.SOPClassUID) in CLASSIC_OF:
        # An enhanced multi-frame source: the result is classic images, whose
        # modules are gathered from the frame's functional groups.
        return classic_header(source, frame)
    return source


def _copy_header(template: Dataset) -> Dataset:
    ds = Dataset()
    for element in template:
        keyword = element.keyword
        if (
            element.tag.is_private
            or element.tag.group in (0x0028, 0x7FE0)
            or 0x6000 <= element.tag.group <= 0x60FF
            or keyword in _NOT_COPIED
        ):
            continue
        # Invalid values are kept here and cleaned by conform() at the end.
        ds.add(copy_element(element))
    return ds


def _set_geometry(ds: Dataset, volume: Volume, k: int, same_grid: bool) -> None:
    ds.ImagePositionPatient = [_ds(v) for v in volume.position_of(k)]
    ds.ImageOrientationPatient = [_ds(v) for v in volume.orientation]
    ds.PixelSpacing = [_ds(v) for v in volume.pixel_spacing]
    ds.SliceLocation = _ds(float(volume.slice_offsets[k]))
    # The source's nominal thickness still describes its own grid; a new grid
    # (resampled, cropped in depth) gets its slice spacing instead.
    if not same_grid or not ds.get("SliceThickness"):
        ds.SliceThickness = _ds(volume.spacing[0])
    if ds.get("Modality") == "MR":
        ds.SpacingBetweenSlices = _ds(volume.spacing[0])


def _set_pixels(
    ds: Dataset, stored: NDArray[Any], encoding: PixelEncoding, centre: float, width: float
) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if encoding.signed else 0
    modality = ds.get("Modality")
    identity = encoding.slope == 1.0 and encoding.intercept == 0.0
    # The MR IOD has no Modality LUT: write a rescale only when the values
    # need one (CT and PET require it always).
    if modality in ("CT", "PT") or not identity:
        ds.RescaleIntercept = _ds(encoding.intercept)
        ds.RescaleSlope = _ds(encoding.slope)
        if modality == "CT":
            ds.RescaleType = "HU"
        elif modality != "PT":
            ds.RescaleType = "US"  # unspecified: the values are whatever process computed
    ds.WindowCenter = _ds(centre)
    ds.WindowWidth = _ds(width)
    ds.PixelData = np.ascontiguousarray(stored).astype(stored.dtype.newbyteorder("<")).tobytes()


def _reference_source(ds: Dataset, volume: Volume, by_uid: dict[str, Dataset], k: int) -> None:
    uid, frame = volume.frame_numbers[k]
    source = by_uid.get(uid)
    if source is None:
        return
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = uid
    if int(source.get("NumberOfFrames", 1)) > 1:
        item.ReferencedFrameNumber = frame
    ds.SourceImageSequence = DicomSequence([item])


def _ds(value: float) -> str:
    text = f"{value:.10g}"
    return text if len(text) <= 16 else f"{value:.8g}"
