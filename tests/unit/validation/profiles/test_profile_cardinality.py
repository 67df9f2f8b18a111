"""Cardinality a profile narrows, at every level: https://hl7.org/fhir/R4/profiling.html#cardinality"""

from __future__ import annotations

from tests.unit.validation.profiles.builders import care_plan, element, found, issues, profile


def test_a_raised_minimum_is_required() -> None:
    rules = profile("CarePlan", element("CarePlan.careTeam", min=1))
    assert found(care_plan(careTeam=[{"reference": "CareTeam/1"}]), rules) == []
    assert found(care_plan(), rules) == [("error", "required", "CarePlan.careTeam")]
    (issue,) = issues(care_plan(), rules)
    assert issue.diagnostics == "CarePlan.careTeam: minimum required = 1, but only found 0"


def test_a_lowered_maximum_is_enforced() -> None:
    rules = profile("CarePlan", element("CarePlan.goal", max="2"))
    goals = [{"reference": f"Goal/{n}"} for n in range(3)]
    assert found(care_plan(goal=goals[:2]), rules) == []
    assert found(care_plan(goal=goals), rules) == [("error", "structure", "CarePlan.goal")]
    (issue,) = issues(care_plan(goal=goals), rules)
    assert issue.diagnostics == "CarePlan.goal: max allowed = 2, but found 3"


def test_a_maximum_of_zero_forbids_the_element() -> None:
    rules = profile("CarePlan", element("CarePlan.description", max="0"))
    assert found(care_plan(), rules) == []
    assert found(care_plan(description="no"), rules) == [
        ("error", "structure", "CarePlan.description")
    ]


def test_a_primitive_present_only_as_an_extension_counts() -> None:
    rules = profile("CarePlan", element("CarePlan.title", min=1))
    absent_reason = {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                "valueCode": "unknown",
            }
        ]
    }
    assert found(care_plan(_title=absent_reason), rules) == []


def test_cardinality_in_nested_backbones_is_checked_per_occurrence() -> None:
    rules = profile(
        "CarePlan",
        element("CarePlan.activity", min=1),
        element("CarePlan.activity.detail", min=1),
        element("CarePlan.activity.detail.code", min=1),
        element("CarePlan.activity.detail.productReference", max="0"),
    )
    code = {"text": "walk"}
    plan = care_plan(
        activity=[
            {"detail": {"status": "scheduled", "code": code}},
            {"reference": {"reference": "Task/1"}},
            {"detail": {"status": "scheduled", "productReference": {"reference": "Medication/1"}}},
        ]
    )
    assert [e for _, _, e in found(plan, rules)] == [
        "CarePlan.activity[1].detail",
        "CarePlan.activity[2].detail.code",
        "CarePlan.activity[2].detail.product.ofType(Reference)",
    ]
    assert found(care_plan(), rules) == [("error", "required", "CarePlan.activity")]


def test_children_of_an_absent_element_are_not_required() -> None:
    rules = profile("CarePlan", element("CarePlan.period.start", min=1))
    assert found(care_plan(), rules) == []
    assert found(care_plan(period={"end": "2024-01-01"}), rules) == [
        ("error", "required", "CarePlan.period.start")
    ]


def test_cardinality_inside_a_slice() -> None:
    rules = profile(
        "CarePlan",
        element(
            "CarePlan.identifier",
            slicing={"discriminator": [{"type": "value", "path": "system"}], "rules": "open"},
        ),
        element("CarePlan.identifier:local", slice_name="local", max="1"),
        element("CarePlan.identifier:local.system", fixedUri="urn:local"),
        element("CarePlan.identifier:local.value", min=1),
        element("CarePlan.identifier:local.period", max="0"),
    )
    plan = care_plan(
        identifier=[
            {"system": "urn:local", "period": {"start": "2024"}},
            {"system": "urn:other", "period": {"start": "2024"}},
        ]
    )
    assert [e for _, _, e in found(plan, rules)] == [
        "CarePlan.identifier[0].value",
        "CarePlan.identifier[0].period",
    ]
    two = care_plan(
        identifier=[{"system": "urn:local", "value": "1"}, {"system": "urn:local", "value": "2"}]
    )
    assert found(two, rules) == [("error", "structure", "CarePlan.identifier")]
    (issue,) = issues(two, rules)
    assert (
        issue.diagnostics
        == "CarePlan.identifier: CarePlan.identifier:local: max allowed = 1, but found 2"
    )


def test_the_base_minimum_is_left_to_the_structural_engine() -> None:
    rules = profile("CarePlan", element("CarePlan.status", min=1, max="1"))
    plan = care_plan()
    del plan["status"]
    assert found(plan, rules) == []
