"""validate_resource end to end: valid instances pass; all issues of a bad one are reported."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.validation.minimal_resources import MINIMAL, care_plan, minimal

from fhircare.fhir.errors import Category, FhirError
from fhircare.validation import find_issues, validate_resource


@pytest.mark.parametrize("resource_type", sorted(MINIMAL))
def test_minimal_resource_is_valid(resource_type: str) -> None:
    validate_resource(minimal(resource_type))


def test_realistic_care_plan_is_valid() -> None:
    plan = care_plan()
    assert 4500 < len(json.dumps(plan, separators=(",", ":"))) < 6000
    validate_resource(plan)


def test_validation_does_not_modify_the_resource() -> None:
    plan = care_plan()
    plan["status"] = "bogus"
    before = copy.deepcopy(plan)
    find_issues(plan)
    assert plan == before


def test_invalid_resource_raises_fhir_error_with_every_issue() -> None:
    plan = minimal("CarePlan")
    plan["status"] = "bogus"
    plan["subject"] = {"reference": "not a ref !!"}
    plan["foo"] = 1
    del plan["intent"]
    plan["activity"] = [{"detail": {"status": "nope"}}]
    plan["created"] = "tomorrow"
    with pytest.raises(FhirError) as raised:
        validate_resource(plan)
    error = raised.value
    assert error.category is Category.INVALID
    assert {(i.code, i.expression) for i in error.issues} == {
        ("code-invalid", ("CarePlan.status",)),
        ("value", ("CarePlan.subject.reference",)),
        ("structure", ("CarePlan.foo",)),
        ("required", ("CarePlan.intent",)),
        ("code-invalid", ("CarePlan.activity[0].detail.status",)),
        ("value", ("CarePlan.created",)),
    }
    assert all(i.severity == "error" and i.diagnostics for i in error.issues)
    assert "'bogus' is not in the required value set" in str(error)


def test_each_problem_is_reported_once() -> None:
    plan = minimal("CarePlan")
    plan["subject"] = {"reference": "Patient/1", "foo": 1}
    del plan["status"]
    issues = find_issues(plan)
    assert len(issues) == len({(i.expression, i.code) for i in issues}) == 2


def test_contained_resources_are_validated() -> None:
    plan = minimal("CarePlan")
    goal = {**minimal("Goal"), "id": "g1"}
    goal["lifecycleStatus"] = "bogus"
    goal["subject"] = {"reference": "Practitioner/1"}
    del goal["description"]
    condition = {**minimal("Condition"), "id": "c1", "onsetDateTime": "never"}
    plan["contained"] = [goal, condition, {"resourceType": "Nope", "id": "n"}, {"id": "x"}]
    plan["goal"] = [{"reference": "#g1"}]
    assert {(i.code, i.expression[0]) for i in find_issues(plan)} == {
        ("code-invalid", "CarePlan.contained[0].lifecycleStatus"),
        ("value", "CarePlan.contained[0].subject.reference"),
        ("required", "CarePlan.contained[0].description"),
        ("value", "CarePlan.contained[1].onset.ofType(dateTime)"),
        ("value", "CarePlan.contained[2].resourceType"),
        ("required", "CarePlan.contained[3].resourceType"),
    }


def test_bundle_entries_are_validated_with_their_own_type() -> None:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": minimal("Patient")}, {"resource": minimal("Task")}],
    }
    validate_resource(bundle)
    bundle["entry"][1]["resource"]["status"] = "bogus"
    assert [(i.code, i.expression[0]) for i in find_issues(bundle)] == [
        ("code-invalid", "Bundle.entry[1].resource.status")
    ]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    resource_type=st.sampled_from(sorted(MINIMAL)),
    key=st.sampled_from(["status", "subject", "contained", "extension", "_status", "name", "x"]),
    value=_json,
)
def test_arbitrary_json_is_reported_never_raised(resource_type: str, key: str, value: Any) -> None:
    resource: dict[str, Any] = minimal(resource_type)
    resource[key] = value
    try:
        validate_resource(resource)
    except FhirError as error:
        assert error.category is Category.INVALID and error.issues
