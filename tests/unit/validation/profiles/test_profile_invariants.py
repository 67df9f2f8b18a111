"""Invariants a profile adds: https://hl7.org/fhir/R4/conformance-rules.html#constraints"""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.validation.profiles.builders import (
    care_plan,
    element,
    found,
    issues,
    observation,
    profile,
)


def _constraint(
    key: str, expression: str, severity: str = "error", human: str = "a rule"
) -> dict[str, Any]:
    return {"key": key, "severity": severity, "human": human, "expression": expression}


def test_an_error_invariant_names_its_key_and_text() -> None:
    rules = profile(
        "CarePlan",
        element(
            "CarePlan.activity",
            constraint=[
                _constraint(
                    "plan-1", "reference.exists() or detail.exists()", human="Say what to do"
                )
            ],
        ),
    )
    plan = care_plan(activity=[{"detail": {"status": "scheduled"}}, {"progress": [{"text": "?"}]}])
    assert found(plan, rules) == [("error", "invariant", "CarePlan.activity[1]")]
    (issue,) = issues(plan, rules)
    assert issue.diagnostics == "CarePlan.activity[1]: Constraint failed: plan-1: 'Say what to do'"


def test_a_warning_invariant_gives_a_warning() -> None:
    rules = profile(
        "CarePlan",
        element("CarePlan", constraint=[_constraint("plan-2", "title.exists()", "warning")]),
    )
    assert found(care_plan(title="t"), rules) == []
    assert found(care_plan(), rules) == [("warning", "invariant", "CarePlan")]


def test_two_invariants_failing_on_one_element_are_two_issues() -> None:
    rules = profile(
        "CarePlan",
        element(
            "CarePlan",
            constraint=[
                _constraint("a-1", "title.exists()"),
                _constraint("a-2", "description.exists()"),
            ],
        ),
    )
    assert [i.diagnostics for i in issues(care_plan(), rules)] == [
        "CarePlan: Constraint failed: a-1: 'a rule'",
        "CarePlan: Constraint failed: a-2: 'a rule'",
    ]


def test_an_empty_result_fails_as_in_the_reference_validator() -> None:
    rules = profile(
        "CarePlan", element("CarePlan.period", constraint=[_constraint("p-1", "start <= end")])
    )
    assert found(care_plan(period={"start": "2024-01-01", "end": "2024-02-01"}), rules) == []
    assert found(care_plan(period={"start": "2024-03-01", "end": "2024-02-01"}), rules) == [
        ("error", "invariant", "CarePlan.period")
    ]
    assert found(care_plan(period={"start": "2024-03-01"}), rules) == [
        ("error", "invariant", "CarePlan.period")
    ]


def test_this_and_typed_choices() -> None:
    """Each type of a choice is typed as itself (vs-1 as US Core writes it)."""
    rules = profile(
        "Observation",
        element(
            "Observation.effective[x]",
            constraint=[
                _constraint("vs-1", "($this is dateTime) implies $this.toString().length() >= 8")
            ],
        ),
        element(
            "Observation.value[x]",
            constraint=[_constraint("q-1", "$this is Quantity implies $this.value > 0")],
        ),
    )
    assert (
        found(observation(effectiveDateTime="2024-01-02", valueQuantity={"value": 3}), rules) == []
    )
    assert found(observation(effectivePeriod={"start": "2024"}, valueString="x"), rules) == []
    assert found(observation(effectiveDateTime="2024-01", valueQuantity={"value": 0}), rules) == [
        ("error", "invariant", "Observation.effective.ofType(dateTime)"),
        ("error", "invariant", "Observation.value.ofType(Quantity)"),
    ]


def test_an_invariant_on_a_primitive_and_percent_resource() -> None:
    rules = profile(
        "CarePlan",
        element(
            "CarePlan.title",
            constraint=[_constraint("t-1", "$this.length() < 10 and %resource.status = 'active'")],
        ),
    )
    assert found(care_plan(title="Short"), rules) == []
    assert found(care_plan(title="A much longer title"), rules) == [
        ("error", "invariant", "CarePlan.title")
    ]
    assert found(care_plan(title="Short", status="draft"), rules) == [
        ("error", "invariant", "CarePlan.title")
    ]


def test_an_invariant_that_cannot_be_evaluated_is_a_warning() -> None:
    rules = profile(
        "CarePlan",
        element("CarePlan.subject", constraint=[_constraint("s-1", "resolve().exists()")]),
    )
    assert found(care_plan(), rules) == [("warning", "exception", "CarePlan.subject")]


def test_the_resource_is_not_changed_by_evaluation() -> None:
    rules = profile(
        "CarePlan",
        element("CarePlan", constraint=[_constraint("c-1", "descendants().count() > 3")]),
    )
    plan = care_plan(activity=[{"detail": {"status": "scheduled"}}])
    before = repr(plan)
    assert found(plan, rules) == []
    assert repr(plan) == before


def test_base_invariants_are_not_evaluated_again() -> None:
    """cpl-3 is R4's own (reference or detail, not both): the structural checks own it."""
    restating = profile(
        "CarePlan",
        element(
            "CarePlan.activity",
            constraint=[_constraint("cpl-3", "detail.empty() or reference.empty()")],
        ),
    )
    both = {"reference": {"reference": "Task/1"}, "detail": {"status": "scheduled"}}
    assert found(care_plan(activity=[both]), restating) == []


def test_trace_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    rules = profile(
        "CarePlan",
        element("CarePlan", constraint=[_constraint("t-1", "title.trace('title').exists()")]),
    )
    assert found(care_plan(title="t"), rules) == []
    assert capsys.readouterr().out == ""
