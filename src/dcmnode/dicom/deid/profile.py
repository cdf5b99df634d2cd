"""PS3.15 Annex E, Table E.1-1: the Basic Application Level Confidentiality Profile.

Why our own table rather than a library: the maintained Python
de-identifiers either hash UIDs one-way (no re-identification of results,
which a node that sends results back to the source PACS needs) or are driven
by recipe files that re-state the standard less directly. The table is data
from the standard; keeping it here, keyed by pydicom keywords and checked
against pydicom's dictionary in the tests, makes every action reviewable
against PS3.15 line by line.

Action codes (PS3.15 E.1-1): D dummy value, Z zero length (or dummy), X
remove, K keep, C clean, U replace UID consistently. Compound codes such as
``X/Z`` allow the weaker action only where IOD conformance needs it; we
resolve them once in :func:`resolve` in favour of conformance (``X/Z`` → Z,
``X/D`` → D, ``Z/D`` → Z, ``X/Z/D`` → Z, ``X/Z/U*`` → U): an empty or dummy
value carries no identifying information and keeps results valid.
"""

from __future__ import annotations

from pydicom.datadict import tag_for_keyword

__all__ = ["BASIC_PROFILE", "PROFILE_VERSION", "resolve"]

PROFILE_VERSION = "PS3.15 E.1-1 basic profile"

_TABLE = """
AccessionNumber Z
AcquisitionComments X
AcquisitionContextSequence X
AcquisitionDate X/Z
AcquisitionDateTime X/Z/D
AcquisitionDeviceProcessingDescription X/D
AcquisitionProtocolDescription X
AcquisitionTime X/Z
AcquisitionUID U
ActualHumanPerformersSequence X
AdditionalPatientHistory X
AdmissionID X
AdmittingDate X
AdmittingDiagnosesCodeSequence X
AdmittingDiagnosesDescription X
AdmittingTime X
AffectedSOPInstanceUID X
Allergies X
AuthorObserverSequence X
BranchOfService X
CassetteID X
ClinicalTrialCoordinatingCenterName Z
ClinicalTrialProtocolEthicsCommitteeApprovalNumber Z
ClinicalTrialProtocolEthicsCommitteeName D
ClinicalTrialProtocolID D
ClinicalTrialProtocolName Z
ClinicalTrialSiteID Z
ClinicalTrialSiteName Z
ClinicalTrialSponsorName D
ClinicalTrialSubjectID D
ClinicalTrialSubjectReadingID D
ClinicalTrialTimePointDescription X
ClinicalTrialTimePointID Z
CommentsOnThePerformedProcedureStep X
ConcatenationUID U
ConfidentialityConstraintOnPatientDataDescription X
ConsultingPhysicianName X
ContentCreatorIdentificationCodeSequence X
ContentCreatorName Z
ContentDate Z/D
ContentSequence X
ContentTime Z/D
ContextGroupExtensionCreatorUID U
ContrastBolusAgent Z/D
ContributionDescription X
CountryOfResidence X
CreatorVersionUID U
CurrentPatientLocation X
CurveDate X
CurveTime X
CustodialOrganizationSequence X
DataSetTrailingPadding X
DateOfLastCalibration X
DateOfSecondaryCapture X
DerivationDescription X
DetectorID X/D
DeviceSerialNumber X/Z/D
DeviceUID U
DigitalSignatureUID X
DigitalSignaturesSequence X
DimensionOrganizationUID U
DischargeDiagnosisDescription X
DistributionAddress X
DistributionName X
DoseReferenceUID U
EndAcquisitionDateTime X/D
EthnicGroup X
ExpectedCompletionDateTime X
FailedSOPInstanceUIDList U
FiducialUID U
FillerOrderNumberImagingServiceRequest Z
FrameAcquisitionDateTime X/D
FrameComments X
FrameOfReferenceUID U
FrameReferenceDateTime X/D
GantryID X
GeneratorID X
GraphicAnnotationSequence D
HumanPerformerName X
HumanPerformerOrganization X
IconImageSequence X
IdentifyingComments X
ImageComments X
ImagePresentationComments X
ImagingServiceRequestComments X
Impressions X
InstanceCoercionDateTime X
InstanceCreationDate X/D
InstanceCreationTime X/Z/D
InstanceCreatorUID U
InstitutionAddress X
InstitutionCodeSequence X/Z/D
InstitutionName X/Z/D
InstitutionalDepartmentName X
InstitutionalDepartmentTypeCodeSequence X
InsurancePlanIdentification X
IntendedRecipientsOfResultsIdentificationSequence X
InterpretationApproverSequence X
InterpretationAuthor X
InterpretationDiagnosisDescription X
InterpretationIDIssuer X
InterpretationRecorder X
InterpretationText X
InterpretationTranscriber X
IrradiationEventUID U
IssueDateOfImagingServiceRequest X
IssueTimeOfImagingServiceRequest X
IssuerOfAdmissionID X
IssuerOfAdmissionIDSequence X
IssuerOfPatientID X
IssuerOfServiceEpisodeID X
LargePaletteColorLookupTableUID U
LastMenstrualDate X
MAC X
MediaStorageSOPInstanceUID U
MedicalAlerts X
MedicalRecordLocator X
MilitaryRank X
ModifiedAttributesSequence X
ModifiedImageDescription X
ModifyingDeviceID X
NameOfPhysiciansReadingStudy X
NamesOfIntendedRecipientsOfResults X
Occupation X
OperatorIdentificationSequence X
OperatorsName X/Z/D
OrderCallbackPhoneNumber X
OrderEnteredBy X
OrderEntererLocation X
OriginalAttributesSequence X
OtherPatientIDs X
OtherPatientIDsSequence X
OtherPatientNames X
OverlayDate X
OverlayTime X
PaletteColorLookupTableUID U
ParticipantSequence X
PatientAddress X
PatientAge X
PatientBirthDate Z
PatientBirthName X
PatientBirthTime X
PatientComments X
PatientID Z
PatientInsurancePlanCodeSequence X
PatientMotherBirthName X
PatientName Z
PatientPrimaryLanguageCodeSequence X
PatientPrimaryLanguageModifierCodeSequence X
PatientReligiousPreference X
PatientSex Z
PatientSexNeutered X/Z
PatientSize X
PatientState X
PatientTelecomInformation X
PatientTelephoneNumbers X
PatientTransportArrangements X
PatientWeight X
PerformedLocation X
PerformedProcedureStepDescription X
PerformedProcedureStepEndDate X
PerformedProcedureStepEndDateTime X
PerformedProcedureStepEndTime X
PerformedProcedureStepID X
PerformedProcedureStepStartDate X
PerformedProcedureStepStartDateTime X
PerformedProcedureStepStartTime X
PerformedStationAETitle X
PerformedStationGeographicLocationCodeSequence X
PerformedStationName X
PerformedStationNameCodeSequence X
PerformingPhysicianIdentificationSequence X
PerformingPhysicianName X
PersonAddress X
PersonIdentificationCodeSequence D
PersonName D
PersonTelecomInformation X
PersonTelephoneNumbers X
PhysicianApprovingInterpretation X
PhysiciansOfRecord X
PhysiciansOfRecordIdentificationSequence X
PhysiciansReadingStudyIdentificationSequence X
PlacerOrderNumberImagingServiceRequest Z
PlateID X
PreMedication X
PregnancyStatus X
ProcedureCodeSequence X/Z
ProtocolName X/D
RadiopharmaceuticalStartDateTime X
RadiopharmaceuticalStartTime X
RadiopharmaceuticalStopDateTime X
RadiopharmaceuticalStopTime X
ReasonForStudy X
ReasonForTheImagingServiceRequest X
ReferencedDigitalSignatureSequence X
ReferencedFrameOfReferenceUID U
ReferencedGeneralPurposeScheduledProcedureStepTransactionUID U
ReferencedImageSequence X/Z/U*
ReferencedPatientAliasSequence X
ReferencedPatientPhotoSequence X
ReferencedPatientSequence X
ReferencedPerformedProcedureStepSequence X/Z/D
ReferencedSOPInstanceMACSequence X
ReferencedSOPInstanceUID U
ReferencedSOPInstanceUIDInFile U
ReferencedStudySequence X/Z
ReferringPhysicianAddress X
ReferringPhysicianIdentificationSequence X
ReferringPhysicianName Z
ReferringPhysicianTelephoneNumbers X
RegionOfResidence X
RelatedFrameOfReferenceUID U
RequestAttributesSequence X
RequestedContrastAgent X
RequestedProcedureComments X
RequestedProcedureDescription X/Z
RequestedProcedureID X
RequestedProcedureLocation X
RequestedSOPInstanceUID U
RequestingPhysician X
RequestingService X
RequestingServiceCodeSequence X
ResponsibleOrganization X
ResponsiblePerson X
ResultsComments X
ResultsDistributionListSequence X
ResultsIDIssuer X
ReviewerName X/Z
ScheduledHumanPerformersSequence X
ScheduledPatientInstitutionResidence X
ScheduledPerformingPhysicianIdentificationSequence X
ScheduledPerformingPhysicianName X
ScheduledProcedureStepDescription X
ScheduledProcedureStepEndDate X
ScheduledProcedureStepEndTime X
ScheduledProcedureStepLocation X
ScheduledProcedureStepStartDate X
ScheduledProcedureStepStartTime X
ScheduledStationAETitle X
ScheduledStationGeographicLocationCodeSequence X
ScheduledStationName X
ScheduledStationNameCodeSequence X
ScheduledStudyLocation X
ScheduledStudyLocationAETitle X
SeriesDate X/D
SeriesDescription X
SeriesInstanceUID U
SeriesTime X/D
ServiceEpisodeDescription X
ServiceEpisodeID X
SmokingStatus X
SOPInstanceUID U
SourceApplicationEntityTitle X
SourceImageSequence X/Z/U*
SpecialNeeds X
SpecimenAccessionNumber X
StationName X/Z/D
StorageMediaFileSetUID U
StudyArrivalDate X
StudyArrivalTime X
StudyComments X
StudyCompletionDate X
StudyCompletionTime X
StudyDate Z
StudyDescription X
StudyID Z
StudyIDIssuer X
StudyInstanceUID U
StudyReadDate X
StudyReadTime X
StudyTime Z
StudyVerifiedDate X
StudyVerifiedTime X
SynchronizationFrameOfReferenceUID U
TemplateExtensionCreatorUID U
TemplateExtensionOrganizationUID U
TextComments X
TextString X
TimeOfLastCalibration X
TimeOfSecondaryCapture X
TimezoneOffsetFromUTC X
TopicAuthor X
TopicKeywords X
TopicSubject X
TopicTitle X
TransactionUID U
UID U
VerifyingObserverIdentificationCodeSequence Z
VerifyingObserverName D
VerifyingObserverSequence X/D
VerifyingOrganization X
VisitComments X
"""

_RESOLVED = {"X/Z": "Z", "X/D": "D", "Z/D": "Z", "X/Z/D": "Z", "X/Z/U*": "U"}


def resolve(action: str) -> str:
    """Turn a compound action code into the single action we apply."""
    return _RESOLVED.get(action, action)


def _parse(text: str) -> dict[int, str]:
    table: dict[int, str] = {}
    for line in text.strip().splitlines():
        keyword, action = line.split()
        tag = tag_for_keyword(keyword)
        if tag is None:
            # A keyword newer than the installed pydicom dictionary cannot
            # occur in datasets it parses by name; skip rather than fail.
            continue
        table[tag] = resolve(action)
    return table


#: Tag → resolved action (one of D, Z, X, U) for the basic profile.
BASIC_PROFILE: dict[int, str] = _parse(_TABLE)
#: Keyword → action exactly as written in the standard (for review and tests).
STANDARD_ACTIONS: dict[str, str] = dict(line.split() for line in _TABLE.strip().splitlines())
