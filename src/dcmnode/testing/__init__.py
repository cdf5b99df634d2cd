"""Helpers for testing pipelines: synthetic series, a recording SCP, a node on a free port.

`series` makes quick image series of any modality for network tests;
`ct_series` makes CT series with exactly known geometry (oblique, tilted,
uneven spacing) for tests of grinders and result builders.
"""

from dcmnode.testing.node import running
from dcmnode.testing.recorder import JobRecorder
from dcmnode.testing.scp import RecordingSCP
from dcmnode.testing.synthetic import series
from dcmnode.testing.volumes import ct_series, default_ct_array

__all__ = [
    "JobRecorder",
    "RecordingSCP",
    "ct_series",
    "default_ct_array",
    "running",
    "series",
]
