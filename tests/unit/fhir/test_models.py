"""The fhir.resources shim: served types, model lookup, rule tree, summary and errors."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from tests.unit.validation.minimal_resources import MINIMAL

from fhircare.fhir import models, rule_tree, value_sets
from fhircare.fhir.model_errors import structural_errors
from fhircare.fhir.models import (
    RESOURCE_TYPES,
    mandatory_elements,
    model_class,
    summary_elements,
)
from fhircare.fhir.rule_tree import ElementKind, element_rules

CARE_TYPES = sorted(MINIMAL)  # the care-coordination types
R4B_ONLY = [
    "AdministrableProductDefinition",
    "Citation",
    "ClinicalUseDefinition",
    "EvidenceReport",
    "Ingredient",
    "ManufacturedItemDefinition",
    "MedicinalProductDefinition",
    "NutritionProduct",
    "PackagedProductDefinition",
    "RegulatedAuthorization",
    "SubscriptionStatus",
    "SubscriptionTopic",
    "SubstanceDefinition",
]


def _fhirpathpy_r4_resource_types() -> set[str]:
    """R4 resource types from fhirpathpy's R4 model: an independent source for the list."""
    path = resources.files("fhirpathpy") / "models" / "r4" / "type2Parent.json"
    parents: dict[str, str] = json.loads(path.read_text())

    def is_resource(name: str) -> bool:
        while name in parents:
            name = parents[name]
            if name == "Resource":
                return True
        return False

    return {name for name in parents if is_resource(name)} - {"DomainResource"}


def test_r4_list_matches_fhirpathpy() -> None:
    assert _fhirpathpy_r4_resource_types() == models._R4_RESOURCE_TYPES


def test_resource_types_are_the_r4_types_r4b_validates() -> None:
    assert len(RESOURCE_TYPES) == 126  # 146 in R4, minus 18 R4B dropped, minus 2 redesigned
    assert set(CARE_TYPES) <= RESOURCE_TYPES
    assert RESOURCE_TYPES <= models._R4_RESOURCE_TYPES
    assert not RESOURCE_TYPES & set(R4B_ONLY)
    assert not RESOURCE_TYPES & {"Evidence", "EvidenceVariable", "MedicinalProduct"}
    assert not RESOURCE_TYPES & {"Resource", "DomainResource", "Reference", "BackboneElement"}


def test_every_resource_type_is_a_resource_model() -> None:
    for resource_type in sorted(RESOURCE_TYPES):
        cls = model_class(resource_type)
        assert cls.__name__ == resource_type
        assert element_rules(resource_type).is_resource, resource_type
        assert {"id", "meta"} <= set(cls.model_fields)


@pytest.mark.parametrize("name", ["Evidence", "SubscriptionTopic", "Reference", "Nope", ""])
def test_model_class_rejects_types_we_do_not_serve(name: str) -> None:
    with pytest.raises(KeyError):
        model_class(name)
    with pytest.raises(KeyError):
        element_rules(name)


def test_summary_elements_follow_the_summary_flags() -> None:
    patient = summary_elements("Patient")
    assert {"id", "meta", "implicitRules", "name", "gender", "birthDate", "identifier"} <= patient
    assert "_birthDate" in patient  # a primitive's extensions travel with it
    assert not patient & {"photo", "contact", "communication", "text", "contained", "extension"}
    assert {"status", "intent", "subject"} <= summary_elements("CarePlan")
    assert "activity" not in summary_elements("CarePlan")


def test_mandatory_elements() -> None:
    assert mandatory_elements("CarePlan") == {"status", "_status", "intent", "_intent", "subject"}
    observation = mandatory_elements("Observation")
    assert {"status", "code"} <= observation
    assert not any(name.startswith("value") for name in observation)  # value[x] is 0..1
    assert mandatory_elements("Patient") == frozenset()


def test_rule_tree_for_care_plan() -> None:
    node = element_rules("CarePlan")
    status = node.elements["status"]
    assert status.kind is ElementKind.CODE and "active" in status.allowed
    assert node.elements["_status"].kind is ElementKind.PRIMITIVE_EXTENSION
    assert node.elements["_status"].path == "status"
    subject = node.elements["subject"]
    assert subject.kind is ElementKind.REFERENCE and subject.values == ("Patient", "Group")
    assert node.elements["contained"].kind is ElementKind.RESOURCE
    assert node.elements["extension"].kind is ElementKind.EXTENSION
    extension = node.elements["extension"].child  # walked, for the values inside
    assert extension is not None and "url" in extension.required
    activity = node.elements["activity"]
    assert activity.kind is ElementKind.COMPLEX and activity.is_list
    assert activity.child is not None
    detail = activity.child.elements["detail"].child
    assert detail is not None
    assert "in-progress" in detail.elements["status"].allowed
    assert detail.elements["scheduledTiming"].path == "scheduled.ofType(Timing)"
    assert detail.elements["scheduledString"].path == "scheduled.ofType(string)"
    assert {g.name for g in detail.choices} == {"scheduled", "product"}
    assert set(node.required) == {"status", "intent", "subject"}


def test_rule_tree_shares_nodes_and_survives_cycles() -> None:
    plan = element_rules("CarePlan").elements["subject"].child
    goal = element_rules("Goal").elements["subject"].child
    assert plan is goal  # one node per model class
    assert plan is not None
    identifier = plan.elements["identifier"].child
    assert identifier is not None
    assert identifier.elements["assigner"].child is plan  # Reference -> Identifier -> Reference


def test_lists_of_codes_and_any_resource_targets() -> None:
    days = element_rules("PractitionerRole").elements["availableTime"].child
    assert days is not None
    rule = days.elements["daysOfWeek"]
    assert rule.kind is ElementKind.CODE and rule.is_list and "mon" in rule.allowed
    focus = element_rules("Task").elements["focus"]
    assert focus.kind is ElementKind.REFERENCE and focus.values == ()  # Reference(Any)


def test_truncated_value_sets_are_replaced_with_r4_ones() -> None:
    task = element_rules("Task").elements["status"]
    assert {"in-progress", "completed", "failed"} <= task.allowed
    assert "+" not in task.allowed
    assert "entered-in-error" in element_rules("Encounter").elements["status"].allowed
    item = element_rules("Questionnaire").elements["item"].child
    assert item is not None
    assert {"string", "choice"} <= item.elements["type"].allowed
    assert "question" not in item.elements["type"].allowed  # abstract
    assert element_rules("CapabilityStatement").elements["format"].kind is ElementKind.PRIMITIVE


def test_every_enumerated_code_is_enforced_or_overridden() -> None:
    """Flags a fhir.resources upgrade that brings another unusable ``enum_values`` list."""
    for resource_type in RESOURCE_TYPES:
        element_rules(resource_type)
    for cls, node in rule_tree._NODES.items():
        for py_name, info in cls.model_fields.items():
            extra = info.json_schema_extra
            if not isinstance(extra, dict) or "enum_values" not in extra:
                continue
            name = info.alias or py_name
            key = f"{node.type_name}.{name}"
            assert (
                node.elements[name].kind is ElementKind.CODE
                or key in value_sets.VALUE_SET_OVERRIDES
            ), key


def test_structural_errors_map_pydantic_locations_to_fhirpath() -> None:
    errors = structural_errors(
        {
            "resourceType": "CarePlan",
            "intent": "plan",
            "created": "not a date",
            "foo": 1,
            "activity": [{"detail": {"kind": 3, "status": "scheduled"}}],
        }
    )
    by_expression = {expression: (code, message) for expression, code, message in errors}
    assert by_expression["CarePlan.subject"][0] == "required"
    assert "Missing required element 'subject'" in by_expression["CarePlan.subject"][1]
    assert by_expression["CarePlan.foo"] == ("structure", "CarePlan: Unknown element 'foo'")
    assert by_expression["CarePlan.created"][0] == "value"
    assert by_expression["CarePlan.activity[0].detail.kind"][0] == "value"
    assert all("pydantic" not in message for _, _, message in errors)


def test_structural_errors_for_primitive_extensions_and_choices() -> None:
    errors = structural_errors(
        {
            "resourceType": "Patient",
            "_birthDate": {"id": 5},
            "birthDate__ext": 7,
            "multipleBirthBoolean": True,
            "multipleBirthInteger": 2,
        }
    )
    expressions = {expression for expression, _, _ in errors}
    assert "Patient.birthDate.id" in expressions  # "_birthDate" is birthDate in FHIRPath
    assert "Patient.birthDate" in expressions  # so is pydantic's name "birthDate__ext"
    observation = structural_errors(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "valueString": "a",
            "valueBoolean": True,
        }
    )
    assert [(e, c) for e, c, _ in observation] == [("Observation.value", "structure")]


def test_structural_errors_survive_unknown_inline_resource_types() -> None:
    plan = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/1"},
        "contained": [{"resourceType": "Nope"}, {"resourceType": "Patient", "birthDate": "x"}, 3],
    }
    errors = {(expression, code) for expression, code, _ in structural_errors(plan)}
    assert errors == {
        ("CarePlan.contained[0].resourceType", "value"),
        ("CarePlan.contained[1].birthDate", "value"),
        ("CarePlan.contained[2]", "structure"),
    }
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"a": 1}}]}
    assert structural_errors(bundle)  # reported, not raised
    assert structural_errors({"resourceType": "Nope"}) == [
        ("resourceType", "value", "Unknown resource type 'Nope'")
    ]
