"""Example pipeline: a CT series in, a derived (inverted) CT series out.

Run it::

    dcmnode run examples/derive_ct.py --port 11112 --set destination=PACS@127.0.0.1:104

and send it a CT series (``dcmnode store 127.0.0.1 11112 FOLDER --aec DERIVE``).
Each complete series comes back to ``destination`` as a new series in the
same study: new Series and SOP Instance UIDs, the same patient, and the
pixel values mirrored inside their range.
"""

from __future__ import annotations

import copy

import numpy as np
from pydicom.uid import generate_uid

from dcmnode import Address, DicomOutput, Input, Job, NoOutput, Pipeline


class CT(Input):
    """Any CT image with geometry; one series per job."""

    required_values = {"Modality": "CT"}
    required_tags = ["ImagePositionPatient", "PixelData"]
    single_series = True


class DeriveCT(Pipeline):
    """Invert every CT series it receives and send the result on."""

    ae_title = "DERIVE"
    port = 11112
    inputs = {"ct": CT}
    destination: Address | None = None

    def process(self, job: Job) -> DicomOutput | NoOutput:
        series_uid = generate_uid()
        derived = []
        for source in job.inputs["ct"]:
            pixels = source.pixel_array
            inverted = (int(pixels.max()) + int(pixels.min()) - pixels.astype(np.int32)).astype(
                pixels.dtype
            )
            ds = copy.deepcopy(source)
            ds.SeriesInstanceUID = series_uid
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.SeriesNumber = int(source.get("SeriesNumber", 0) or 0) + 1000
            ds.SeriesDescription = "dcmnode inverted"
            ds.ImageType = ["DERIVED", "SECONDARY"]
            ds.DerivationDescription = "pixel values mirrored within their range by dcmnode"
            ds.PixelData = inverted.tobytes()
            derived.append(ds)
        if self.destination is None:
            return NoOutput()
        return DicomOutput(derived, self.destination)
