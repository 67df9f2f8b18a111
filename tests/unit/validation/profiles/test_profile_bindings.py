"""Bindings a profile sets, and ValueSet expansion without I/O:
https://hl7.org/fhir/R4/terminologies.html#strength, https://hl7.org/fhir/R4/valueset.html#compose"""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.validation.profiles.builders import (
    BASE,
    care_plan,
    code_system,
    element,
    found,
    issues,
    observation,
    profile,
    value_set,
)

from fhircare.validation.profiles import ProfileSet

CS = f"{BASE}/CodeSystem/plan-kind"
KINDS = code_system("plan-kind", "longitudinal", "transitional", "episodic")
ALL_KINDS = value_set("kinds", {"include": [{"system": CS}]})


def _category(strength: str, vs: str = "kinds") -> dict[str, Any]:
    return profile(
        "CarePlan",
        element(
            "CarePlan.category", binding={"strength": strength, "valueSet": f"{BASE}/ValueSet/{vs}"}
        ),
    )


def _plan(*codings: tuple[str, str], text: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = (
        {"coding": [{"system": s, "code": c} for s, c in codings]} if codings else {}
    )
    if text:
        concept["text"] = text
    return care_plan(category=[concept])


def test_required_binding_on_a_codeable_concept() -> None:
    rules = _category("required")
    assert found(_plan((CS, "episodic")), rules, KINDS, ALL_KINDS) == []
    assert found(_plan(("urn:other", "x"), (CS, "episodic")), rules, KINDS, ALL_KINDS) == []
    assert found(_plan((CS, "chronic")), rules, KINDS, ALL_KINDS) == [
        ("error", "code-invalid", "CarePlan.category[0]")
    ]
    assert found(_plan(("urn:other", "episodic")), rules, KINDS, ALL_KINDS) == [
        ("error", "code-invalid", "CarePlan.category[0]")
    ]
    assert found(_plan(text="no code"), rules, KINDS, ALL_KINDS) == [
        ("error", "code-invalid", "CarePlan.category[0]")
    ]
    (issue,) = issues(_plan((CS, "chronic")), rules, KINDS, ALL_KINDS)
    assert (
        f"({CS}#chronic)" in issue.diagnostics
        and "a code is required from this value set" in issue.diagnostics
    )


def test_extensible_binding_warns_and_allows_text_alone() -> None:
    rules = _category("extensible")
    assert found(_plan(("urn:other", "chronic")), rules, KINDS, ALL_KINDS) == [
        ("warning", "code-invalid", "CarePlan.category[0]")
    ]
    assert found(_plan(text="something else"), rules, KINDS, ALL_KINDS) == []


def test_extensible_binding_refuses_a_code_its_code_system_does_not_define() -> None:
    """Another code system may be used, but a code of a system held in full must be one of
    its codes, as the reference validator says ("Unknown code")."""
    rules = _category("extensible")
    assert found(_plan((CS, "chronic")), rules, KINDS, ALL_KINDS) == [
        ("error", "code-invalid", "CarePlan.category[0]")
    ]
    (issue,) = issues(_plan((CS, "chronic"), ("urn:other", "x")), rules, KINDS, ALL_KINDS)
    assert f"Unknown code 'chronic' in the code system {CS}" in issue.diagnostics
    assert found(_plan((CS, "chronic"), (CS, "episodic")), rules, KINDS, ALL_KINDS) == []


@pytest.mark.parametrize("strength", ["preferred", "example"])
def test_preferred_and_example_bindings_check_nothing(strength: str) -> None:
    assert found(_plan((CS, "chronic")), _category(strength), KINDS, ALL_KINDS) == []


def test_required_binding_on_a_code() -> None:
    short = value_set(
        "statuses",
        {
            "include": [
                {
                    "system": "http://hl7.org/fhir/request-status",
                    "concept": [{"code": "active"}, {"code": "completed"}],
                }
            ]
        },
    )
    rules = profile(
        "CarePlan",
        element("CarePlan.status", binding={"strength": "required", "valueSet": short["url"]}),
    )
    assert found(care_plan(status="active"), rules, short) == []
    assert found(care_plan(status="draft"), rules, short) == [
        ("error", "code-invalid", "CarePlan.status")
    ]


def test_required_binding_on_a_coding_and_a_quantity() -> None:
    units = value_set(
        "units", {"include": [{"system": "http://unitsofmeasure.org", "concept": [{"code": "kg"}]}]}
    )
    rules = profile(
        "Observation",
        element(
            "Observation.value[x]",
            type=[{"code": "Quantity"}],
            binding={"strength": "required", "valueSet": units["url"]},
        ),
        element(
            "Observation.code.coding", binding={"strength": "required", "valueSet": units["url"]}
        ),
    )
    kg = {"value": 70, "system": "http://unitsofmeasure.org", "code": "kg"}
    assert found(observation(valueQuantity=kg), rules, units) == []
    assert found(observation(valueQuantity={**kg, "code": "lb"}), rules, units) == [
        ("error", "code-invalid", "Observation.value.ofType(Quantity)")
    ]
    code = {
        "coding": [
            {"system": "http://unitsofmeasure.org", "code": "kg"},
            {"system": "urn:x", "code": "kg"},
        ]
    }
    assert found(observation(code=code), rules, units) == [
        ("error", "code-invalid", "Observation.code.coding[1]")
    ]


def test_a_binding_equal_to_the_base_is_left_to_the_rule_walk() -> None:
    same = profile(
        "CarePlan",
        element(
            "CarePlan.status",
            binding={
                "strength": "required",
                "valueSet": "http://hl7.org/fhir/ValueSet/request-status|4.0.1",
            },
        ),
    )
    assert found(care_plan(status="bogus"), same) == []


def _accepted(
    candidates: list[tuple[str, str]], *resources: dict[str, Any]
) -> set[tuple[str, str]]:
    """The codings of ``candidates`` a required binding to the value set ``kinds`` accepts."""
    rules = _category("required")
    return {coding for coding in candidates if found(_plan(coding), rules, *resources) == []}


def test_expansion_from_listed_concepts_a_whole_code_system_and_exclusions() -> None:
    other = value_set(
        "kinds",
        {
            "include": [
                {"system": CS},
                {"system": "urn:extra", "concept": [{"code": "x"}, {"code": "y"}]},
            ],
            "exclude": [{"system": CS, "concept": [{"code": "episodic"}]}],
        },
    )
    candidates = [
        (CS, "longitudinal"),
        (CS, "episodic"),
        (CS, "x"),
        ("urn:extra", "x"),
        ("urn:extra", "z"),
    ]
    assert _accepted(candidates, KINDS, other) == {(CS, "longitudinal"), ("urn:extra", "x")}


def test_expansion_of_nested_concepts_and_imported_value_sets() -> None:
    nested = code_system("plan-kind", "root")
    nested["concept"][0]["concept"] = [{"code": "child", "concept": [{"code": "grandchild"}]}]
    imported = value_set("imported", {"include": [{"system": CS}]})
    importing = value_set(
        "kinds",
        {
            "include": [{"valueSet": [imported["url"]]}],
            "exclude": [{"system": CS, "concept": [{"code": "root"}]}],
        },
    )
    candidates = [(CS, "root"), (CS, "child"), (CS, "grandchild")]
    assert _accepted(candidates, nested, imported, importing) == {(CS, "child"), (CS, "grandchild")}


def test_an_include_with_system_and_value_set_is_their_intersection() -> None:
    imported = value_set(
        "imported",
        {"include": [{"system": CS, "concept": [{"code": "episodic"}, {"code": "gone"}]}]},
    )
    both = value_set("kinds", {"include": [{"system": CS, "valueSet": [imported["url"]]}]})
    assert _accepted(
        [(CS, "episodic"), (CS, "gone"), (CS, "transitional")], KINDS, imported, both
    ) == {(CS, "episodic")}


def test_a_value_set_with_an_expansion_is_read_from_it() -> None:
    expanded = value_set("kinds", {"include": [{"system": "urn:unknown"}]})
    expanded["expansion"] = {
        "contains": [
            {"system": "urn:s", "code": "a", "contains": [{"system": "urn:s", "code": "b"}]}
        ]
    }
    assert _accepted([("urn:s", "a"), ("urn:s", "b"), ("urn:s", "c")], expanded) == {
        ("urn:s", "a"),
        ("urn:s", "b"),
    }


@pytest.mark.parametrize(
    ("resources", "reason"),
    [
        ((), "value set http://example.org/fhir/ValueSet/kinds is not known here"),
        (
            (value_set("kinds", {"include": [{"system": "urn:unknown"}]}),),
            "code system urn:unknown is not known here",
        ),
        (
            (
                value_set(
                    "kinds",
                    {
                        "include": [
                            {
                                "system": CS,
                                "filter": [{"property": "concept", "op": "is-a", "value": "x"}],
                            }
                        ]
                    },
                ),
            ),
            "uses a filter",
        ),
        (
            (code_system("plan-kind", "a", content="fragment"), ALL_KINDS),
            f"code system {CS} is not known here in full",
        ),
        (
            (value_set("kinds", {"include": [{"valueSet": ["urn:elsewhere"]}]}),),
            "value set urn:elsewhere is not known",
        ),
    ],
)
def test_a_value_set_that_cannot_be_expanded_here_gives_information(
    resources: tuple[dict[str, Any], ...], reason: str
) -> None:
    rules = _category("required")
    assert found(_plan((CS, "chronic")), rules, *resources) == [
        ("information", "informational", "CarePlan.category[0]")
    ]
    (issue,) = issues(_plan((CS, "chronic")), rules, *resources)
    assert reason in issue.diagnostics


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            value_set("kinds", {"include": [{"concept": [{"code": "a"}]}]}),
            "names neither a system nor a value set",
        ),
        (
            value_set("kinds", {"include": [{"valueSet": [f"{BASE}/ValueSet/kinds"]}]}),
            "imports itself",
        ),
        (
            {**code_system("plan-kind"), "concept": [{"display": "no code"}]},
            "a concept has no code",
        ),
        ({"resourceType": "ValueSet", "id": "x"}, "ValueSet/x: has no url"),
    ],
)
def test_a_malformed_value_set_or_code_system_is_a_profile_error(
    resource: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ProfileSet.build([resource])
