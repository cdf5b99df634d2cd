"""The ``show`` and ``anonymize`` subcommands, through their argparse registration."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pydicom
import pytest

from dcmnode.cli.toolkit import add_parsers
from dcmnode.testing.volumes import ct_series


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="dcmnode")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    result: int = args.func(args)
    return result


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for i, ds in enumerate(ct_series(patient_id="PID1", patient_name="Doe^John",
                                     gantry_tilt=8.0)):
        ds.save_as(source / f"a{i}.dcm", enforce_file_format=True)
    for i, ds in enumerate(ct_series(patient_id="PID2", series_description="Second")):
        ds.save_as(source / f"b{i}.dcm", enforce_file_format=True)
    (source / "README.txt").write_text("not DICOM")
    return source


def test_show_summarises_a_folder(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show", str(folder)) == 1  # README.txt is named, not silently passed over
    out, err = capsys.readouterr()
    assert "README.txt" in err
    assert "Patient Doe^John [PID1]" in out and "[PID2]" in out
    assert "8 instance(s)" in out
    assert "geometry: 8 x 16 x 12 voxels, spacing 2.5 x 0.8 x 0.7 mm" in out
    assert "gantry tilt" in out


def test_show_dumps_one_file(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show", "--dump", str(folder / "a0.dcm")) == 0
    out = capsys.readouterr().out
    assert "(0010,0020) Patient ID" in out and "PID1" in out


def test_show_reports_bad_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("show", str(tmp_path / "missing")) == 2
    assert run("show", str(tmp_path)) == 1
    assert run("show", "--dump", str(tmp_path)) == 2
    assert "no DICOM instances" in capsys.readouterr().err


def test_anonymize_writes_uid_named_files_and_a_reusable_map(folder: Path,
                                                             tmp_path: Path) -> None:
    (folder / "README.txt").unlink()
    target, crosswalk = tmp_path / "out", tmp_path / "map.json"
    assert run("anonymize", str(folder), str(target), "--map", str(crosswalk),
               "--shift-dates") == 0
    files = sorted(target.rglob("*.dcm"))
    assert len(files) == 16
    patients = set()
    for path in files:
        ds = pydicom.dcmread(path)
        assert path.name == f"{ds.SOPInstanceUID}.dcm"
        assert path.parent.name == ds.SeriesInstanceUID
        assert ds.PatientIdentityRemoved == "YES" and "Doe" not in str(ds.PatientName)
        patients.add(ds.PatientID)
    assert len(patients) == 2 and not patients & {"PID1", "PID2"}
    assert json.loads(crosswalk.read_text())["format"] == "dcmnode-crosswalk"
    # A second run with the same map gives the same pseudonyms and UIDs.
    again = tmp_path / "again"
    assert run("anonymize", str(folder), str(again), "--map", str(crosswalk)) == 0
    assert sorted(p.name for p in again.rglob("*.dcm")) == sorted(p.name for p in files)


def test_anonymize_reports_missing_input(tmp_path: Path) -> None:
    assert run("anonymize", str(tmp_path / "nothing"), str(tmp_path / "out")) == 2
    assert run("anonymize", str(tmp_path), str(tmp_path / "out")) == 1


def test_reidentify_restores_what_anonymize_replaced(folder: Path, tmp_path: Path) -> None:
    crosswalk = tmp_path / "map.json"
    # 1: README.txt was skipped (and named); every DICOM file was written.
    assert run("anonymize", str(folder), str(tmp_path / "anon"), "--map", str(crosswalk)) == 1
    assert run("anonymize", str(tmp_path / "anon"), str(tmp_path / "back"), "--map",
               str(crosswalk), "--reidentify") == 0
    originals = {str(ds.SOPInstanceUID): ds for ds in
                 (pydicom.dcmread(p) for p in folder.glob("*.dcm"))}
    restored = [pydicom.dcmread(p) for p in (tmp_path / "back").rglob("*.dcm")]
    assert len(restored) == len(originals)
    for ds in restored:
        original = originals[str(ds.SOPInstanceUID)]
        assert ds.PatientID == original.PatientID and ds.PatientName == original.PatientName
        assert ds.StudyInstanceUID == original.StudyInstanceUID
    assert run("anonymize", str(folder), str(tmp_path / "x"), "--reidentify") == 2


def _legacy_folder(root: Path) -> Path:
    """Files as older systems write them: no preamble, no file meta, and one junk file."""
    folder = root / "legacy"
    folder.mkdir()
    first, second, third = ct_series(patient_id="OLD1")[:3]
    first.save_as(folder / "with_meta.dcm", enforce_file_format=True)
    second.preamble = None  # Part-10 meta but no 128-byte preamble and no "DICM"
    second.save_as(folder / "no_preamble", enforce_file_format=False)
    del third.file_meta  # a bare data set, implicit VR little endian
    third.save_as(folder / "no_meta", implicit_vr=True, little_endian=True,
                  enforce_file_format=False)
    (folder / "junk.bin").write_bytes(b"\x08\x00\x10\x00" + b"not DICOM at all" * 8)
    return folder


def test_show_reads_files_without_preamble_and_names_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _legacy_folder(tmp_path)
    assert run("show", str(folder / "no_meta")) == 0
    assert "1 instance(s)" in capsys.readouterr().out
    assert run("show", str(folder)) == 1  # junk.bin could not be read
    out, err = capsys.readouterr()
    assert "Patient" in out and "[OLD1]" in out and "3 instance(s)" in out
    assert "junk.bin" in err and "no_meta" not in err and "no_preamble" not in err


def test_anonymize_names_a_truncated_file_instead_of_writing_it_broken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, target = tmp_path / "cut", tmp_path / "out"
    folder.mkdir()
    whole, cut = ct_series(patient_id="CUT1")[:2]
    whole.save_as(folder / "whole.dcm", enforce_file_format=True)
    cut.save_as(folder / "cut.dcm", enforce_file_format=True)
    data = (folder / "cut.dcm").read_bytes()
    (folder / "cut.dcm").write_bytes(data[: len(data) - 100])  # a copy that stopped early
    assert run("anonymize", str(folder), str(target)) == 1
    assert "cut.dcm" in capsys.readouterr().err
    assert len(list(target.rglob("*.dcm"))) == 1


def test_anonymize_reads_files_without_preamble_and_names_what_it_skips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, target = _legacy_folder(tmp_path), tmp_path / "out"
    assert run("anonymize", str(folder), str(target)) == 1  # not every file made it
    err = capsys.readouterr().err
    assert "junk.bin" in err
    written = sorted(target.rglob("*.dcm"))
    assert len(written) == 3
    for path in written:  # proper Part-10 files now, readable without force
        ds = pydicom.dcmread(path)
        assert ds.PatientID != "OLD1" and ds.file_meta.TransferSyntaxUID
        assert ds.pixel_array.shape == (16, 12)
