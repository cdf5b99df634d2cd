"""Example pipeline: a CT series in, a DICOM SEG of the voxels above a threshold out.

Run it::

    dcmnode run examples/segment_threshold.py --set destination=PACS@127.0.0.1:104

and send it a CT series (``dcmnode store 127.0.0.1 11112 FOLDER --aec SEGNODE``).
The input's grinder hands ``process`` a :class:`~dcmnode.grinders.Volume`
(slices ordered by position, HU values, affine), so the threshold works on
a 3-D array; :func:`threshold_segmentation` then writes a SEG that a viewer
overlays on the source series in the right place.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from dcmnode import Address, DicomOutput, Input, Job, NoOutput, Pipeline
from dcmnode.dicom import Segment, segmentation
from dcmnode.grinders import Volume, VolumeGrinder


def threshold_segmentation(volume: Volume, threshold: float = 300.0) -> Dataset:
    """A SEG marking the voxels of ``volume`` at or above ``threshold`` (HU) as bone.

    Kept apart from the pipeline so it can be tested without a network.
    """
    mask = np.asarray(volume.array) >= threshold
    bone = Segment(label=f">= {threshold:g} HU", category=codes.SCT.Tissue,
                   property_type=codes.SCT.Bone)
    return segmentation(mask, volume, segments=[bone],
                        series_description=f"Threshold {threshold:g} HU",
                        series_number=int(volume.datasets[0].get("SeriesNumber") or 0) + 3000,
                        algorithm_name="dcmnode threshold example", algorithm_version="1")


class CT(Input):
    """One CT series with geometry; handed to ``process`` as a Volume."""

    required_values = {"Modality": "CT"}
    required_tags = ["ImagePositionPatient", "PixelData"]
    single_series = True
    grinder = VolumeGrinder()


class SegmentThreshold(Pipeline):
    """Segment every CT series it receives and send the SEG on."""

    ae_title = "SEGNODE"
    port = 11112
    inputs = {"ct": CT}
    destination: Address | None = None  # a setting: --set destination=AET@host:port
    threshold: float = 300.0  # a setting: --set threshold=200

    def process(self, job: Job) -> DicomOutput | NoOutput:
        volume: Volume = job.inputs["ct"]
        seg = threshold_segmentation(volume, self.threshold)
        if self.destination is None:
            return NoOutput()
        return DicomOutput([seg], self.destination)
