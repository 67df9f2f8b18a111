"""Shim over the ``fhir.resources`` R4B models: the only module that imports that package.

We serve FHIR 4.0.1 (https://hl7.org/fhir/R4/) but validate with the R4B (4.3.0) pydantic
models, which accept R4 JSON for every type R4 and R4B share. Everything else in fhircare
asks this module about resource types, so a model-library upgrade touches one file.

What the models do not check (required bindings, reference syntax and targets, JSON types
of primitives, keys pydantic accepts by Python name) is exposed as a precomputed rule tree,
``element_rules``, which ``fhircare.validation`` walks once per write.
"""

from __future__ import annotations

import decimal
import re
import threading
import types
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any

from fhir.resources.R4B import fhirtypes as _fhirtypes
from pydantic import BaseModel, ValidationError

__all__ = [
    "RESOURCE_TYPES",
    "ChoiceGroup",
    "ElementKind",
    "ElementRule",
    "TypeNode",
    "element_rules",
    "mandatory_elements",
    "model_class",
    "structural_errors",
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


def _r4b_top_level_names() -> set[str]:
    """Names of the R4B model classes that have a module of their own, without importing them.

    Importing all ~190 model modules takes seconds; ``fhirtypes`` already lists each class's
    dotted path, and resources and datatypes live in ``<lowercased name>.py``.
    """
    names: set[str] = set()
    for attr in _fhirtypes.__all__:
        dotted = getattr(getattr(_fhirtypes, attr, None), "_model_klass", None)
        if isinstance(dotted, str) and dotted.startswith(_PACKAGE):
            module, _, cls_name = dotted[len(_PACKAGE) :].rpartition(".")
            if module == cls_name.lower():
                names.add(cls_name)
    return names


#: Resource types this server can validate: R4 types the R4B models know with unchanged content.
#: R4B-only types (SubscriptionTopic, Citation, ...) and R4 types R4B dropped are excluded.
RESOURCE_TYPES: frozenset[str] = frozenset(
    (_R4_RESOURCE_TYPES & _r4b_top_level_names()) - _REDEFINED_IN_R4B
)


def _type_class(type_name: str) -> type[BaseModel]:
    cls: type[BaseModel] = getattr(_fhirtypes, type_name + "Type").get_model_klass()
    return cls


@cache
def model_class(resource_type: str) -> type[BaseModel]:
    """The R4B pydantic model for a type in ``RESOURCE_TYPES``; ``KeyError`` otherwise."""
    if resource_type not in RESOURCE_TYPES:
        raise KeyError(resource_type)
    return _type_class(resource_type)


# --------------------------------------------------------------------------------------------
# Rule tree
# --------------------------------------------------------------------------------------------


class ElementKind(Enum):
    """How ``fhircare.validation`` treats an element while walking resource JSON."""

    PRIMITIVE = "primitive"  # JSON type checked; value format is pydantic's job
    CODE = "code"  # primitive code with a required binding we enforce (``values``)
    COMPLEX = "complex"  # datatype or backbone element: walk ``child``
    REFERENCE = "reference"  # Reference: check ``reference``, targets in ``values``; walk child
    RESOURCE = "resource"  # inline resource (contained, Bundle.entry.resource): by resourceType
    EXTENSION = "extension"  # Extension: pydantic validates it, we do not descend
    PRIMITIVE_EXTENSION = "primitive-extension"  # ``_name`` sibling of a primitive


@dataclass(slots=True, eq=False)
class ElementRule:
    """One JSON property of a FHIR type.

    ``values`` holds the allowed codes (CODE) or allowed reference target types (REFERENCE,
    empty means any); ``allowed`` is the same as a set for O(1) membership tests.
    """

    name: str  # JSON property name, e.g. "valueQuantity" or "_status"
    path: str  # FHIRPath step, e.g. "value.ofType(Quantity)" or "status"
    kind: ElementKind
    is_list: bool
    values: tuple[str, ...] = ()
    allowed: frozenset[str] = frozenset()
    child: TypeNode | None = None
    json_types: tuple[type, ...] = ()  # accepted Python types of a primitive's JSON value
    choice: str | None = None  # "value" for value[x] variants


@dataclass(frozen=True, slots=True)
class ChoiceGroup:
    """A choice element ``name[x]``: at most one variant may appear; maybe one must.

    https://hl7.org/fhir/R4/formats.html#choice
    """

    name: str  # FHIRPath name, e.g. "value"
    variants: tuple[str, ...]  # JSON names, e.g. ("valueQuantity", "valueString", ...)
    required: bool
    keys: frozenset[str] = frozenset()  # variants and their "_name" siblings


@dataclass(slots=True, eq=False)
class TypeNode:
    """The rules for one model class; nodes reference each other and may form cycles."""

    type_name: str
    is_resource: bool
    elements: dict[str, ElementRule] = field(default_factory=dict)
    required: tuple[str, ...] = ()  # JSON names with min cardinality >= 1 (not choices)
    choices: tuple[ChoiceGroup, ...] = ()
    python_names: dict[str, str] = field(default_factory=dict)  # "class_fhir" -> "class"

    def __repr__(self) -> str:  # the default would recurse through cycles
        return f"TypeNode({self.type_name!r}, {len(self.elements)} elements)"


# Primitive metadata class (fhir_core.types) -> FHIR primitive type name.
_PRIMITIVE_NAMES = {
    "String": "string",
    "Code": "code",
    "Id": "id",
    "Uri": "uri",
    "Url": "url",
    "Canonical": "canonical",
    "Oid": "oid",
    "Uuid": "uuid",
    "Markdown": "markdown",
    "Xhtml": "xhtml",
    "Base64Binary": "base64Binary",
    "Date": "date",
    "DateTime": "dateTime",
    "Instant": "instant",
    "Time": "time",
    "Integer": "integer",
    "UnsignedInt": "unsignedInt",
    "PositiveInt": "positiveInt",
    "Integer64": "integer64",
    "Decimal": "decimal",
}
_FHIR_PRIMITIVES = frozenset(_PRIMITIVE_NAMES.values()) | {"boolean"}

# JSON representation of primitives: https://hl7.org/fhir/R4/json.html#primitive
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "unsignedInt": (int,),
    "positiveInt": (int,),
    "decimal": (int, float, decimal.Decimal),
}
_JSON_STRING: tuple[type, ...] = (str,)

# ``enum_values`` in fhir.resources are parsed from each element's short title, so some are
# truncated ("draft | requested | received | accepted | +") or not value sets at all. These
# are the R4 required value sets (https://hl7.org/fhir/R4/terminologies-valuesets.html);
# None means the element has no enumerable required binding in R4.
_OBSERVATION_STATUS = (
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
)
_ENCOUNTER_STATUS = (
    "planned",
    "arrived",
    "triaged",
    "in-progress",
    "onleave",
    "finished",
    "cancelled",
    "entered-in-error",
    "unknown",
)
_CODE_OVERRIDES: dict[str, tuple[str, ...] | None] = {
    "CapabilityStatement.format": None,  # any MIME type
    "Expression.language": None,  # extensible binding
    "DetectedIssue.status": _OBSERVATION_STATUS,
    "Observation.status": _OBSERVATION_STATUS,
    "RiskAssessment.status": _OBSERVATION_STATUS,
    "Encounter.status": _ENCOUNTER_STATUS,
    "EncounterStatusHistory.status": _ENCOUNTER_STATUS,
    "DeviceUdiCarrier.entryType": (
        "barcode",
        "rfid",
        "manual",
        "card",
        "self-reported",
        "unknown",
    ),
    "DeviceUseStatement.status": (
        "active",
        "completed",
        "entered-in-error",
        "intended",
        "stopped",
        "on-hold",
    ),
    "DiagnosticReport.status": (
        "registered",
        "partial",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "appended",
        "cancelled",
        "entered-in-error",
        "unknown",
    ),
    # "question" is abstract (notSelectable) in http://hl7.org/fhir/item-type.
    "QuestionnaireItem.type": (
        "group",
        "display",
        "boolean",
        "decimal",
        "integer",
        "date",
        "dateTime",
        "time",
        "string",
        "text",
        "url",
        "choice",
        "open-choice",
        "attachment",
        "reference",
        "quantity",
    ),
    "StructureMapGroupRuleTarget.transform": (
        "create",
        "copy",
        "truncate",
        "escape",
        "cast",
        "append",
        "translate",
        "reference",
        "dateOp",
        "uuid",
        "pointer",
        "evaluate",
        "cc",
        "c",
        "qty",
        "id",
        "cp",
    ),
    "SupplyRequest.status": (
        "draft",
        "active",
        "suspended",
        "cancelled",
        "completed",
        "entered-in-error",
        "unknown",
    ),
    "Task.status": (
        "draft",
        "requested",
        "received",
        "accepted",
        "rejected",
        "ready",
        "cancelled",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "entered-in-error",
    ),
}
_CODE_TOKEN = re.compile(r"[^\s+]+")


def _code_values(owner: str, json_name: str, extra: Mapping[str, Any]) -> tuple[str, ...]:
    """Allowed codes for a code element, or () when we cannot enforce its binding."""
    key = f"{owner}.{json_name}"
    if key in _CODE_OVERRIDES:
        return _CODE_OVERRIDES[key] or ()
    values = extra.get("enum_values")
    if not values:
        return ()
    # Untrusted: a truncated title ("... | amended +") or prose; skip rather than reject
    # valid data. tests/unit/fhir/test_models.py fails if a served type hits this.
    if not all(isinstance(v, str) and _CODE_TOKEN.fullmatch(v) for v in values):
        return ()
    return tuple(values)


def _unwrap(annotation: Any) -> tuple[Any, bool, tuple[Any, ...]]:
    """Strip Optional/List/Annotated: (inner type, is_list, Annotated metadata)."""
    is_list = False
    metadata: tuple[Any, ...] = ()
    tp = annotation
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Union or origin is types.UnionType:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, is_list, metadata
            tp = args[0]
        elif origin is list:
            is_list = True
            tp = typing.get_args(tp)[0]
        elif origin is typing.Annotated:
            metadata = tuple(tp.__metadata__)
            tp = typing.get_args(tp)[0]
        else:
            return tp, is_list, metadata


def _model_path(tp: Any) -> str | None:
    """Dotted class path of a fhirtypes ``XxxType`` marker, e.g. '...reference.Reference'."""
    dotted = getattr(tp, "_model_klass", None)
    return dotted if isinstance(dotted, str) else None


def _primitive_name(tp: Any, metadata: tuple[Any, ...]) -> str | None:
    for meta in metadata:
        name = _PRIMITIVE_NAMES.get(type(meta).__name__)
        if name:
            return name
    if tp is bool:
        return "boolean"
    if tp is uuid.UUID:  # fhir_core types uuid as Annotated[UUID, UuidVersion(4)]
        return "uuid"
    return _PRIMITIVE_NAMES.get(getattr(tp, "__name__", ""))


def _choice_path(prefix: str, json_name: str) -> str:
    """FHIRPath for a choice variant: valueQuantity -> value.ofType(Quantity)."""
    suffix = json_name[len(prefix) :]
    lowered = suffix[:1].lower() + suffix[1:]
    return f"{prefix}.ofType({lowered if lowered in _FHIR_PRIMITIVES else suffix})"


_BUILD_LOCK = threading.RLock()
_NODES: dict[type[BaseModel], TypeNode] = {}


def _node_for(cls: type[BaseModel]) -> TypeNode:
    """Rules for a model class, memoized per class (which also breaks reference cycles)."""
    node = _NODES.get(cls)
    if node is not None:
        return node
    node = TypeNode(
        type_name=getattr(cls, "__resource_type__", cls.__name__),
        is_resource=bool(getattr(cls, "has_resource_base", lambda: False)()),
    )
    _NODES[cls] = node  # before filling: children may point back here
    required: list[str] = []
    choices: dict[str, tuple[list[str], bool]] = {}
    ext_fields: list[tuple[str, str, Any]] = []
    for py_name, info in cls.model_fields.items():
        if py_name == "fhir_comments":
            continue
        json_name = info.alias or py_name
        if py_name.endswith("__ext"):
            ext_fields.append((py_name, json_name, info.annotation))
            continue
        if py_name != json_name:
            node.python_names[py_name] = json_name
        extra: Mapping[str, Any] = info.json_schema_extra or {}  # type: ignore[assignment]
        rule = _rule_for(node.type_name, json_name, info.annotation, extra)
        prefix = extra.get("one_of_many")
        if isinstance(prefix, str):
            rule.path = _choice_path(prefix, json_name)
            rule.choice = prefix
            variants, _ = choices.setdefault(prefix, ([], False))
            choices[prefix] = (variants, bool(extra.get("one_of_many_required")))
            variants.append(json_name)
        elif info.is_required() or extra.get("element_required"):
            required.append(json_name)
        node.elements[json_name] = rule
    for py_name, json_name, annotation in ext_fields:
        base = node.elements.get(json_name[1:])
        node.python_names[py_name] = json_name
        node.elements[json_name] = ElementRule(
            name=json_name,
            path=base.path if base else json_name[1:],
            kind=ElementKind.PRIMITIVE_EXTENSION,
            is_list=_unwrap(annotation)[1],
            choice=base.choice if base else None,
        )
    node.required = tuple(required)
    node.choices = tuple(
        ChoiceGroup(name, tuple(variants), req, frozenset(variants) | {f"_{v}" for v in variants})
        for name, (variants, req) in choices.items()
    )
    return node


def _rule_for(owner: str, json_name: str, annotation: Any, extra: Mapping[str, Any]) -> ElementRule:
    tp, is_list, metadata = _unwrap(annotation)
    dotted = _model_path(tp)
    if dotted is None:
        primitive = _primitive_name(tp, metadata)
        json_types = _JSON_TYPES.get(primitive or "", _JSON_STRING) if primitive else ()
        codes = _code_values(owner, json_name, extra) if primitive == "code" else ()
        return ElementRule(
            name=json_name,
            path=json_name,
            kind=ElementKind.CODE if codes else ElementKind.PRIMITIVE,
            is_list=is_list,
            values=codes,
            allowed=frozenset(codes),
            json_types=json_types,
        )
    class_name = dotted.rpartition(".")[2]
    if class_name == "Extension":
        return ElementRule(json_name, json_name, ElementKind.EXTENSION, is_list)
    if class_name in ("Resource", "DomainResource"):
        return ElementRule(json_name, json_name, ElementKind.RESOURCE, is_list)
    child = _node_for(tp.get_model_klass())
    targets = tuple(t for t in extra.get("enum_reference_types", ()) if isinstance(t, str))
    if "Resource" in targets:
        targets = ()  # any resource type
    if class_name == "Reference":
        return ElementRule(
            json_name,
            json_name,
            ElementKind.REFERENCE,
            is_list,
            values=targets,
            allowed=frozenset(targets),
            child=child,
        )
    if class_name == "CodeableReference" and targets:
        child = _with_reference_targets(child, targets)
    return ElementRule(json_name, json_name, ElementKind.COMPLEX, is_list, child=child)


def _with_reference_targets(node: TypeNode, targets: tuple[str, ...]) -> TypeNode:
    """A copy of a CodeableReference node whose ``reference`` carries the field's targets."""
    copy = TypeNode(
        node.type_name,
        node.is_resource,
        dict(node.elements),
        node.required,
        node.choices,
        node.python_names,
    )
    ref = copy.elements["reference"]
    copy.elements["reference"] = ElementRule(
        ref.name,
        ref.path,
        ElementKind.REFERENCE,
        ref.is_list,
        values=targets,
        allowed=frozenset(targets),
        child=ref.child,
    )
    return copy


@cache
def element_rules(resource_type: str) -> TypeNode:
    """The rule tree of a resource type (``KeyError`` if not served); built once, then shared.

    Nodes are memoized per model class, so CarePlan and Goal share the Reference node, and
    recursive types (Identifier.assigner -> Reference -> Identifier) form cycles, not loops.
    """
    cls = model_class(resource_type)
    with _BUILD_LOCK:
        return _node_for(cls)


def _with_extension_siblings(node: TypeNode, names: set[str]) -> frozenset[str]:
    """Add ``_name`` for each primitive: its extensions are part of the same element."""
    return frozenset(names | {f"_{n}" for n in names if f"_{n}" in node.elements})


@cache
def summary_elements(resource_type: str) -> frozenset[str]:
    """Top-level JSON names returned for ``_summary=true`` (with ``_x`` siblings).

    The caller adds ``resourceType`` and the SUBSETTED tag:
    https://hl7.org/fhir/R4/search.html#summary
    """
    node = element_rules(resource_type)
    names = {"id", "meta", "implicitRules"}
    for py_name, info in model_class(resource_type).model_fields.items():
        extra: Mapping[str, Any] = info.json_schema_extra or {}  # type: ignore[assignment]
        if extra.get("summary_element_property") and not py_name.endswith("__ext"):
            names.add(info.alias or py_name)
    return _with_extension_siblings(node, names)


@cache
def mandatory_elements(resource_type: str) -> frozenset[str]:
    """Top-level JSON names with min cardinality >= 1, which ``_elements`` must keep.

    Required choices contribute every variant. https://hl7.org/fhir/R4/search.html#elements
    """
    node = element_rules(resource_type)
    names = set(node.required)
    for group in node.choices:
        if group.required:
            names.update(group.variants)
    return _with_extension_siblings(node, names)


# --------------------------------------------------------------------------------------------
# Structural validation (pydantic)
# --------------------------------------------------------------------------------------------

_MISSING_TYPES = frozenset({"missing", "model_field_validation.missing"})
_SHAPE_TYPES = frozenset(
    {"json_invalid", "model_type", "dict_type", "model_attributes_type", "list_type"}
)
_CHOICE_FIELDS = re.compile(r"\[([^\]]*)\]")


def structural_errors(resource: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Validate against the R4B model: (FHIRPath expression, issue code, message) per error.

    Issue codes are from https://hl7.org/fhir/R4/valueset-issue-type.html: ``required`` for a
    missing element, ``structure`` for an unknown element or wrong JSON shape, ``value`` for
    a bad primitive value. Never raises for any JSON input.
    """
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or resource_type not in RESOURCE_TYPES:
        return [("resourceType", "value", f"Unknown resource type {resource_type!r}")]
    out: list[tuple[str, str, str]] = []
    data: Mapping[str, Any] = resource
    contained = resource.get("contained")
    if isinstance(contained, list) and not all(_is_served_resource(c) for c in contained):
        # fhir_core raises KeyError on unknown contained types: validate the container
        # without them and each servable contained resource on its own.
        data = {k: v for k, v in resource.items() if k != "contained"}
        for index, item in enumerate(contained):
            expr = f"{resource_type}.contained[{index}]"
            problem = _inline_resource_problem(item, expr)
            if problem:
                out.append(problem)
            else:
                out.extend(_validate(item, expr))
    out.extend(_validate(data, resource_type))
    return out


def _is_served_resource(item: Any) -> bool:
    resource_type = item.get("resourceType") if isinstance(item, dict) else None
    return isinstance(resource_type, str) and resource_type in RESOURCE_TYPES


def _inline_resource_problem(item: Any, expr: str) -> tuple[str, str, str] | None:
    """Why an inline resource cannot be validated, or None."""
    if not isinstance(item, dict):
        return expr, "structure", f"{expr}: Expected a resource (JSON object)"
    resource_type = item.get("resourceType")
    if resource_type is None:
        where = f"{expr}.resourceType"
        return where, "required", f"{expr}: Missing required element 'resourceType'"
    if not isinstance(resource_type, str) or resource_type not in RESOURCE_TYPES:
        return f"{expr}.resourceType", "value", f"{expr}: Unknown resource type {resource_type!r}"
    return None


def _validate(data: Mapping[str, Any], root: str) -> list[tuple[str, str, str]]:
    resource_type = data["resourceType"]
    node = element_rules(resource_type)
    try:
        model_class(resource_type).model_validate(data)
    except ValidationError as exc:
        return [_convert(err, root, node, data) for err in exc.errors(include_url=False)]
    except KeyError:  # fhir_core looks up inline resource types unguarded (Bundle entries)
        return [(root, "structure", f"{root}: Contains a resource of an unknown type")]
    except Exception as exc:  # never let a model bug turn into a 500
        return [(root, "structure", f"{root}: Could not be validated ({type(exc).__name__})")]
    return []


@dataclass(frozen=True, slots=True)
class _Located:
    """Where a pydantic ``loc`` points: FHIRPath, the rules there, the input there."""

    expression: str
    node: TypeNode | None  # rules of the object at loc (None if unknown)
    data: Any
    rule: ElementRule | None  # rule of the last named step


def _locate(root: str, node: TypeNode, data: Any, loc: tuple[Any, ...]) -> _Located:
    """Follow a pydantic ``loc`` through the rule tree and the input in parallel."""
    parts = [root]
    current: TypeNode | None = node
    rule: ElementRule | None = None
    for key in loc:
        if isinstance(key, int):
            parts.append(f"[{key}]")
            data = data[key] if isinstance(data, list) and -len(data) <= key < len(data) else None
        elif key != "root":  # fhir_core's wrapper validator adds this step
            rule = None
            if current is not None:
                rule = current.elements.get(key) or current.elements.get(
                    current.python_names.get(key, "")
                )
            parts.append("." + (rule.path if rule else str(key)))
            data = data.get(key) if isinstance(data, dict) else None
            current = rule.child if rule else None
        if rule is not None and rule.kind is ElementKind.RESOURCE:
            current = element_rules(data["resourceType"]) if _is_served_resource(data) else None
    return _Located("".join(parts), current, data, rule)


def _convert(err: Mapping[str, Any], root: str, node: TypeNode, data: Any) -> tuple[str, str, str]:
    loc: tuple[Any, ...] = tuple(k for k in err.get("loc", ()) if k != "root")
    kind: str = err.get("type", "")
    message: str = err.get("msg", "").removeprefix("Value error, ")
    last = loc[-1] if loc else None
    if last == "resource_type":  # "resourceType" inside a non-resource element
        parent = _locate(root, node, data, loc[:-1]).expression
        return f"{parent}.resourceType", "structure", f"{parent}: Unknown element 'resourceType'"
    here = _locate(root, node, data, loc)
    expr = here.expression
    if kind in _MISSING_TYPES and isinstance(last, str):
        parent = _locate(root, node, data, loc[:-1]).expression
        name = here.rule.name if here.rule else last
        return expr, "required", f"{parent}: Missing required element '{name}'"
    if kind == "extra_forbidden" and isinstance(last, str):
        parent = _locate(root, node, data, loc[:-1]).expression
        return expr, "structure", f"{parent}: Unknown element '{last}'"
    if kind == "value_error" and "one field value is expected" in message:
        return _choice_issue(here, message, multiple=True)
    if kind == "value_error" and "Expect any of field value" in message:
        return _choice_issue(here, message, multiple=False)
    if kind == "list_type" and message.startswith("None is not allowed"):
        return expr, "structure", f"{expr}: null is not allowed in an array of elements"
    if kind in _SHAPE_TYPES:
        wanted = "a JSON array" if kind == "list_type" else "a JSON object"
        return expr, "structure", f"{expr}: Expected {wanted}"
    if kind == "model_validation_format" and message.startswith("Value is expected from"):
        return expr, "structure", f"{expr}: Expected a JSON object"
    value = err.get("input")
    if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 64):
        message = f"{message} (got {value!r})"
    return expr, "value", f"{expr}: {message}"


def _choice_issue(here: _Located, message: str, *, multiple: bool) -> tuple[str, str, str]:
    """Map fhir_core's one-of-many errors onto the choice element, e.g. Observation.value."""
    found = _CHOICE_FIELDS.search(message)
    names = [n.strip(" '\"") for n in found.group(1).split(",")] if found else []
    rule = here.node.elements.get(names[0]) if here.node and names else None
    choice = rule.choice if rule and rule.choice else _choice_prefix(names)
    expr = here.expression
    if not choice:
        return expr, "value", f"{expr}: {message}"
    target = f"{expr}.{choice}"
    if multiple:
        obj = here.data
        present = [n for n in names if isinstance(obj, dict) and n in obj]
        return target, "structure", f"{target}: Only one of {', '.join(present)} is allowed"
    return target, "required", f"{expr}: Missing required element '{choice}[x]'"


def _choice_prefix(names: list[str]) -> str:
    """'value' from ['valueAddress', 'valueAge', ...]: the shared stem before a type name."""
    prefix = min(names, key=len) if names else ""
    while prefix and not all(n.startswith(prefix) for n in names):
        prefix = prefix[:-1]
    while prefix and not all(len(n) > len(prefix) and n[len(prefix)].isupper() for n in names):
        prefix = prefix[:-1]
    return prefix
