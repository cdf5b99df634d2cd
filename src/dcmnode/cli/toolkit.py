"""The ``show`` and ``anonymize`` subcommands of ``dcmnode``.

`dcmnode.cli.main` adds them with `add_parsers`; each handler returns the
process exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

__all__ = ["add_parsers", "run_anonymize", "run_show"]


def add_parsers(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``show`` and ``anonymize`` to the ``dcmnode`` command line."""
    show = subparsers.add_parser(
        "show",
        help="summarise DICOM files (patient, study, series, geometry)",
        description="Summarise a DICOM file or folder as a patient/study/series tree with "
        "instance counts and volume geometry, or dump one file in full.",
    )
    show.add_argument("path", help="a DICOM file or a folder searched recursively")
    show.add_argument(
        "--dump",
        action="store_true",
        help="print every attribute of the file (PATH must be a file)",
    )
    show.set_defaults(func=run_show)

    anon = subparsers.add_parser(
        "anonymize",
        help="de-identify DICOM files (PS3.15 basic profile)",
        description="De-identify every DICOM file under SRC into DST, named by the new UIDs. "
        "With --map the crosswalk (identifying: keep it safe) is loaded if present "
        "and saved, so pseudonyms and UIDs stay consistent across runs.",
    )
    anon.add_argument("src", help="DICOM file or folder")
    anon.add_argument("dst", help="output folder (created)")
    anon.add_argument(
        "--profile",
        default="basic",
        choices=["basic"],
        help="confidentiality profile (default: basic)",
    )
    anon.add_argument(
        "--map",
        dest="crosswalk",
        metavar="CROSSWALK.json",
        help="crosswalk file to reuse and update (enables re-identification)",
    )
    anon.add_argument(
        "--shift-dates",
        action="store_true",
        help="shift dates per patient instead of removing them",
    )
    anon.add_argument(
        "--keep-private", action="store_true", help="keep private attributes (removed by default)"
    )
    anon.add_argument(
        "--reject-burned-in",
        action="store_true",
        help="skip files whose pixels may show burned-in text",
    )
    anon.add_argument(
        "--reidentify",
        action="store_true",
        help="the reverse: restore the identity of files anonymised with --map "
        "(or results made from them)",
    )
    anon.set_defaults(func=run_anonymize)


def run_show(args: argparse.Namespace) -> int:
    """Print the summary (or dump) of ``args.path``.

    Returns 0 when every file was read, 1 when nothing DICOM was found or
    some file could not be read (each is named on stderr), 2 for bad paths.
    """
    from dcmnode.dicom.summary import describe, dicom_files, read_instance

    path = Path(args.path)
    if not path.exists():
        print(f"dcmnode show: {path} does not exist", file=sys.stderr)
        return 2
    if args.dump:
        if not path.is_file():
            print("dcmnode show: --dump needs a single file", file=sys.stderr)
            return 2
        try:
            print(read_instance(path))
        except (InvalidDicomError, OSError, EOFError, ValueError) as exc:
            print(f"dcmnode show: cannot read {path}: {exc}", file=sys.stderr)
            return 1
        return 0
    unread = _Unread("dcmnode show")
    datasets = [ds for _, ds in dicom_files(path, stop_before_pixels=True, skipped=unread)]
    if datasets:
        print(describe(datasets))
    else:
        print(f"dcmnode show: no DICOM instances in {path}", file=sys.stderr)
    return 1 if unread.count or not datasets else 0


class _Unread:
    """Names each file that could not be read on stderr, and counts them."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.count = 0

    def __call__(self, path: Path, reason: str) -> None:
        self.count += 1
        print(f"{self.command}: skipped {path}: {reason}", file=sys.stderr)


def run_anonymize(args: argparse.Namespace) -> int:
    """De-identify ``args.src`` into ``args.dst``.

    Returns 0 when every file under SRC was written to DST; 1 when nothing
    DICOM was found or any file was skipped (unreadable, or refused with
    ``--reject-burned-in``), each named on stderr; 2 for bad arguments.
    """
    from dcmnode.dicom.deid import BurnedInAnnotationError, Crosswalk, anonymize

    source, target = Path(args.src), Path(args.dst)
    if not source.exists():
        print(f"dcmnode anonymize: {source} does not exist", file=sys.stderr)
        return 2
    if args.reidentify:
        return _reidentify(source, target, args.crosswalk)
    crosswalk = Crosswalk.load_or_create(args.crosswalk) if args.crosswalk else Crosswalk()

    def clean(ds: Dataset) -> Dataset:
        (result,) = anonymize(
            [ds],
            crosswalk,
            profile=args.profile,
            shift_dates=args.shift_dates,
            keep_private=args.keep_private,
            reject_burned_in=args.reject_burned_in,
        )
        return result

    unread = _Unread("dcmnode anonymize")
    written, refused = _rewrite_each(source, target, clean, BurnedInAnnotationError, unread)
    if args.crosswalk:
        crosswalk.save(args.crosswalk)
    if written == 0 and refused == 0 and unread.count == 0:
        print(f"dcmnode anonymize: no DICOM instances in {source}", file=sys.stderr)
        return 1
    print(
        f"anonymized {written} instance(s) into {target}"
        + (f", skipped {refused} with burned-in annotation" if refused else "")
        + (f", skipped {unread.count} unreadable file(s)" if unread.count else "")
    )
    return 1 if refused or unread.count else 0


def _reidentify(source: Path, target: Path, crosswalk_path: str | None) -> int:
    from dcmnode.dicom.deid import Crosswalk, ReidentificationError

    if not crosswalk_path or not Path(crosswalk_path).exists():
        print(
            "dcmnode anonymize: --reidentify needs --map with an existing crosswalk",
            file=sys.stderr,
        )
        return 2
    crosswalk = Crosswalk.load(crosswalk_path)
    unread = _Unread("dcmnode anonymize")
    written, failed = _rewrite_each(
        source, target, lambda ds: crosswalk.reidentify([ds])[0], ReidentificationError, unread
    )
    print(
        f"re-identified {written} instance(s) into {target}"
        + (f", {failed} not from this crosswalk" if failed else "")
        + (f", skipped {unread.count} unreadable file(s)" if unread.count else "")
    )
    return 0 if written and not failed and not unread.count else 1


def _rewrite_each(
    source: Path,
    target: Path,
    change: Callable[[Dataset], Dataset],
    refusal: type[Exception],
    unread: _Unread,
) -> tuple[int, int]:
    """Write ``change(ds)`` of every DICOM file under *source* into *target*.

    Files named by the new UIDs (``SeriesUID/SOPUID.dcm``), never by patient
    text. A file that cannot be read or rewritten goes to *unread*; one
    *change* refuses with *refusal* is named on stderr. Returns
    ``(written, refused)``.
    """
    from dcmnode.dicom.summary import dicom_files

    written = refused = 0
    for path, ds in dicom_files(source, skipped=unread):
        try:
            result = change(ds)
            folder = target / str(result.SeriesInstanceUID)
            folder.mkdir(parents=True, exist_ok=True)
            result.save_as(folder / f"{result.SOPInstanceUID}.dcm", enforce_file_format=True)
        except refusal as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
            refused += 1
            continue
        except Exception as exc:  # a damaged instance (truncated pixels ...): name it, go on
            unread(path, f"{type(exc).__name__}: {exc}")
            continue
        written += 1
    return written, refused
