"""The crosswalk: pseudonyms and UID mappings that allow re-identification.

A crosswalk holds identifying data (the original patient and study
attributes), so its JSON file must be stored like any other patient data.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from .._common import PATIENT_KEYWORDS, STUDY_KEYWORDS

__all__ = ["Crosswalk", "Pseudonym", "ReidentificationError"]

FORMAT_VERSION = 1
# Shifts stay within ten years back, never zero, so a shifted date can not be
# mistaken for the original one.
MAX_SHIFT_DAYS = 3650


class ReidentificationError(KeyError):
    """A dataset does not come from data anonymised with this crosswalk."""


@dataclass(frozen=True)
class Pseudonym:
    """What replaces one patient's identity."""

    patient_id: str
    patient_name: str
    date_shift_days: int  # negative: dates move into the past


class Crosswalk:
    """Consistent pseudonyms and UIDs, and the originals to restore them.

    UIDs and pseudonyms are derived with HMAC-SHA256 from a secret key: the
    same original always maps to the same replacement - across series, jobs
    and processes that share the key - and nobody without the key can link
    them back. Every mapping is also recorded so that :meth:`reidentify` can
    invert it. Methods are thread-safe.

    Parameters
    ----------
    secret
        Hex key; a random 256-bit key when omitted. Saved with :meth:`save`.
    """

    def __init__(self, secret: str | None = None) -> None:
        if secret is not None and not isinstance(secret, str):
            raise TypeError(f"argument 'secret' must be a str, got {type(secret).__name__}")
        self.secret = secret or secrets.token_hex(32)
        # The messages never repeat the secret: it would end up in logs.
        try:
            self._key = bytes.fromhex(self.secret)
        except ValueError as exc:
            raise ValueError(
                "argument 'secret' must be a hexadecimal string, got other characters"
            ) from exc
        if len(self._key) < 16:
            raise ValueError(
                "argument 'secret' must hold at least 16 bytes (32 hex digits), "
                f"got {len(self._key)} bytes"
            )
        self._lock = threading.Lock()
        self._uids: dict[str, str] = {}  # original -> replacement
        self._originals: dict[str, str] = {}  # replacement -> original
        self._patients: dict[str, Pseudonym] = {}  # original PatientID -> pseudonym
        self._studies: dict[str, dict[str, Any]] = {}  # new StudyInstanceUID -> DICOM JSON

    # -- mapping -----------------------------------------------------------
    def _digest(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """The replacement for ``original`` (a ``2.25`` UUID-style UID)."""
        with self._lock:
            known = self._uids.get(original)
            if known is not None:
                return known
            # 2.25.<128-bit integer> is the UUID-derived root of PS3.5 B.2.
            replacement = "2.25." + str(int.from_bytes(self._digest("uid", original)[:16], "big"))
            self._uids[original] = replacement
            self._originals[replacement] = original
            return replacement

    def pseudonym(self, patient_id: str) -> Pseudonym:
        """The pseudonym of the patient with this (original) PatientID."""
        with self._lock:
            known = self._patients.get(patient_id)
            if known is not None:
                return known
            digest = self._digest("patient", patient_id)
            code = digest[:6].hex().upper()
            shift = -(1 + int.from_bytes(digest[6:10], "big") % MAX_SHIFT_DAYS)
            made = Pseudonym(
                patient_id=f"ANON{code}", patient_name=f"ANON^{code}", date_shift_days=shift
            )
            self._patients[patient_id] = made
            return made

    def remember_study(self, new_study_uid: str, original: Dataset) -> None:
        """Record the patient and study attributes of ``original`` for re-identification."""
        kept = Dataset()
        for keyword in PATIENT_KEYWORDS + STUDY_KEYWORDS + ("SpecificCharacterSet",):
            if keyword in original:
                kept[keyword] = copy.deepcopy(original[keyword])
        with self._lock:
            self._studies.setdefault(new_study_uid, kept.to_json_dict())

    def original_uid(self, replacement: str) -> str | None:
        """The original of a replacement UID, or None if this crosswalk never made it."""
        with self._lock:
            return self._originals.get(replacement)

    # -- re-identification -------------------------------------------------
    def reidentify(self, datasets: Iterable[Dataset]) -> list[Dataset]:
        """Return copies of ``datasets`` with the original identity restored.

        Every UID this crosswalk produced is mapped back (at any depth, so
        references from a SEG or SR to the source images are restored), and
        the patient and study attributes are those recorded for the study.
        UIDs the crosswalk did not produce - those of new result instances -
        are kept.

        Raises
        ------
        ReidentificationError
            If a dataset's study was not anonymised with this crosswalk
            (sending it on would file a result under a pseudonym).
        """
        results = []
        for source in datasets:
            ds = copy.deepcopy(source)
            study_uid = str(ds.get("StudyInstanceUID", ""))
            with self._lock:
                record = self._studies.get(study_uid)
            if record is None:
                raise ReidentificationError(
                    f"study {study_uid or '<absent>'} of instance {ds.get('SOPInstanceUID')} "
                    "was not anonymised with this crosswalk"
                )
            self._restore_uids(ds)
            originals = Dataset.from_json(record)
            for keyword in PATIENT_KEYWORDS + STUDY_KEYWORDS:
                if keyword in ds and keyword not in originals:
                    del ds[keyword]
            for element in originals:
                ds[element.tag] = element
            for keyword in (
                "PatientIdentityRemoved",
                "DeidentificationMethod",
                "DeidentificationMethodCodeSequence",
                "LongitudinalTemporalInformationModified",
            ):
                if keyword in ds:
                    del ds[keyword]
            if hasattr(ds, "file_meta") and "SOPInstanceUID" in ds:
                ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            results.append(ds)
        return results

    def _restore_uids(self, ds: Dataset) -> None:
        for element in ds:
            if element.VR == "SQ":
                for item in element.value:
                    self._restore_uids(item)
            elif element.VR == "UI" and element.value:
                values = element.value if element.VM > 1 else [element.value]
                restored = [self.original_uid(str(v)) or str(v) for v in values]
                element.value = restored if element.VM > 1 else restored[0]

    # -- persistence -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable content (includes identifying data)."""
        with self._lock:
            return {
                "format": "dcmnode-crosswalk",
                "version": FORMAT_VERSION,
                "secret": self.secret,
                "uids": dict(self._uids),
                "patients": {k: vars(v) for k, v in self._patients.items()},
                "studies": dict(self._studies),
            }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Crosswalk:
        """Rebuild a crosswalk written by :meth:`to_dict`."""
        if data.get("format") != "dcmnode-crosswalk" or data.get("version") != FORMAT_VERSION:
            raise ValueError("data is not a dcmnode crosswalk of a supported version")
        made = cls(data["secret"])
        made._uids = dict(data["uids"])
        made._originals = {v: k for k, v in made._uids.items()}
        made._patients = {k: Pseudonym(**v) for k, v in data["patients"].items()}
        made._studies = dict(data["studies"])
        return made

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the crosswalk as JSON (readable by the owner only), atomically."""
        target = Path(path)
        content = self.to_dict()
        # A unique temporary name per call: two workers saving at once each
        # write their own file, and the last rename wins whole.
        fd, temporary = tempfile.mkstemp(
            prefix=target.name + ".", suffix=".tmp", dir=target.parent
        )  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(content, handle, indent=1)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Crosswalk:
        """Read a crosswalk saved with :meth:`save`."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str]) -> Crosswalk:
        """Load ``path`` if it exists, else a new crosswalk (saved by the caller)."""
        return cls.load(path) if Path(path).exists() else cls()

    def __len__(self) -> int:
        return len(self._uids)

    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(Crosswalk.from_dict(state).__dict__)

    def __repr__(self) -> str:
        return f"Crosswalk(patients={len(self._patients)}, uids={len(self._uids)})"
