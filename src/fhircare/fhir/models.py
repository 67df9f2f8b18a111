"""Shim over the ``fhir.resources`` R4B models: the only module that imports that package.

We serve FHIR 4.0.1 (https://hl7.org/fhir/R4/) but validate with the R4B (4.3.0) pydantic
models, which accept R4 JSON for every type R4 and R4B share. Everything else in fhircare
reaches the models through the functions here (served types, model classes, the model
behind a field's type, running a model), so a model-library upgrade starts in this file.

Built on these: ``rule_tree`` (what validation checks beyond the models), ``value_sets``
(corrected required bindings) and ``model_errors`` (pydantic errors as FHIR issues).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from fhir.resources.R4B import fhirtypes as _fhirtypes
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

__all__ = [
    "RESOURCE_TYPES",
    "fhirtype_model",
    "fhirtype_path",
    "mandatory_elements",
    "model_class",
    "pydantic_errors",
    "summary_elements",
]

_PACKAGE = "fhir.resources.R4B."

# Every resource type of FHIR 4.0.1: https://hl7.org/fhir/R4/resourcelist.html
_R4_RESOURCE_TYPES = frozenset(
    """
    Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse
    AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement
    CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse
    ClinicalImpression CodeSystem Communication CommunicationRequest CompartmentDefinition
    Composition ConceptMap Condition Consent Contract Coverage CoverageEligibilityRequest
    CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric DeviceRequest
    DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference EffectEvidenceSynthesis
    Encounter Endpoint EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence
    EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal
    GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
    ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice
    Library Linkage List Location Measure MeasureReport Media Medication MedicationAdministration
    MedicationDispense MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct
    MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
    MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
    MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect
    MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
    ObservationDefinition OperationDefinition OperationOutcome Organization OrganizationAffiliation
    Parameters Patient PaymentNotice PaymentReconciliation Person PlanDefinition Practitioner
    PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse RelatedPerson
    RequestGroup ResearchDefinition ResearchElementDefinition ResearchStudy ResearchSubject
    RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen
    SpecimenDefinition StructureDefinition StructureMap Subscription Substance SubstanceNucleicAcid
    SubstancePolymer SubstanceProtein SubstanceReferenceInformation SubstanceSourceMaterial
    SubstanceSpecification SupplyDelivery SupplyRequest Task TerminologyCapabilities TestReport
    TestScript ValueSet VerificationResult VisionPrescription
    """.split()  # noqa: SIM905 - one name per word reads better than 146 quoted lines
)

# Same name in R4 and R4B but redesigned in R4B (https://hl7.org/fhir/R4B/diff.html): the R4B
# model would reject valid R4 instances, so we do not serve them.
_REDEFINED_IN_R4B = frozenset({"Evidence", "EvidenceVariable"})


def fhirtype_path(tp: Any) -> str | None:
    """Dotted model path of a fhirtypes ``XxxType`` annotation, e.g. '...reference.Reference'.

    None for anything else (primitives). Reading it imports nothing.
    """
    dotted = getattr(tp, "_model_klass", None)
    return dotted if isinstance(dotted, str) else None


def fhirtype_model(tp: Any) -> type[BaseModel]:
    """The model class behind a fhirtypes ``XxxType`` annotation (imports its module)."""
    cls: type[BaseModel] = tp.get_model_klass()
    return cls


def _r4b_top_level_names() -> set[str]:
    """Names of the R4B model classes that have a module of their own, without importing them.

    Importing all ~190 model modules takes seconds; ``fhirtypes`` already lists each class's
    dotted path, and resources and datatypes live in ``<lowercased name>.py``.
    """
    names: set[str] = set()
    for attr in _fhirtypes.__all__:
        dotted = fhirtype_path(getattr(_fhirtypes, attr, None))
        if dotted is not None and dotted.startswith(_PACKAGE):
            module, _, cls_name = dotted[len(_PACKAGE) :].rpartition(".")
            if module == cls_name.lower():
                names.add(cls_name)
    return names


#: Resource types this server can validate: R4 types the R4B models know with unchanged content.
#: R4B-only types (SubscriptionTopic, Citation, ...) and R4 types R4B dropped are excluded.
RESOURCE_TYPES: frozenset[str] = frozenset(
    (_R4_RESOURCE_TYPES & _r4b_top_level_names()) - _REDEFINED_IN_R4B
)


@cache
def model_class(resource_type: str) -> type[BaseModel]:
    """The R4B pydantic model for a type in ``RESOURCE_TYPES``; ``KeyError`` otherwise."""
    if resource_type not in RESOURCE_TYPES:
        raise KeyError(resource_type)
    return fhirtype_model(getattr(_fhirtypes, resource_type + "Type"))


def pydantic_errors(resource_type: str, data: Mapping[str, Any]) -> list[ErrorDetails]:
    """Validate ``data`` with the model of ``resource_type``: pydantic's errors, [] if valid.

    Anything the model raises besides ``ValidationError`` propagates; fhir_core, for one,
    raises ``KeyError`` for an inline resource of an unknown type.
    """
    try:
        model_class(resource_type).model_validate(data)
    except ValidationError as exc:
        return exc.errors(include_url=False)
    return []


# Re-exports of ``rule_tree`` functions for callers that ask this module about resource
# types. ``rule_tree`` imports this module, so these import it when first called.


def summary_elements(resource_type: str) -> frozenset[str]:
    """Top-level JSON names for ``_summary=true``: see ``rule_tree.summary_elements``."""
    from fhircare.fhir import rule_tree

    return rule_tree.summary_elements(resource_type)


def mandatory_elements(resource_type: str) -> frozenset[str]:
    """Top-level JSON names ``_elements`` must keep: see ``rule_tree.mandatory_elements``."""
    from fhircare.fhir import rule_tree

    return rule_tree.mandatory_elements(resource_type)
