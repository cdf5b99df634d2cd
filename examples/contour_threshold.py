"""Example pipeline: a CT series in, an RT Structure Set with two contoured ROIs out.

Run it::

    dcmnode run examples/contour_threshold.py --set destination=TPS@127.0.0.1:104

and send it a CT series (``dcmnode store 127.0.0.1 11113 FOLDER --aec CONTOURNODE``).
The body outline (everything above -500 HU) becomes an EXTERNAL ROI and the
bone (300 HU and above) an ORGAN ROI; a treatment planning system imports
them as planar contours on the CT's slices, holes and separate islands
included. The two masks overlap, so they go to :func:`rtstruct` as one mask
per ROI rather than as a label map.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from dcmnode import Address, DicomOutput, Input, Job, NoOutput, Pipeline
from dcmnode.dicom import ROI, rtstruct
from dcmnode.grinders import Volume, VolumeGrinder


def threshold_contours(volume: Volume, body: float = -500.0, bone: float = 300.0) -> Dataset:
    """An RTSTRUCT with the body outline and the bone of ``volume`` (HU thresholds).

    Kept apart from the pipeline so it can be tested without a network.
    """
    values = np.asarray(volume.array)
    rois = [
        ROI("Body", color=(255, 200, 0), interpreted_type="EXTERNAL"),
        ROI("Bone", color=(230, 230, 230), interpreted_type="ORGAN"),
    ]
    return rtstruct(
        [values > body, values >= bone],
        volume,
        rois=rois,
        label="Thresholds",
        series_description=f"Body > {body:g} HU, bone >= {bone:g} HU",
    )


class CT(Input):
    """One CT series with geometry; handed to ``process`` as a Volume."""

    required_values = {"Modality": "CT"}
    required_tags = ["ImagePositionPatient", "FrameOfReferenceUID", "PixelData"]
    single_series = True
    grinder = VolumeGrinder()


class ContourThreshold(Pipeline):
    """Contour every CT series it receives and send the structure set on."""

    ae_title = "CONTOURNODE"
    port = 11113
    inputs = {"ct": CT}
    destination: Address | None = None  # a setting: --set destination=AET@host:port
    body: float = -500.0  # a setting: --set body=-300
    bone: float = 300.0  # a setting: --set bone=250

    def process(self, job: Job) -> DicomOutput | NoOutput:
        volume: Volume = job.inputs["ct"]
        structure_set = threshold_contours(volume, self.body, self.bone)
        if self.destination is None:
            return NoOutput()
        return DicomOutput([structure_set], self.destination)
