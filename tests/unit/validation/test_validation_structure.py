"""Structure: unknown and missing elements, JSON types, choices, resource types."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.validation.minimal_resources import minimal

from fhircare.validation import find_issues


def _issues(resource: Any) -> list[tuple[str, str]]:
    return [(i.code, i.expression[0] if i.expression else "") for i in find_issues(resource)]


def test_unknown_element_is_structure() -> None:
    plan = minimal("CarePlan")
    plan["foo"] = 1
    issues = find_issues(plan)
    assert [(i.code, i.expression) for i in issues] == [("structure", ("CarePlan.foo",))]
    assert "Unknown element 'foo'" in issues[0].diagnostics


def test_unknown_nested_element() -> None:
    plan = minimal("CarePlan")
    plan["activity"] = [{"detail": {"status": "scheduled", "bar": True}}]
    assert _issues(plan) == [("structure", "CarePlan.activity[0].detail.bar")]


@pytest.mark.parametrize("key", ["birthDate__ext", "fhir_comments", "resource_type"])
def test_keys_pydantic_accepts_by_python_name_are_unknown(key: str) -> None:
    patient = minimal("Patient")
    patient[key] = {"id": "x"} if key.endswith("__ext") else "x"
    assert ("structure", f"Patient.{key}") in _issues(patient)


def test_resource_type_inside_an_element_is_unknown() -> None:
    plan = minimal("CarePlan")
    plan["subject"] = {"resourceType": "Reference", "reference": "Patient/1"}
    assert _issues(plan) == [("structure", "CarePlan.subject.resourceType")]


def test_missing_required_element() -> None:
    plan = minimal("CarePlan")
    del plan["subject"]
    issues = find_issues(plan)
    assert [(i.code, i.expression) for i in issues] == [("required", ("CarePlan.subject",))]
    assert "subject" in issues[0].diagnostics


def test_missing_required_elements_are_reported_alongside_other_errors() -> None:
    """pydantic skips cardinality checks of an object once one of its fields fails."""
    plan = {"resourceType": "CarePlan", "created": "yesterday", "foo": 1}
    assert set(_issues(plan)) == {
        ("required", "CarePlan.status"),
        ("required", "CarePlan.intent"),
        ("required", "CarePlan.subject"),
        ("value", "CarePlan.created"),
        ("structure", "CarePlan.foo"),
    }


def test_missing_required_nested_element() -> None:
    appointment = minimal("Appointment")
    del appointment["participant"][0]["status"]
    assert _issues(appointment) == [("required", "Appointment.participant[0].status")]


@pytest.mark.parametrize(
    ("element", "value"),
    [("active", "yes"), ("active", 1), ("birthDate", 1974), ("gender", ["male"])],
)
def test_primitives_need_their_json_type(element: str, value: Any) -> None:
    """pydantic would coerce "yes" to True; FHIR JSON needs true/false."""
    patient = minimal("Patient")
    patient[element] = value
    assert _issues(patient) == [("value", f"Patient.{element}")]


def test_numbers_must_be_json_numbers() -> None:
    observation = minimal("Observation")
    observation["valueQuantity"]["value"] = "72.5"
    assert _issues(observation) == [("value", "Observation.value.ofType(Quantity).value")]


@pytest.mark.parametrize("value", [None, [], {}])
def test_null_and_empty_values_are_not_fhir(value: Any) -> None:
    patient = minimal("Patient")
    patient["name" if value is not None else "gender"] = value
    patient["managingOrganization"] = (
        value if value is not None else {"reference": "Organization/o"}
    )
    codes = {code for code, _ in _issues(patient)}
    assert codes == {"structure"}


def test_nulls_may_align_primitive_arrays_with_extensions() -> None:
    patient = minimal("Patient")
    patient["name"][0]["given"] = ["Peter", None]
    patient["name"][0]["_given"] = [
        None,
        {"extension": [{"url": "http://x.org", "valueCode": "a"}]},
    ]
    assert _issues(patient) == []


def test_choice_with_two_variants() -> None:
    observation = minimal("Observation")
    observation["valueString"] = "72.5 kg"
    issues = find_issues(observation)
    assert [(i.code, i.expression) for i in issues] == [("structure", ("Observation.value",))]
    assert "valueQuantity" in issues[0].diagnostics and "valueString" in issues[0].diagnostics


def test_required_choice() -> None:
    communication = minimal("Communication")
    communication["payload"] = [{"id": "p"}]
    assert _issues(communication) == [("required", "Communication.payload[0].content")]


def test_wrong_shape_is_structure() -> None:
    plan = minimal("CarePlan")
    plan["subject"] = "Patient/1"
    plan["activity"] = {"detail": {"status": "scheduled"}}
    assert set(_issues(plan)) == {
        ("structure", "CarePlan.subject"),
        ("structure", "CarePlan.activity"),
    }


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Nope"}, [("value", "resourceType")]),
        ({"resourceType": "Evidence", "status": "draft"}, [("value", "resourceType")]),
        ({"resourceType": "SubscriptionTopic"}, [("value", "resourceType")]),
        ({"resourceType": 5}, [("value", "resourceType")]),
        ({"resourceType": ["Patient"]}, [("value", "resourceType")]),
        ({"gender": "male"}, [("required", "resourceType")]),
        (["Patient"], [("structure", "")]),
    ],
)
def test_resource_type_must_be_served(resource: Any, expected: list[tuple[str, str]]) -> None:
    assert _issues(resource) == expected
