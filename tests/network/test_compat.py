"""A pynetdicom without the internals dcmnode relies on fails at import, naming its version."""

from __future__ import annotations

import subprocess
import sys

import pynetdicom

from dcmnode.network.compat import missing_internals

# Stands in for a pynetdicom release that renamed an internal: the attribute
# the requestor parks is removed from every new Association.
RENAMED_INTERNAL = """
from pynetdicom.association import Association

original = Association.__init__

def without_checkpoint(self, *args, **kwargs):
    original(self, *args, **kwargs)
    del self._reactor_checkpoint

Association.__init__ = without_checkpoint
"""


def test_this_pynetdicom_has_every_internal():
    assert missing_internals() == []


def test_a_renamed_internal_fails_at_import_naming_the_version():
    for module in ("dcmnode.network.scp", "dcmnode.network.scu"):
        result = subprocess.run(
            [sys.executable, "-c", RENAMED_INTERNAL + f"\nimport {module}\n"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0, f"{module} imported despite the missing internal"
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("ImportError:"), result.stderr
        assert f"pynetdicom {pynetdicom.__version__}" in last
        assert "Association._reactor_checkpoint" in last
        assert "pip install 'pynetdicom>=3.0,<3.1'" in last
