"""The plain-path walker against fhirpathpy: identical results on every example resource
and every supported parameter, and on resources made to hit fhirpathpy's corner cases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fhirpathpy.engine.util import uniq
from hypothesis import given
from hypothesis import strategies as st

from fhircare.fhir import jsonio
from fhircare.search.fhirpath import (
    PathWalker,
    UnionWalker,
    WalkedComposite,
    compile_composite,
    compile_expression,
    distinct,
)
from fhircare.search.registry import SUPPORTED_TYPES, SearchParamRegistry, default_registry

ROOT = Path(__file__).resolve().parents[3]
WALKERS = (PathWalker, UnionWalker)

# Shapes the examples may not have: primitive extensions (``_given`` with a null beside
# it, ``_birthDate`` with an id), extension-only elements, choice types with only their
# ``_x`` part, empty arrays, a second contained resource, data of the wrong JSON type.
CORNER_CASES: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "corner-1",
        "meta": {"tag": [{"extension": [{"url": "http://x", "valueString": "only"}]}]},
        "name": [
            {"family": "Doe", "given": ["Jo", None], "_given": [None, {"id": "g2"}]},
            {"given": [], "_family": {"extension": [{"url": "http://x", "valueCode": "a"}]}},
        ],
        "birthDate": "1970",
        "_birthDate": {"id": "b1", "extension": [{"url": "http://x", "valueString": "y"}]},
        "_gender": {"extension": [{"url": "http://x", "valueCode": "u"}]},
        "deceasedBoolean": False,
        "telecom": [{"system": "email", "value": "a@b"}, {"system": "phone"}],
        "address": "not-an-array",
        "contained": [{"resourceType": "Organization", "id": "o"}],
        "managingOrganization": {"reference": "#o"},
    },
    {
        "resourceType": "Observation",
        "id": "corner-2",
        "_valueString": {"id": "v"},
        "effectivePeriod": {"start": "2026-01-01"},
        "effectiveDateTime": "2026-01-02",
        "component": [
            {"code": {"text": "a"}, "valueQuantity": {"value": 1.50}},
            {"code": {"text": "b"}, "valueCodeableConcept": {"text": "x"}},
        ],
        "subject": {"reference": "Patient/p"},
    },
    {
        "resourceType": "Condition",
        "id": "corner-3",
        "onsetAge": {"value": 40, "unit": "a"},
        "abatementString": "spring",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]},
        "category": [],
        "subject": {"reference": "Group/g"},
    },
    {"resourceType": "Task", "id": "corner-4", "restriction": {"period": {"end": "2026"}}},
    {
        "resourceType": "Task",
        "id": "corner-6",
        "for": {"reference": "#p"},
        "contained": [{"resourceType": "Patient", "id": "p"}],
        "owner": {"reference": "http://peer.example.org/fhir/Practitioner/x/_history/2"},
    },
    {"resourceType": "Task", "id": "corner-7", "for": {"reference": "#missing"}},
    {"resourceType": "Task", "id": "corner-8", "for": {"reference": "urn:uuid:0b7d"}},
    {"resourceType": "Task", "id": "corner-9", "for": {"type": "Patient", "identifier": {}}},
    {"resourceType": "Task", "id": "corner-10", "for": "Patient/not-a-reference-object"},
    {"resourceType": "Task", "id": "corner-11", "for": {"reference": "Patient/"}},
    {"resourceType": "CarePlan", "id": "corner-12", "subject": {"reference": "Group/g"}},
    {"resourceType": "CarePlan", "id": "corner-13", "subject": {"reference": "Patient/p"}},
    {
        "resourceType": "Practitioner",
        "id": "corner-14",
        "telecom": [
            {"system": "email", "value": "a@b"},
            {"system": "phone", "_system": {"extension": [{"url": "http://x", "valueCode": "y"}]}},
            {"_system": {"id": "s"}, "value": "x"},
            {"system": "Email", "value": "c@d"},
            {"system": ["email"], "value": "list"},
            {"system": "email", "value": "a@b"},
            "not-an-object",
        ],
    },
    {
        "resourceType": "PlanDefinition",
        "id": "corner-15",
        "relatedArtifact": [
            {"type": "composed-of", "resource": "http://x/PlanDefinition/a"},
            {"type": "depends-on", "resource": "http://x/Library/b"},
            {"type": "composed-of"},
            {"type": "composed-of", "_resource": {"id": "r"}},
        ],
        "library": ["http://x/Library/b", "http://x/Library/c"],
    },
    {"resourceType": "Encounter", "id": "corner-16", "length": {"value": 30, "unit": "min"}},
    {
        "resourceType": "Questionnaire",
        "id": "corner-18",
        "useContext": [
            {"code": {"code": "age"}, "valueRange": {"low": {"value": 18}}},
            {"code": {"code": "focus"}, "valueCodeableConcept": {"text": "copd"}},
            {"code": {"code": "program"}, "valueQuantity": {"value": 2}},
            {"code": {"code": "workflow"}, "valueReference": {"reference": "PlanDefinition/p"}},
        ],
    },
    {
        "resourceType": "DocumentReference",
        "id": "corner-19",
        "relatesTo": [
            {"code": "replaces", "target": {"reference": "DocumentReference/a"}},
            {"code": "appends"},
        ],
    },
    {
        "resourceType": "Observation",
        "id": "corner-20",
        "code": {"text": "when"},
        "valueDateTime": "2026-01-02",
        "_valueDateTime": {"id": "vd"},
        "component": [{"code": {"text": "s"}, "valueString": "x"}, {"valuePeriod": {}}],
    },
    {
        "resourceType": "Observation",
        "id": "corner-17",
        "code": {"text": "same"},
        "valueQuantity": {"value": 1},
        "component": [
            {"code": {"text": "same"}, "valueQuantity": {"value": 1}},
            {"code": {"text": "other"}, "valueSampledData": {"origin": {"value": 0}}},
        ],
        "dataAbsentReason": {"text": "x"},
    },
    {"resourceType": "Questionnaire", "id": "corner-5", "item": [{"item": [{"code": [{}]}]}]},
]


def example_resources(loads: Callable[[str], Any] = json.loads) -> list[dict[str, Any]]:
    """The examples' resources and fhircare's own in ``profiles/``."""
    return [
        entry["resource"]
        for path in sorted((ROOT / "examples").glob("*.json"))
        for entry in loads(path.read_text(encoding="utf-8"))["entry"]
    ] + [
        loads(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "profiles").glob("*.json"))
    ]


@pytest.fixture(scope="module")
def registry() -> SearchParamRegistry:
    return default_registry()


def compare(registry: SearchParamRegistry, resources: list[dict[str, Any]]) -> tuple[int, int]:
    """(walker evaluations compared, of them with values); asserts each pair equal."""
    compared = with_values = 0
    for resource in resources:
        resource_type = resource["resourceType"]
        assert resource_type in SUPPORTED_TYPES
        for code in registry.params_for(resource_type):
            evaluator = registry.evaluator(resource_type, code)
            if not isinstance(evaluator, WALKERS):
                continue
            expression = registry.expression_for(resource_type, code)
            reference = compile_expression(expression, resource_type, fast=False)
            fast, slow = evaluator(resource), reference(resource)
            assert fast == slow, (resource_type, resource.get("id"), code, expression)
            compared += 1
            with_values += bool(fast)
    return compared, with_values


def test_the_walker_serves_most_parameters(registry: SearchParamRegistry) -> None:
    walked = total = 0
    for resource_type in SUPPORTED_TYPES:
        for code in registry.params_for(resource_type):
            total += 1
            walked += isinstance(registry.evaluator(resource_type, code), WALKERS)
    assert walked / total > 0.9


@pytest.mark.parametrize("loads", [json.loads, jsonio.loads], ids=["floats", "JsonNumber"])
def test_the_walker_equals_fhirpathpy_on_every_example(
    registry: SearchParamRegistry, loads: Callable[[str], Any]
) -> None:
    resources = example_resources(loads)
    assert {r["resourceType"] for r in resources} == SUPPORTED_TYPES
    compared, with_values = compare(registry, resources)
    assert compared > 1000
    assert with_values > 500


def test_the_walker_equals_fhirpathpy_on_corner_cases(registry: SearchParamRegistry) -> None:
    compared, with_values = compare(registry, CORNER_CASES)
    assert compared > 100
    assert with_values > 15


@pytest.mark.parametrize(
    ("expression", "walked"),
    [
        ("Patient.name", True),
        ("Resource.meta.tag", True),
        ("Observation.effective", True),  # a choice as the last step
        ("Task.restriction.period", True),
        ("Observation.value.unit", False),  # a choice before the last step
        ("Patient.contained.id", False),  # a step into a resource
        ("Patient.name.where(use = 'official')", True),
        ("Patient.telecom.where(system='email')", True),
        ("PlanDefinition.relatedArtifact.where(type='composed-of').resource", True),
        ("PlanDefinition.relatedArtifact.where(type='composed-of').resource.length", False),
        ("Patient.name.where(use = 'official' and text = 'x')", False),
        ("Patient.name.where(period = 'x')", False),  # not a string element
        ("Patient.birthDate.where(x = 'y')", False),
        ("Observation.effective.where(x = 'y')", False),  # a choice
        ("Observation", True),
        ("Encounter.length", True),
        ("Patient.name.given.length", False),
        ("Patient.name | Patient.telecom", True),
        ("Condition.onset.ofType(Age) | Condition.onset.ofType(Range)", True),
        ("(Observation.value.ofType(Quantity)) | (Observation.value.ofType(SampledData))", True),
        ("Patient.name.ofType(HumanName)", False),  # not a choice
        ("Patient.name | Patient.telecom.where(system = 'email')", True),
        ("Patient.name | Patient.deceased.exists()", False),
        ("(Observation.value.ofType(CodeableConcept)).text", True),
        ("Observation.value.ofType(CodeableConcept).coding.code", False),  # one step only
        ("Condition.onset.ofType(Quantity).value", True),  # only Age is a Quantity
        ("ActivityDefinition.timing.ofType(Quantity).value", False),  # Age or Duration
        ("Condition.onset.ofType(Age).value", True),
        ("Patient.name.length", False),
        ("CarePlan.subject.where(resolve() is Patient)", True),
        ("Appointment.participant.actor.where(resolve() is Location)", True),
        ("CarePlan.subject.where(resolve() is Patient).display", False),
        ("CarePlan.subject.where(resolve().active)", False),
    ],
)
def test_which_expressions_are_walked(expression: str, walked: bool) -> None:
    root = expression.split(".")[0]
    resource_type = "Patient" if root == "Resource" else root
    evaluator = compile_expression(expression, resource_type)
    assert isinstance(evaluator, WALKERS) is walked


def test_the_walker_only_reads_its_own_type() -> None:
    walker = compile_expression("Patient.name", "Patient")
    assert isinstance(walker, PathWalker)
    assert walker({"resourceType": "Practitioner", "name": [{"family": "x"}]}) == []
    assert walker({"resourceType": "Patient", "name": [{"family": "x"}]}) == [{"family": "x"}]


def test_every_composite_is_walked(registry: SearchParamRegistry) -> None:
    for resource_type in SUPPORTED_TYPES:
        for code, param in registry.params_for(resource_type).items():
            if param.type == "composite":
                evaluator = registry.composite_evaluator(resource_type, code)
                assert isinstance(evaluator, WalkedComposite), (resource_type, code)


def test_walked_composites_equal_fhirpathpy(registry: SearchParamRegistry) -> None:
    compared = with_values = 0
    for resource in [*example_resources(jsonio.loads), *CORNER_CASES]:
        resource_type = resource["resourceType"]
        for code, param in registry.params_for(resource_type).items():
            if param.type != "composite":
                continue
            expression = registry.expression_for(resource_type, code)
            components = [c for _, c in param.components]
            fast = compile_composite(expression, resource_type, components)
            slow = compile_composite(expression, resource_type, components, fast=False)
            assert fast(resource) == slow(resource), (resource_type, resource["id"], code)
            compared += 1
            with_values += any(all(values) for values in fast(resource))
    assert compared > 100
    assert with_values > 30


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["a", "b", "1"]),
    st.sampled_from([jsonio.JsonNumber("1.0"), jsonio.JsonNumber("1.00"), 1.0]),
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=2)
        | st.dictionaries(st.sampled_from(["x", "y"]), inner, max_size=2)
    ),
    max_leaves=6,
)


@given(st.lists(_json, max_size=6))
def test_distinct_is_fhirpathpys_uniq(items: list[Any]) -> None:
    assert distinct(items) == uniq(items)
