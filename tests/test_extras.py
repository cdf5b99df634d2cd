"""Optional extras: dcmnode without highdicom, nibabel and matplotlib.

The cases run in fresh interpreters in which those packages are made
unimportable (a ``None`` entry in ``sys.modules`` makes ``import x`` raise
ImportError) before dcmnode is imported, as after ``pip install dcmnode``
without ``[results]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import dcmnode
from dcmnode.errors import DcmnodeError, MissingExtraError
from dcmnode.extras import require

RESULTS_PACKAGES = ("highdicom", "nibabel", "matplotlib")
INSTALL_RESULTS = "pip install 'dcmnode[results]'"

_PRELUDE = f"""\
import sys
for name in {RESULTS_PACKAGES!r}:
    sys.modules[name] = None
"""


def run_without_results(code: str) -> str:
    """Run ``code`` in a new interpreter without the ``results`` extra; return its stdout."""
    # The child imports the same dcmnode as this test, wherever it lives.
    source = str(Path(dcmnode.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, "-c", _PRELUDE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_light_features_work_without_the_results_extra() -> None:
    out = run_without_results(
        """
        import json

        import numpy as np

        import dcmnode.dicom
        import dcmnode.grinders
        import dcmnode.testing
        from dcmnode.dicom import anonymize, derived_series, encapsulated_pdf
        from dcmnode.grinders import TagsGrinder, VolumeGrinder
        from dcmnode.testing import ct_series, series

        ct = ct_series()
        volume = VolumeGrinder()(ct)
        derived = derived_series(
            volume.array // 2, volume, series_description="Half", series_number=9
        )
        tags = TagsGrinder(["PatientID", "Modality"])(series(count=3))
        doc = encapsulated_pdf(b"%PDF-1.4 tiny", ct)
        anonymized = anonymize(ct[:1])[0]
        print(json.dumps({
            "shape": list(volume.shape),
            "derived": len(derived),
            "derived_study": str(derived[0].StudyInstanceUID) == str(ct[0].StudyInstanceUID),
            "derived_pixels": derived[0].pixel_array.shape == tuple(volume.shape[1:3]),
            "tags": tags,
            "doc": str(doc.Modality),
            "anonymized": str(anonymized.PatientID) != str(ct[0].PatientID),
            "blocked": [sys.modules[n] is None for n in ("highdicom", "nibabel", "matplotlib")],
        }))
        """
    )
    result = json.loads(out)
    assert result["shape"] == [8, 16, 12]
    assert result["derived"] == 8
    assert result["derived_study"] and result["derived_pixels"]
    assert result["tags"] == {"PatientID": "PAT0001", "Modality": "CT"}
    assert result["doc"] == "DOC"
    assert result["anonymized"]
    assert result["blocked"] == [True, True, True]


HEAVY_FEATURES = {
    "to_nifti": (
        "nibabel",
        "from dcmnode.grinders import to_nifti; to_nifti(volume)",
    ),
    "NiftiGrinder": (
        "nibabel",
        "from dcmnode.grinders import NiftiGrinder; NiftiGrinder()",
    ),
    "segmentation": (
        "highdicom",
        "from dcmnode.dicom import segmentation\n"
        "segmentation(volume.array > 0, volume, segments=['Positive'])",
    ),
    "measurement_report": (
        "highdicom",
        "from dcmnode.dicom import Measurement, measurement_report\n"
        "measurement_report(volume, [Measurement('Mean', 1.0, '[hnsf\\'U]')])",
    ),
    "secondary_capture": (
        "highdicom",
        "from dcmnode.dicom import secondary_capture\n"
        "secondary_capture(np.zeros((8, 8, 3), np.uint8), volume)",
    ),
    "pdf_report": (
        "matplotlib",
        "from dcmnode.dicom import pdf_report; pdf_report(volume, title='Report')",
    ),
    "render_pdf": (
        "matplotlib",
        "from dcmnode.dicom import render_pdf; render_pdf('Report')",
    ),
}


_HEAVY_CASES = """\
import json

import numpy as np

from dcmnode.errors import DcmnodeError, MissingExtraError
from dcmnode.grinders import VolumeGrinder
from dcmnode.testing import ct_series

volume = VolumeGrinder()(ct_series())
results = {}
"""

_HEAVY_CASE = """\
try:
CALL
except MissingExtraError as error:
    results[FEATURE] = {
        "message": str(error),
        "name": error.name,
        "import_error": isinstance(error, ImportError),
        "dcmnode_error": isinstance(error, DcmnodeError),
    }
else:
    results[FEATURE] = None
"""


@pytest.fixture(scope="module")
def heavy_results() -> dict[str, Any]:
    """What each heavy feature raised, from one interpreter without the extra.

    One interpreter for all features keeps the test fast (importing pydicom
    is most of the time); each feature runs in its own ``try``.
    """
    script = _HEAVY_CASES + "".join(
        _HEAVY_CASE.replace("CALL", textwrap.indent(call, "    ")).replace("FEATURE", repr(name))
        for name, (_, call) in HEAVY_FEATURES.items()
    )
    results: dict[str, Any] = json.loads(run_without_results(script + "print(json.dumps(results))"))
    return results


@pytest.mark.parametrize("feature", sorted(HEAVY_FEATURES))
def test_heavy_feature_names_the_results_extra(feature: str, heavy_results: dict[str, Any]) -> None:
    package, _ = HEAVY_FEATURES[feature]
    result = heavy_results[feature]
    assert result is not None, f"{feature} worked without {package}"
    assert INSTALL_RESULTS in result["message"]
    assert package in result["message"]
    assert feature in result["message"]
    assert result["name"].split(".")[0] == package
    assert result["import_error"] and result["dcmnode_error"]


def test_require_names_the_extra_of_a_missing_module() -> None:
    with pytest.raises(MissingExtraError) as caught:
        require("results", "dcmnode_no_such_module", "Frobnication")
    error = caught.value
    message = str(error)
    assert "Frobnication" in message
    assert "dcmnode_no_such_module" in message
    assert INSTALL_RESULTS in message
    assert isinstance(error, ImportError) and isinstance(error, DcmnodeError)
    assert error.name == "dcmnode_no_such_module"
    assert isinstance(error.__cause__, ModuleNotFoundError)


def test_require_returns_an_installed_module() -> None:
    import json as json_module

    assert require("dask", "json", "JSON") is json_module


def test_dask_runner_names_the_dask_extra() -> None:
    out = run_without_results(
        """
        import json
        sys.modules["distributed"] = None

        from dcmnode import Node
        from dcmnode.errors import MissingExtraError
        from dcmnode.runners import DaskRunner, ThreadRunner
        from dcmnode.testing import running

        try:
            DaskRunner()
        except MissingExtraError as error:
            message = str(error)
        else:
            message = None
        print(json.dumps({"message": message, "thread": ThreadRunner.__name__}))
        """
    )
    result = json.loads(out)
    assert result["message"] is not None, "DaskRunner was made without distributed"
    assert "pip install 'dcmnode[dask]'" in result["message"]
    assert "DaskRunner" in result["message"]
