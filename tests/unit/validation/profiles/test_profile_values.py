"""fixed[x] and pattern[x]: https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.fixed_x_"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.unit.validation.profiles.builders import (
    care_plan,
    element,
    errors,
    found,
    issues,
    observation,
    profile,
)

from fhircare.validation.profiles.values import contains, same_value

LOINC = {"system": "http://loinc.org", "code": "8867-4"}


def test_a_fixed_primitive_must_be_that_value() -> None:
    rules = profile("CarePlan", element("CarePlan.intent", fixedCode="plan"))
    assert errors(care_plan(), rules) == []
    assert found(care_plan(intent="order"), rules) == [("error", "value", "CarePlan.intent")]
    (issue,) = issues(care_plan(intent="order"), rules)
    assert issue.diagnostics == 'CarePlan.intent: Value is "order" but must be "plan" (fixed)'


def test_a_fixed_primitive_with_only_an_extension_has_no_value() -> None:
    rules = profile("CarePlan", element("CarePlan.title", fixedString="Plan"))
    plan = care_plan(_title={"extension": [{"url": "urn:x", "valueString": "y"}]})
    assert errors(plan, rules) == ["CarePlan.title"]


def test_a_fixed_complex_value_must_match_exactly() -> None:
    rules = profile(
        "Observation", element("Observation.code", fixedCodeableConcept={"coding": [LOINC]})
    )
    assert errors(observation(code={"coding": [LOINC]}), rules) == []
    assert errors(observation(code={"coding": [LOINC], "text": "Heart rate"}), rules) == [
        "Observation.code"
    ]
    assert errors(observation(code={"coding": [{**LOINC, "display": "HR"}]}), rules) == [
        "Observation.code"
    ]


def test_a_pattern_needs_only_what_it_lists() -> None:
    rules = profile(
        "Observation", element("Observation.code", patternCodeableConcept={"coding": [LOINC]})
    )
    with_more = {
        "coding": [{"system": "urn:local", "code": "hr"}, {**LOINC, "display": "Heart rate"}],
        "text": "HR",
    }
    assert errors(observation(code=with_more), rules) == []
    assert found(
        observation(code={"coding": [{"system": "http://loinc.org", "code": "0000-0"}]}), rules
    ) == [("error", "value", "Observation.code")]


def test_a_pattern_array_needs_each_item_matched_by_some_item() -> None:
    pattern = {"coding": [LOINC, {"system": "urn:local", "code": "hr"}]}
    rules = profile("Observation", element("Observation.code", patternCodeableConcept=pattern))
    both = {"coding": [{"system": "urn:local", "code": "hr", "display": "x"}, LOINC]}
    assert errors(observation(code=both), rules) == []
    assert errors(observation(code={"coding": [LOINC]}), rules) == ["Observation.code"]


def test_a_fixed_value_on_each_item_of_a_repeating_element() -> None:
    rules = profile(
        "CarePlan", element("CarePlan.instantiatesUri", fixedUri="http://example.org/protocol")
    )
    plan = care_plan(instantiatesUri=["http://example.org/protocol", "http://example.org/other"])
    assert errors(plan, rules) == ["CarePlan.instantiatesUri[1]"]


def test_a_pattern_on_a_choice_value() -> None:
    rules = profile(
        "Observation",
        element(
            "Observation.value[x]",
            type=[{"code": "Quantity"}],
            patternQuantity={"system": "http://unitsofmeasure.org", "code": "/min"},
        ),
    )
    good = {"value": 72, "unit": "beats/min", "system": "http://unitsofmeasure.org", "code": "/min"}
    assert errors(observation(valueQuantity=good), rules) == []
    assert errors(observation(valueQuantity={**good, "code": "/s"}), rules) == [
        "Observation.value.ofType(Quantity)"
    ]


@pytest.mark.parametrize(
    ("value", "fixed", "same"),
    [
        (1, 1.0, True),
        (Decimal("1.50"), 1.5, True),
        (True, 1, False),
        (1, True, False),
        ("1", 1, False),
        ({"a": [1, 2]}, {"a": [1, 2]}, True),
        ({"a": [2, 1]}, {"a": [1, 2]}, False),
        ({"a": 1, "b": 2}, {"a": 1}, False),
    ],
)
def test_same_value(value: Any, fixed: Any, same: bool) -> None:
    assert same_value(value, fixed) is same


@pytest.mark.parametrize(
    ("value", "pattern", "matches"),
    [
        ({"a": 1, "b": 2}, {"a": 1}, True),
        ({"a": [{"x": 1, "y": 2}, {"x": 3}]}, {"a": [{"x": 3}, {"y": 2}]}, True),
        ({"a": [{"x": 1}]}, {"a": [{"x": 1}, {"x": 2}]}, False),
        ({"a": {"x": 1}}, {"a": {"x": 1, "y": 2}}, False),
        ("text", "text", True),
        (False, False, True),
    ],
)
def test_contains(value: Any, pattern: Any, matches: bool) -> None:
    assert contains(value, pattern) is matches
