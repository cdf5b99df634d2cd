"""Reading DICOM folders and describing them for people (``dcmnode show``)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ..grinders._frames import frames_of
from ..grinders._geometry import layout
from ..grinders.errors import VolumeError

__all__ = ["dicom_files", "describe", "describe_geometry"]


def dicom_files(
    path: str | os.PathLike[str], *, stop_before_pixels: bool = False
) -> Iterator[tuple[Path, Dataset]]:
    """Yield ``(path, dataset)`` for every DICOM file at or under ``path``.

    Files that are not DICOM (no preamble, unreadable) are skipped, so a
    folder with README files or DICOMDIR leftovers still reads.
    """
    root = Path(path)
    candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for candidate in candidates:
        try:
            ds = dcmread(candidate, stop_before_pixels=stop_before_pixels)
        except (InvalidDicomError, OSError, EOFError, ValueError):
            continue
        if "SOPInstanceUID" not in ds:  # DICOMDIR and other non-instances
            continue
        yield candidate, ds


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
