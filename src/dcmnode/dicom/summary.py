"""Reading DICOM folders and describing them for people (``dcmnode show``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ..grinders._frames import frames_of
from ..grinders._geometry import layout
from ..grinders.errors import VolumeError

__all__ = ["dicom_files", "describe", "describe_geometry", "read_instance"]

_PREAMBLE = 128  # bytes before "DICM" in a Part-10 file


def dicom_files(
    path: str | os.PathLike[str],
    *,
    stop_before_pixels: bool = False,
    skipped: Callable[[Path, str], None] | None = None,
) -> Iterator[tuple[Path, Dataset]]:
    """Yield ``(path, dataset)`` for every DICOM instance at or under ``path``.

    Files without the 128-byte preamble and ``DICM``, and bare data sets
    with no file meta at all, are read too (see :func:`read_instance`).
    Every other file -- not DICOM, unreadable, a DICOMDIR -- is passed to
    ``skipped(path, reason)`` so that callers can name it; with no
    ``skipped`` it is left out.
    """
    root = Path(path)
    candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for candidate in candidates:
        try:
            ds = read_instance(candidate, stop_before_pixels=stop_before_pixels)
        except Exception as exc:  # a damaged file fails in many ways: name it, go on
            if skipped is not None:
                skipped(candidate, str(exc) or type(exc).__name__)
            continue
        yield candidate, ds


def read_instance(path: str | os.PathLike[str], *, stop_before_pixels: bool = False) -> Dataset:
    """Read one DICOM instance, with or without preamble and file meta (as DCMTK does).

    A file without ``DICM`` at byte 128 is read only when its first
    attribute is in group 0002 (file meta) or 0008 (the first group of a
    bare data set), and whatever is read must carry a valid SOPClassUID and
    SOPInstanceUID: force-reading alone turns any junk into a "data set".
    The missing file meta is filled in from what was read, so the result
    can be written as a proper Part-10 file.

    Raises
    ------
    InvalidDicomError
        The file is not a DICOM instance; the message says why.
    """
    with open(path, "rb") as stream:
        head = stream.read(_PREAMBLE + 4)
    if head[_PREAMBLE:] != b"DICM":
        group = int.from_bytes(head[:2], "little") if len(head) >= 8 else None
        if group not in (0x0002, 0x0008):
            raise InvalidDicomError("not DICOM: no preamble and no plausible first attribute")
    ds = dcmread(path, force=True, stop_before_pixels=stop_before_pixels)
    for keyword in ("SOPClassUID", "SOPInstanceUID"):
        value = ds.get(keyword)
        if not value or not UID(str(value)).is_valid:
            what = "a DICOMDIR" if "DirectoryRecordSequence" in ds else "not a DICOM instance"
            raise InvalidDicomError(f"{what}: no valid {keyword}")
    _complete_file_meta(ds)
    if not stop_before_pixels:
        _check_pixel_length(ds)
    return ds


def _check_pixel_length(ds: Dataset) -> None:
    # pydicom reads a file that ends early without a word, and the Pixel
    # Data is then short: a copy that stopped half-way must not pass as whole.
    if "PixelData" not in ds:
        return
    try:
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            return  # encapsulated fragments: their length says nothing
        expected = get_expected_length(ds, "bytes")
    except (AttributeError, KeyError, TypeError, ValueError):
        return  # no complete Image Pixel module: nothing to measure against
    if len(ds.PixelData) < expected:
        raise InvalidDicomError(
            f"truncated: Pixel Data has {len(ds.PixelData)} of {expected} bytes"
        )


def _complete_file_meta(ds: Dataset) -> None:
    # A bare data set has no TransferSyntaxUID; pydicom knows which encoding
    # it guessed while reading, and the pixel decoders and writers need it.
    meta = ds.file_meta if hasattr(ds, "file_meta") else FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        implicit, little = ds.original_encoding
        if implicit:
            meta.TransferSyntaxUID = ImplicitVRLittleEndian
        else:
            meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    meta.setdefault("MediaStorageSOPClassUID", ds.SOPClassUID)
    meta.setdefault("MediaStorageSOPInstanceUID", ds.SOPInstanceUID)
    ds.file_meta = meta


def describe_geometry(datasets: Sequence[Dataset]) -> str:
    """One or two lines on the volume a series forms, or why it forms none."""
    try:
        placed = layout(frames_of(datasets), allow_nonuniform=True)
    except VolumeError as exc:
        return f"geometry: not a regular volume: {exc}"
    if not placed.has_geometry:
        return "geometry: none (no ImagePositionPatient/ImageOrientationPatient)"
    first = placed.frames[0]
    rows, columns = first.dataset.get("Rows", "?"), first.dataset.get("Columns", "?")
    affine = placed.affine
    spacing = [float(np.linalg.norm(affine[:3, i])) for i in range(3)]
    orientation = first.orientation if first.orientation is not None else np.zeros(0)
    if len(orientation) == 6:  # distance between planes, as Volume.spacing reports it
        normal = np.cross(orientation[:3], orientation[3:])
        spacing[0] = abs(float(affine[:3, 0] @ normal))
    text = (
        f"geometry: {len(placed.frames)} x {rows} x {columns} voxels, spacing "
        f"{spacing[0]:.4g} x {spacing[1]:.4g} x {spacing[2]:.4g} mm, orientation "
        f"[{', '.join(f'{v:.4g}' for v in orientation)}], origin "
        f"[{', '.join(f'{v:.4g}' for v in affine[:3, 3])}]"
    )
    for issue in placed.issues:
        text += f"\n  note: {issue}"
    return text


def describe(datasets: Sequence[Dataset]) -> str:
    """A patient → study → series tree with counts and geometry."""
    tree: dict[str, dict[str, dict[str, list[Dataset]]]] = {}
    for ds in datasets:
        patient = f"{ds.get('PatientName', '')} [{ds.get('PatientID', '')}]"
        study = str(ds.get("StudyInstanceUID", "?"))
        series = str(ds.get("SeriesInstanceUID", "?"))
        tree.setdefault(patient, {}).setdefault(study, {}).setdefault(series, []).append(ds)
    lines = []
    for patient, studies in tree.items():
        lines.append(f"Patient {patient}")
        for study_uid, series_map in studies.items():
            first = next(iter(series_map.values()))[0]
            lines.append(
                f"  Study {first.get('StudyDate', '')} "
                f"{first.get('StudyDescription', '')!s} ({study_uid})".rstrip()
            )
            for series_uid, members in series_map.items():
                head = members[0]
                frames = sum(int(ds.get("NumberOfFrames", 1) or 1) for ds in members)
                lines.append(
                    f"    Series {head.get('SeriesNumber', '')} {head.get('Modality', '')} "
                    f"'{head.get('SeriesDescription', '')}': {len(members)} instance(s), "
                    f"{frames} frame(s) ({series_uid})"
                )
                if any(
                    "ImagePositionPatient" in ds or "PerFrameFunctionalGroupsSequence" in ds
                    for ds in members
                ):
                    lines.append("      " + describe_geometry(members).replace("\n", "\n      "))
    return "\n".join(lines)
