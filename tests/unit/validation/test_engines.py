"""The engine registry and the fhirkit adapter: paths, issue codes, what it leaves out."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
from tests.unit.validation.minimal_resources import minimal

from fhircare.settings import Settings
from fhircare.validation import engines
from fhircare.validation.fhirkit_engine import fhirkit_issues

SRC = Path(__file__).resolve().parents[3] / "src" / "fhircare"


@pytest.fixture
def engine() -> None:
    """These tests name the engine they test: not once per engine (``conftest.engine``)."""
    return None


def _found(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(code, expression) for code, _, expression in fhirkit_issues(resource)]


def test_the_setting_offers_every_engine() -> None:
    choices = typing.get_args(Settings.model_fields["validator"].annotation)
    assert set(choices) == set(engines.ENGINES) == set(typing.get_args(engines.EngineName))
    assert Settings().validator == engines.DEFAULT_ENGINE
    with pytest.raises(KeyError):
        engines.engine("nope")


def test_only_validation_imports_fhirkit() -> None:
    importing = {
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if re.search(r"^\s*(import fhirkit|from fhirkit\b)", path.read_text(), re.MULTILINE)
    }
    assert importing == {"validation/fhirkit_engine.py"}


def test_paths_become_fhirpath_through_choices_and_primitive_extensions() -> None:
    observation = minimal("Observation")
    observation["valueQuantity"]["value"] = "72.5"
    observation["_status"] = {"extension": [{"valueString": "x"}]}
    observation["component"] = [{"code": {"text": "x"}, "valueInteger": 1, "valueString": "y"}]
    assert _found(observation) == [
        ("required", "Observation.status.extension[0].url"),
        ("value", "Observation.value.ofType(Quantity).value"),
        ("structure", "Observation.component[0].value"),
    ]


def test_messages_name_the_parent_and_the_element() -> None:
    plan = {**minimal("CarePlan"), "foo": 1}
    del plan["intent"]
    assert fhirkit_issues(plan) == [
        ("required", "CarePlan: Missing required element 'intent'", "CarePlan.intent"),
        ("structure", "CarePlan: Unknown element 'foo'", "CarePlan.foo"),
    ]


@pytest.mark.parametrize(
    ("elements", "expected"),
    [
        ({"active": "yes"}, ("value", "Patient.active")),
        ({"birthDate": "1974-13-45"}, ("value", "Patient.birthDate")),
        ({"multipleBirthInteger": 2**40}, ("value", "Patient.multipleBirth.ofType(integer)")),
        ({"gender": ["male"]}, ("value", "Patient.gender")),
        ({"gender": None}, ("structure", "Patient.gender")),
        ({"name": []}, ("structure", "Patient.name")),
        ({"name": {"family": "x"}}, ("structure", "Patient.name")),
        (
            {"managingOrganization": [{"display": "x"}]},
            ("structure", "Patient.managingOrganization"),
        ),
        ({"name": [None]}, ("structure", "Patient.name[0]")),
    ],
)
def test_issue_codes_follow_the_message(
    elements: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert _found({**minimal("Patient"), **elements}) == [expected]


def test_a_wrong_shape_is_not_also_missing() -> None:
    plan = {**minimal("CarePlan"), "subject": "Patient/1"}
    assert _found(plan) == [("structure", "CarePlan.subject")]


def test_a_second_choice_variant_is_not_also_unknown() -> None:
    patient = {**minimal("Patient"), "multipleBirthInteger": 1, "multipleBirthBoolean": True}
    assert _found(patient) == [("structure", "Patient.multipleBirth")]


def test_nothing_is_said_inside_resources_of_types_not_served() -> None:
    """fhirkit knows Evidence (R4); we do not serve it, and the walk reports its type."""
    evidence = {"resourceType": "Evidence", "status": "draft", "foo": 1}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": evidence}, {"resource": {**minimal("Patient"), "foo": 1}}],
    }
    assert _found(bundle) == [("structure", "Bundle.entry[1].resource.foo")]
    plan = {**minimal("CarePlan"), "contained": [evidence, {"id": "x"}, "text"]}
    assert _found(plan) == []


def test_contained_resources_follow_their_own_rules() -> None:
    goal = {**minimal("Goal"), "id": "g1", "startDate": "2023-1-1"}
    plan = {**minimal("CarePlan"), "contained": [goal]}
    assert _found(plan) == [("value", "CarePlan.contained[0].start.ofType(date)")]


def test_input_fhirkit_refuses_is_an_issue_not_an_exception() -> None:
    observation = minimal("Observation")
    observation["valueQuantity"]["value"] = float("nan")
    assert _found(observation) == [("structure", "Observation")]


def test_the_rule_tree_holds_only_r4_elements() -> None:
    """fhirkit knows R4 (4.0.1) exactly: every element the tree (built from the R4B models)
    has in a served type must be one fhirkit does not call unknown."""
    import fhirkit

    from fhircare.fhir.models import RESOURCE_TYPES
    from fhircare.fhir.rule_tree import ElementKind, TypeNode, element_rules

    seen: set[int] = set()
    unknown: list[str] = []

    def visit(resource_type: str, node: TypeNode, steps: list[tuple[str, bool]]) -> None:
        seen.add(id(node))
        for name, rule in node.elements.items():
            if rule.kind is ElementKind.PRIMITIVE_EXTENSION:
                continue
            value: Any = {name: None}
            path = resource_type + "".join(f".{s}" + ("[0]" if many else "") for s, many in steps)
            for step, many in reversed(steps):
                value = {step: [value] if many else value}
            found = fhirkit.validate({"resourceType": resource_type, **value})
            if any(i.path == f"{path}.{name}" and i.message == "unknown element" for i in found):
                unknown.append(f"{node.type_name}.{name}")
            elif rule.child is not None and id(rule.child) not in seen:
                visit(resource_type, rule.child, [*steps, (name, rule.is_list)])

    for resource_type in sorted(RESOURCE_TYPES):
        visit(resource_type, element_rules(resource_type), [])
    assert unknown == []
    assert len(seen) > 500
