"""Literal references: https://hl7.org/fhir/R4/references.html#literal"""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.validation.minimal_resources import minimal

from fhircare.validation import find_issues


def _plan_with_subject(reference: str) -> dict[str, Any]:
    plan = minimal("CarePlan")
    plan["subject"] = {"reference": reference}
    return plan


def _issues(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(issue.code, issue.expression[0]) for issue in find_issues(resource)]


@pytest.mark.parametrize(
    "reference",
    [
        "Patient/123",
        "Group/a.b-c",
        "Patient/" + "x" * 64,
        "Patient/123/_history/7",
        "http://example.org/fhir/Patient/123",
        "https://example.org/fhir/Patient/123/_history/2",
        "https://example.org/people/123",  # absolute, not FHIR-shaped: allowed
        "urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
        "urn:oid:1.2.36.146.595.217.0.1",
    ],
)
def test_good_references_are_accepted(reference: str) -> None:
    assert _issues(_plan_with_subject(reference)) == []


@pytest.mark.parametrize(
    "reference",
    [
        "not a ref !!",
        "",
        "Patient",
        "Patient/",
        "Patient/1 ",
        "Patient/a_b",
        "Patient/" + "x" * 65,
        "Patient/1/_history/",
        "Patient/1/history/2",
        "patient/1",
        "Nope/1",
        "ftp://example.org/Patient/1",
        "http://",
        "urn:uuid:not-a-uuid",
        "urn:oid:abc",
        "/Patient/1",
    ],
)
def test_malformed_references_are_rejected(reference: str) -> None:
    issues = find_issues(_plan_with_subject(reference))
    assert [(i.code, i.expression) for i in issues] == [("value", ("CarePlan.subject.reference",))]


def test_wrong_target_type_is_rejected() -> None:
    issues = find_issues(_plan_with_subject("Practitioner/1"))
    assert [(i.code, i.expression) for i in issues] == [("value", ("CarePlan.subject.reference",))]
    assert "Practitioner" in issues[0].diagnostics and "Patient | Group" in issues[0].diagnostics


def test_target_type_is_checked_for_fhir_shaped_absolute_urls() -> None:
    plan = _plan_with_subject("https://example.org/fhir/Practitioner/1")
    assert _issues(plan) == [("value", "CarePlan.subject.reference")]


def test_references_in_lists_and_backbone_elements() -> None:
    plan = minimal("CarePlan")
    plan["addresses"] = [{"reference": "Condition/c1"}, {"reference": "Observation/o1"}]
    plan["activity"] = [{"detail": {"status": "scheduled", "location": {"reference": "bad ref"}}}]
    assert _issues(plan) == [
        ("value", "CarePlan.addresses[1].reference"),
        ("value", "CarePlan.activity[0].detail.location.reference"),
    ]


def test_reference_any_accepts_every_type() -> None:
    task = minimal("Task")
    task["focus"] = {"reference": "Consent/c1"}
    assert _issues(task) == []


def test_logical_and_display_only_references_are_fine() -> None:
    plan = minimal("CarePlan")
    plan["subject"] = {"identifier": {"system": "urn:oid:1.2.3", "value": "42"}}
    plan["author"] = {"display": "Dr Who"}
    assert _issues(plan) == []


def test_fragment_references_resolve_to_contained_resources() -> None:
    plan = minimal("CarePlan")
    goal = {**minimal("Goal"), "id": "g1", "subject": {"reference": "#"}}
    plan["contained"] = [goal]
    plan["goal"] = [{"reference": "#g1"}, {"reference": "#g2"}]
    assert _issues(plan) == [("value", "CarePlan.goal[1].reference")]


def test_references_inside_identifiers_are_checked() -> None:
    plan = minimal("CarePlan")
    plan["identifier"] = [{"value": "1", "assigner": {"reference": "Patient/1"}}]
    assert _issues(plan) == [("value", "CarePlan.identifier[0].assigner.reference")]
