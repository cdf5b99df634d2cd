"""De-identification (PS3.15 basic profile) with a re-identifying crosswalk.

As a pipeline step, ``process`` sees only de-identified data and its results
go back under the patient's real identity::

    CROSSWALK = Crosswalk.load_or_create("crosswalk.json")  # identifying: keep safe

    class CT(Input):
        required_values = {"Modality": "CT"}
        grinder = anonymizing(VolumeGrinder(), CROSSWALK, shift_dates=True)

    class Node(Pipeline):
        inputs = {"ct": CT}

        def process(self, job):
            volume = job.inputs["ct"]          # pseudonymised patient, new UIDs
            result = derived_series(...)       # built from the pseudonymised volume
            CROSSWALK.save("crosswalk.json")   # the same pseudonyms next time
            return DicomOutput(CROSSWALK.reidentify(result), self.destination)

``reidentify`` maps every UID the crosswalk made back to the original (so a
result's references point at the real source images) and restores the
patient and study attributes; it refuses data it did not anonymise.
"""

from .anonymize import (
    PROFILES,
    BurnedInAnnotationError,
    anonymize,
    anonymizing,
    burned_in_annotation,
    find_burned_in,
)
from .crosswalk import Crosswalk, Pseudonym, ReidentificationError
from .profile import BASIC_PROFILE, PROFILE_VERSION, STANDARD_ACTIONS

__all__ = [
    "BASIC_PROFILE",
    "PROFILES",
    "PROFILE_VERSION",
    "STANDARD_ACTIONS",
    "BurnedInAnnotationError",
    "Crosswalk",
    "Pseudonym",
    "ReidentificationError",
    "anonymize",
    "anonymizing",
    "burned_in_annotation",
    "find_burned_in",
]
