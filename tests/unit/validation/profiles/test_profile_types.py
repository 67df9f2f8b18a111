"""Types a profile narrows, and reference targets:
https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.type"""

from __future__ import annotations

import pytest
from tests.unit.validation.profiles.builders import (
    CORE,
    care_plan,
    element,
    errors,
    found,
    issues,
    observation,
    profile,
    url,
)

PATIENT_ONLY = [{"code": "Reference", "targetProfile": [CORE + "Patient"]}]


def test_a_choice_keeps_only_the_types_the_profile_lists() -> None:
    rules = profile(
        "Observation",
        element("Observation.value[x]", type=[{"code": "Quantity"}, {"code": "CodeableConcept"}]),
    )
    assert errors(observation(valueQuantity={"value": 1}), rules) == []
    assert errors(observation(valueCodeableConcept={"text": "high"}), rules) == []
    assert found(observation(valueBoolean=True), rules) == [
        ("error", "structure", "Observation.value.ofType(boolean)")
    ]
    (issue,) = issues(observation(valueBoolean=True), rules)
    assert (
        "The type boolean is not allowed by the profile (allowed: Quantity | CodeableConcept)"
        in issue.diagnostics
    )


def test_a_primitive_choice_counts_its_extension_sibling_once() -> None:
    rules = profile(
        "Observation", element("Observation.value[x]", min=1, type=[{"code": "string"}])
    )
    assert errors(observation(valueString="x", _valueString={"id": "v"}), rules) == []
    assert errors(observation(_valueString={"id": "v"}), rules) == []
    assert errors(observation(), rules) == ["Observation.value"]


@pytest.mark.parametrize(
    "reference",
    [
        {"reference": "Patient/1"},
        {"reference": "https://other.example.org/fhir/Patient/1/_history/2"},
        {"reference": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"},  # type unknown: not checked
        {"identifier": {"system": "urn:mrn", "value": "1"}},  # logical: not checked
        {"reference": "#p", "display": "contained"},
        {"type": "Patient", "identifier": {"value": "1"}},
    ],
)
def test_a_reference_to_an_allowed_or_unknown_target_passes(reference: dict[str, object]) -> None:
    rules = profile("CarePlan", element("CarePlan.subject", type=PATIENT_ONLY))
    plan = care_plan(subject=reference, contained=[{"resourceType": "Patient", "id": "p"}])
    assert errors(plan, rules) == []


@pytest.mark.parametrize(
    ("reference", "expression"),
    [
        ({"reference": "Group/1"}, "CarePlan.subject.reference"),
        ({"reference": "http://example.org/fhir/Group/1"}, "CarePlan.subject.reference"),
        ({"reference": "#g"}, "CarePlan.subject.reference"),
        ({"type": "Group", "identifier": {"value": "1"}}, "CarePlan.subject.type"),
    ],
)
def test_a_reference_to_another_type_is_an_error(
    reference: dict[str, object], expression: str
) -> None:
    rules = profile("CarePlan", element("CarePlan.subject", type=PATIENT_ONLY))
    plan = care_plan(subject=reference, contained=[{"resourceType": "Group", "id": "g"}])
    assert found(plan, rules) == [("error", "value", expression)]


def test_a_target_profile_of_the_set_allows_its_type() -> None:
    patient_profile = profile("Patient", name="patient")
    rules = profile(
        "CarePlan",
        element(
            "CarePlan.subject", type=[{"code": "Reference", "targetProfile": [url("patient")]}]
        ),
    )
    assert errors(care_plan(subject={"reference": "Patient/1"}), rules, patient_profile) == []
    assert errors(care_plan(subject={"reference": "Group/1"}), rules, patient_profile) == [
        "CarePlan.subject.reference"
    ]


def test_an_unknown_target_profile_checks_nothing() -> None:
    rules = profile(
        "CarePlan",
        element(
            "CarePlan.subject",
            type=[{"code": "Reference", "targetProfile": ["http://elsewhere.org/p"]}],
        ),
    )
    assert errors(care_plan(subject={"reference": "Group/1"}), rules) == []


def test_targets_inside_repeating_elements() -> None:
    rules = profile(
        "CarePlan",
        element(
            "CarePlan.activity.outcomeReference",
            type=[{"code": "Reference", "targetProfile": [CORE + "Observation"]}],
        ),
    )
    plan = care_plan(
        activity=[
            {"outcomeReference": [{"reference": "Observation/1"}, {"reference": "Procedure/2"}]}
        ]
    )
    assert errors(plan, rules) == ["CarePlan.activity[0].outcomeReference[1].reference"]


def test_an_inline_resource_narrowed_to_a_type() -> None:
    rules = profile("Bundle", element("Bundle.entry.resource", type=[{"code": "Patient"}]))
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient"}},
            {"resource": {"resourceType": "Group", "type": "person", "actual": True}},
        ],
    }
    assert found(bundle, rules) == [("error", "structure", "Bundle.entry[1].resource")]


def test_a_profile_for_another_type_is_an_error() -> None:
    rules = profile("CarePlan")
    assert found(observation(), rules) == [("error", "structure", "Observation")]


def _quantity_profile(name: str, unit: str) -> dict[str, object]:
    return profile(
        "Quantity",
        element("Quantity.system", min=1, fixedUri="http://unitsofmeasure.org"),
        element("Quantity.code", min=1, fixedCode=unit),
        name=name,
        kind="complex-type",
    )


def test_a_datatype_profile_on_a_type_is_checked() -> None:
    kilograms = _quantity_profile("kilograms", "kg")
    rules = profile(
        "Observation",
        element("Observation.value[x]", type=[{"code": "Quantity", "profile": [url("kilograms")]}]),
    )
    kg = {"value": 70, "system": "http://unitsofmeasure.org", "code": "kg"}
    assert errors(observation(valueQuantity=kg), rules, kilograms) == []
    assert errors(observation(valueQuantity={"value": 70}), rules, kilograms) == [
        "Observation.value.ofType(Quantity).system",
        "Observation.value.ofType(Quantity).code",
    ]


def test_a_value_must_conform_to_one_of_several_profiles() -> None:
    kilograms, pounds = _quantity_profile("kilograms", "kg"), _quantity_profile("pounds", "[lb_av]")
    rules = profile(
        "Observation",
        element(
            "Observation.value[x]",
            type=[{"code": "Quantity", "profile": [url("kilograms"), url("pounds")]}],
        ),
    )
    ucum = {"value": 70, "system": "http://unitsofmeasure.org"}
    for unit in ("kg", "[lb_av]"):
        assert (
            errors(observation(valueQuantity={**ucum, "code": unit}), rules, kilograms, pounds)
            == []
        )
    assert found(observation(valueQuantity={**ucum, "code": "g"}), rules, kilograms, pounds) == [
        ("error", "structure", "Observation.value.ofType(Quantity)")
    ]


def test_a_type_profile_not_known_here_is_information() -> None:
    rules = profile(
        "Observation",
        element(
            "Observation.value[x]",
            type=[{"code": "Quantity", "profile": ["http://elsewhere.org/q"]}],
        ),
    )
    assert found(observation(valueQuantity={"value": 1}), rules) == [
        ("information", "informational", "Observation.value.ofType(Quantity)")
    ]
