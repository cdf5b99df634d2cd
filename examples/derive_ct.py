"""Example pipeline: a CT series in, a derived (inverted) CT series out.

Run it::

    dcmnode run examples/derive_ct.py --port 11112 --set destination=PACS@127.0.0.1:104

and send it a CT series (``dcmnode store 127.0.0.1 11112 FOLDER --aec DERIVE``).
Each complete series comes back to ``destination`` as a new series in the
same study: new Series and SOP Instance UIDs, the same patient and geometry,
and the values mirrored inside their range.
"""

from __future__ import annotations

from dcmnode import Address, DicomOutput, Input, Job, NoOutput, Pipeline
from dcmnode.dicom import derived_series
from dcmnode.grinders import Volume, VolumeGrinder


class CT(Input):
    """Any CT image with geometry; one series per job, ground into a `Volume`."""

    required_values = {"Modality": "CT"}
    required_tags = ["ImagePositionPatient", "PixelData"]
    single_series = True
    grinder = VolumeGrinder()


class DeriveCT(Pipeline):
    """Invert every CT series it receives and send the result on."""

    ae_title = "DERIVE"
    port = 11112
    inputs = {"ct": CT}
    destination: Address | None = None

    def process(self, job: Job) -> DicomOutput | NoOutput:
        volume: Volume = job.inputs["ct"]
        inverted = volume.array.max() + volume.array.min() - volume.array
        derived = derived_series(
            inverted,
            volume,
            series_description="dcmnode inverted",
            series_number=int(volume.datasets[0].get("SeriesNumber", 0) or 0) + 1000,
            derivation_description="values mirrored within their range by dcmnode",
        )
        if self.destination is None:
            return NoOutput()
        return DicomOutput(derived, self.destination)
