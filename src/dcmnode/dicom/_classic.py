"""Classic single-frame headers from enhanced multi-frame sources.

``derived_series`` writes classic CT, MR and PET images, the objects every
PACS and viewer reads. When the source is an Enhanced (or Legacy Converted
Enhanced) multi-frame object, the attributes a classic image needs are
spread over the top level and the functional groups; this module gathers
them for one frame into a flat header that the classic modules can be
copied from.
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    EnhancedMRImageStorage,
    EnhancedPETImageStorage,
    LegacyConvertedEnhancedCTImageStorage,
    LegacyConvertedEnhancedMRImageStorage,
    LegacyConvertedEnhancedPETImageStorage,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
)

__all__ = ["CLASSIC_OF", "classic_header"]

#: The classic storage class that holds a frame of each enhanced class.
CLASSIC_OF: dict[str, str] = {
    EnhancedCTImageStorage: CTImageStorage,
    LegacyConvertedEnhancedCTImageStorage: CTImageStorage,
    EnhancedMRImageStorage: MRImageStorage,
    LegacyConvertedEnhancedMRImageStorage: MRImageStorage,
    EnhancedPETImageStorage: PositronEmissionTomographyImageStorage,
    LegacyConvertedEnhancedPETImageStorage: PositronEmissionTomographyImageStorage,
}

# Top-level attributes that only a multi-frame object has (or whose meaning
# is the whole multi-frame object's); a classic image must not carry them.
_MULTIFRAME_ONLY = {
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
    "NumberOfFrames",
    "DimensionOrganizationSequence",
    "DimensionIndexSequence",
    "DimensionOrganizationType",
    "PixelPresentation",
    "VolumetricProperties",
    "VolumeBasedCalculationTechnique",
    "ContentQualification",
    "AcquisitionContextSequence",
    "PresentationLUTShape",
    "ReferencedSeriesSequence",
    "ReferencedImageEvidenceSequence",
    "SourceImageEvidenceSequence",
    "ConcatenationUID",
    "InConcatenationNumber",
    "InConcatenationTotalNumber",
    "ConcatenationFrameOffsetNumber",
    "RepresentativeFrameNumber",
    "FrameIncrementPointer",
    "IsoCenterPosition",
    "PixelData",
}

# Functional group macros whose attributes are those of the classic modules:
# (sequence, {attribute in the macro: classic keyword}).
_MACROS = (
    ("PixelMeasuresSequence", {"SliceThickness": "SliceThickness"}),
    ("CTXRayDetailsSequence", {"KVP": "KVP"}),
    ("CTAcquisitionDetailsSequence", {"ExposureTime": "ExposureTime"}),
    ("MRTimingAndRelatedParametersSequence", {
        "RepetitionTime": "RepetitionTime", "EchoTrainLength": "EchoTrainLength",
    }),
    ("MREchoSequence", {"EffectiveEchoTime": "EchoTime"}),
    ("FrameAnatomySequence", {"FrameLaterality": "ImageLaterality"}),
)  # fmt: skip


def classic_header(source: Dataset, frame: int) -> Dataset:
    """A flat header of frame ``frame`` (1-based) of an enhanced ``source``.

    Top-level attributes come first; then, for attributes not at the top,
    the values the functional groups give this frame (per-frame groups
    before shared ones) and those a legacy conversion kept unassigned.
    """
    header = Dataset()
    for element in source:
        if element.keyword not in _MULTIFRAME_ONLY:
            header.add(element)
    groups = []
    per_frame = source.get("PerFrameFunctionalGroupsSequence") or []
    if 0 < frame <= len(per_frame):
        groups.append(per_frame[frame - 1])
    groups.extend(source.get("SharedFunctionalGroupsSequence") or [])
    for group in groups:
        for name in (
            "UnassignedPerFrameConvertedAttributesSequence",
            "UnassignedSharedConvertedAttributesSequence",
        ):
            for item in group.get(name) or []:
                for element in item:
                    if element.keyword not in header:
                        header.add(element)
        for sequence, mapping in _MACROS:
            for item in group.get(sequence) or []:
                for inner, keyword in mapping.items():
                    if inner in item and keyword not in header:
                        setattr(header, keyword, item[inner].value)
    # The elements are the source's own objects (the caller copies what it
    # keeps): replace the class element instead of assigning to it, which
    # would change the source.
    del header.SOPClassUID
    header.SOPClassUID = CLASSIC_OF[str(source.SOPClassUID)]
    return header
