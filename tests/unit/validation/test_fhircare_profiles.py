"""fhircare's own profiles (``profiles/StructureDefinition-fhircare-*.json``) against the
examples: every example claiming one meets it, and each constraint a profile adds rejects
an example changed to break it, the error naming where.

https://hl7.org/fhir/R4/profiling.html. The same changes, and more, are judged by HAPI FHIR
beside fhircare in ``tests/integration/validation/``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fhircare.fhir.errors import Issue
from fhircare.validation import engines
from fhircare.validation.issues import IssueCollector
from fhircare.validation.profiles import ProfileSet, check_profile

ROOT = Path(__file__).resolve().parents[3]
SD = "http://fhircare.dev/fhir/StructureDefinition/"
CATEGORY = "http://fhircare.dev/fhir/CodeSystem/care-plan-category"
ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
PROFILED_TYPES = {"CarePlan", "CareTeam", "Communication", "Goal", "Task"}

Resource = dict[str, Any]


@pytest.fixture(autouse=True)
def engine() -> str:
    """``check_profile`` runs no structural engine: once is enough (see ``conftest.py``)."""
    return engines.DEFAULT_ENGINE


@cache
def profiles() -> ProfileSet:
    return ProfileSet.build(
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "profiles").glob("*.json"))
    )


@cache
def examples() -> tuple[Resource, ...]:
    return tuple(
        entry["resource"]
        for path in sorted((ROOT / "examples").glob("*.json"))
        for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]
    )


def claiming() -> list[Resource]:
    return [r for r in examples() if r.get("meta", {}).get("profile")]


def issues_of(resource: Resource, url: str) -> list[Issue]:
    profile = profiles().profile(url)
    assert profile is not None, url
    collected = IssueCollector()
    check_profile(resource, profile, profiles(), collected)
    return collected.issues


def errors_of(resource: Resource, url: str) -> list[Issue]:
    return [i for i in issues_of(resource, url) if i.severity in ("error", "fatal")]


def test_the_profiled_examples_are_the_care_workflow_types() -> None:
    assert {r["resourceType"] for r in claiming()} == PROFILED_TYPES
    assert all(r["meta"]["profile"][0].startswith(SD) for r in claiming())
    assert sorted(profiles().urls()) == sorted(f"{SD}fhircare-{t.lower()}" for t in PROFILED_TYPES)


@pytest.mark.parametrize("resource", claiming(), ids=lambda r: r["id"])
def test_every_example_meets_the_profile_it_claims(resource: Resource) -> None:
    [url] = resource["meta"]["profile"]
    assert errors_of(resource, url) == []


# --- one change per constraint a profile adds ------------------------------------------


def first(resource_type: str) -> Resource:
    return copy.deepcopy(next(r for r in claiming() if r["resourceType"] == resource_type))


def drop(name: str) -> Callable[[Resource], None]:
    return lambda r: r.pop(name)


def put(name: str, value: Any) -> Callable[[Resource], None]:
    return lambda r: r.__setitem__(name, value)


def category_code(code: str) -> Callable[[Resource], None]:
    def change(plan: Resource) -> None:
        for category in plan["category"]:
            for coding in category["coding"]:
                if coding["system"] == CATEGORY:
                    coding["code"] = code

    return change


def without_category(plan: Resource) -> None:
    plan["category"] = [c for c in plan["category"] if c["coding"][0]["system"] != CATEGORY]


def target_quantity_system(goal: Resource) -> None:
    goal["target"][0]["detailQuantity"]["system"] = "http://example.org/units"


def target_without_due_or_measure(goal: Resource) -> None:
    absent = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
    goal["target"] = [{"extension": [{"url": absent, "valueCode": "unknown"}]}]


def accepted_without_owner(task: Resource) -> None:
    task.update(status="accepted")
    task.pop("owner")


def member_dropped(team: Resource) -> None:
    del team["participant"][0]["member"]


def opening_nothing(message: Resource) -> None:
    for name in ("inResponseTo", "about", "basedOn"):
        message.pop(name, None)


GROUP = {"reference": "Group/g1"}

REJECTED: list[tuple[str, str, Callable[[Resource], None], str]] = [
    # (type, constraint, change, the expression the error names)
    ("CarePlan", "subject Reference(Patient)", put("subject", GROUP), "CarePlan.subject"),
    ("CarePlan", "careTeam 1..*", drop("careTeam"), "CarePlan"),
    ("CarePlan", "careCoordination slice 1..1", without_category, "CarePlan"),
    (
        "CarePlan",
        "careCoordination slice at most once",
        lambda p: p["category"].append({"coding": [{"system": CATEGORY, "code": "episodic"}]}),
        "CarePlan",
    ),
    ("CarePlan", "care-plan-category required", category_code("chronic"), "CarePlan.category"),
    (
        "CarePlan",
        "fhircare-cpl-1",
        lambda p: p["activity"].append({"outcomeCodeableConcept": [{"text": "Done"}]}),
        "CarePlan.activity",
    ),
    ("Goal", "subject Reference(Patient)", put("subject", GROUP), "Goal.subject"),
    ("Goal", "target 1..*", drop("target"), "Goal"),
    ("Goal", "fhircare-gol-1", target_without_due_or_measure, "Goal.target"),
    ("Goal", "detailQuantity pattern UCUM", target_quantity_system, "Goal.target"),
    (
        "Goal",
        "achievementStatus.coding closed",
        put("achievementStatus", {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}),
        "Goal.achievementStatus",
    ),
    (
        "Goal",
        "goalAchievement slice at most once",
        put(
            "achievementStatus",
            {"coding": [{"system": ACHIEVEMENT, "code": c} for c in ("improving", "achieved")]},
        ),
        "Goal.achievementStatus",
    ),
    ("Task", "focus 1..1", drop("focus"), "Task"),
    ("Task", "for 1..1", drop("for"), "Task"),
    ("Task", "for Reference(Patient)", put("for", GROUP), "Task.for"),
    ("Task", "fhircare-tsk-1", accepted_without_owner, "Task"),
    ("CareTeam", "subject 1..1", drop("subject"), "CareTeam"),
    ("CareTeam", "subject Reference(Patient)", put("subject", GROUP), "CareTeam.subject"),
    ("CareTeam", "participant 1..*", drop("participant"), "CareTeam"),
    ("CareTeam", "participant.member 1..1", member_dropped, "CareTeam.participant"),
    ("Communication", "subject 1..1", drop("subject"), "Communication"),
    ("Communication", "subject Reference(Patient)", put("subject", GROUP), "Communication.subject"),
    ("Communication", "recipient 1..*", drop("recipient"), "Communication"),
    ("Communication", "fhircare-com-1", opening_nothing, "Communication"),
]


@pytest.mark.parametrize(
    ("resource_type", "constraint", "change", "where"),
    REJECTED,
    ids=[f"{t} {c}" for t, c, _, _ in REJECTED],
)
def test_each_constraint_rejects_an_example_that_breaks_it(
    resource_type: str, constraint: str, change: Callable[[Resource], None], where: str
) -> None:
    resource = first(resource_type)
    url = resource["meta"]["profile"][0]
    assert errors_of(resource, url) == []
    change(resource)
    errors = errors_of(resource, url)
    assert errors, constraint
    assert any(e.expression and e.expression[0].startswith(where) for e in errors), errors


@pytest.mark.parametrize(
    ("resource_type", "change", "where"),
    [
        (
            "Task",
            put(
                "extension",
                [
                    {
                        "url": "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal",
                        "valueString": "Walk further",
                    }
                ],
            ),
            "Task.extension[0].value.ofType(string)",
        ),
        (
            "Communication",
            put(
                "category",
                [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/communication-category",
                                "code": "gossip",
                            }
                        ]
                    }
                ],
            ),
            "Communication.category[0]",
        ),
    ],
    ids=["Task pertainsToGoal slice", "Communication category extensible"],
)
def test_a_constraint_on_a_core_definition_is_checked(
    resource_type: str, change: Callable[[Resource], None], where: str
) -> None:
    """The Task profile's pertainsToGoal slice and the Communication profile's extensible
    binding name core R4 definitions (an extension, a value set) that ``profiles/`` does not
    ship: fhircare holds them itself (``validation/profiles/core.py``) and rejects both, as
    HAPI does (``tests/integration/validation``)."""
    resource = first(resource_type)
    change(resource)
    issues = issues_of(resource, resource["meta"]["profile"][0])
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    assert [e.expression for e in errors] == [(where,)], issues
    assert not any(i.severity == "information" for i in issues), issues
