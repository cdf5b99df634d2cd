"""De-identification (PS3.15 basic profile) with a re-identifying crosswalk."""

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
