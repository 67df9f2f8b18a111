"""Judging a Goal against its targets (``care/progress/goals.py``): comparing an
observation with a quantity, range, integer, coded, boolean or text target, the trend
between two, each assessment ``$progress`` gives, and the ``achievementStatus`` the
follower writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from fhircare.care.progress.goals import (
    ACHIEVEMENT_SYSTEM,
    Reading,
    achievement,
    achievement_concept,
    assess_goal,
    assess_target,
    reading,
    target_due,
    trend,
)
from fhircare.fhir import jsonio

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def quantity(value: Any, unit: str = "%", comparator: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org"}
    found["code"] = unit
    if comparator:
        found["comparator"] = comparator
    return found


def observed(value: Any, unit: str = "%") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o-{value}",
        "valueQuantity": quantity(value, unit),
    }


def goal(*targets: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Goal", "lifecycleStatus": "active", "target": list(targets), **fields}


def recorded(code: str) -> dict[str, Any]:
    return {"achievementStatus": {"coding": [{"system": ACHIEVEMENT_SYSTEM, "code": code}]}}


@pytest.mark.parametrize(
    ("comparator", "value", "met", "gap"),
    [
        ("<", 6.9, True, "0"),
        ("<", 7, False, "0"),
        ("<", 7.4, False, "0.4"),
        ("<=", 7, True, "0"),
        (">", 7, False, "0"),
        (">=", 7, True, "0"),
        (">=", 6.5, False, "0.5"),
        (None, 7, True, "0"),
        (None, 6.5, False, "0.5"),
        (None, 7.5, False, "0.5"),
    ],
)
def test_a_quantity_target_is_a_bound_or_a_value(
    comparator: str | None, value: float, met: bool, gap: str
) -> None:
    target = {"detailQuantity": quantity(7, comparator=comparator)}
    assert reading(target, observed(value)) == Reading(met, Decimal(gap))


@pytest.mark.parametrize(
    ("low", "high", "value", "met", "gap"),
    [
        (90, 130, 120, True, "0"),
        (90, 130, 90, True, "0"),
        (90, 130, 150, False, "20"),
        (90, 130, 80, False, "10"),
        (None, 130, 20, True, "0"),
        (None, 130, 131, False, "1"),
        (90, None, 400, True, "0"),
        (90, None, 85, False, "5"),
    ],
)
def test_a_range_target_is_met_inside_it(
    low: int | None, high: int | None, value: int, met: bool, gap: str
) -> None:
    bounds = {k: quantity(v, "mm[Hg]") for k, v in (("low", low), ("high", high)) if v}
    target = {"detailRange": bounds}
    assert reading(target, observed(value, "mm[Hg]")) == Reading(met, Decimal(gap))


def test_values_read_from_json_keep_their_decimals() -> None:
    target = jsonio.loads(b'{"detailQuantity": {"value": 7.0, "comparator": "<", "code": "%"}}')
    latest = jsonio.loads(b'{"valueQuantity": {"value": 7.10, "code": "%"}}')
    assert reading(target, latest) == Reading(False, Decimal("0.1"))


def test_other_units_cannot_be_compared() -> None:
    target = {"detailQuantity": quantity(95, "kg", "<=")}
    assert reading(target, observed(200, "[lb_av]")) is None
    unit_only = {"detailQuantity": {"value": 95, "unit": "kg", "comparator": "<="}}
    assert reading(unit_only, {"valueQuantity": {"value": 90, "unit": "lb"}}) is None
    assert reading(unit_only, {"valueQuantity": {"value": 90}}) == Reading(True, Decimal(0))


def test_targets_without_a_distance() -> None:
    coded = {"detailCodeableConcept": {"coding": [{"system": "s", "code": "never"}]}}
    assert reading(
        coded, {"valueCodeableConcept": {"coding": [{"system": "s", "code": "never"}]}}
    ) == Reading(True, None)
    assert reading(
        coded, {"valueCodeableConcept": {"coding": [{"system": "s", "code": "daily"}]}}
    ) == Reading(False, None)
    assert reading({"detailBoolean": True}, {"valueBoolean": False}) == Reading(False, None)
    assert reading({"detailString": "independent"}, {"valueString": "independent"}) == Reading(
        True, None
    )
    assert reading({"detailInteger": 0}, {"valueInteger": 2}) == Reading(False, Decimal(2))
    assert reading({"detailBoolean": True}, {"valueString": "yes"}) is None
    assert reading({"detailRatio": {}}, observed(1)) is None
    assert reading({"detailQuantity": quantity(7)}, {"valueString": "7"}) is None


def test_trend_is_the_change_in_gap() -> None:
    near, far = Reading(False, Decimal(1)), Reading(False, Decimal(3))
    assert trend(near, far) == "improving"
    assert trend(far, near) == "worsening"
    assert trend(near, near) == "no-change"
    assert trend(near, None) is None
    assert trend(Reading(True, None), Reading(False, None)) is None


def test_due_from_a_date_or_a_duration() -> None:
    start = {"startDate": "2026-01-31"}
    assert target_due(goal(), {"dueDate": "2026-12-31"}) == "2026-12-31"
    assert target_due(start, {"dueDuration": {"value": 30, "code": "d"}}) == "2026-03-02"
    assert target_due(start, {"dueDuration": {"value": 2, "code": "wk"}}) == "2026-02-14"
    assert target_due(start, {"dueDuration": {"value": 1, "code": "mo"}}) == "2026-02-28"
    assert target_due(start, {"dueDuration": {"value": 1, "code": "a"}}) == "2027-01-31"
    assert target_due(start, {"dueDuration": {"value": 3, "code": "h"}}) is None
    assert target_due({}, {"dueDuration": {"value": 3, "code": "d"}}) is None


HBA1C = {"detailQuantity": quantity(7, comparator="<"), "dueDate": "2026-12-31"}
PAST_DUE = {"detailQuantity": quantity(7, comparator="<"), "dueDate": "2026-05-31"}


@pytest.mark.parametrize(
    ("target", "values", "fields", "expected"),
    [
        (HBA1C, [6.5], {}, "achieved"),
        (PAST_DUE, [6.5, 8], {}, "achieved"),
        (HBA1C, [7.2, 7.6], {}, "in-progress"),
        (HBA1C, [7.2], {}, "in-progress"),
        (HBA1C, [7.6, 7.2], {}, "not-achieving"),
        (HBA1C, [7.2, 7.2], {}, "not-achieving"),
        (PAST_DUE, [7.2, 7.6], {}, "overdue"),
        (PAST_DUE, [7.6, 7.2], {}, "overdue"),
        (HBA1C, [], {}, "in-progress"),
        (HBA1C, [], recorded("sustaining"), "achieved"),
        (HBA1C, [], recorded("not-attainable"), "not-achieving"),
        (PAST_DUE, [], recorded("improving"), "overdue"),
        (PAST_DUE, [], recorded("achieved"), "achieved"),
        (PAST_DUE, [7.6], {"lifecycleStatus": "completed"}, "in-progress"),
    ],
)
def test_assessing_a_target(
    target: dict[str, Any], values: list[float], fields: dict[str, Any], expected: str
) -> None:
    found = assess_target(goal(target, **fields), target, [observed(v) for v in values], NOW)
    assert found.assessment == expected
    assert found.due == target["dueDate"]


def test_the_due_date_passes_only_once_its_day_is_over() -> None:
    target = {"detailQuantity": quantity(7, comparator="<"), "dueDate": "2026-05-31"}
    that_day = datetime(2026, 5, 31, 23, 59, tzinfo=UTC)
    assert assess_target(goal(target), target, [], that_day).assessment == "in-progress"


def _targets(states: list[str]) -> list[Any]:
    target = {"detailQuantity": quantity(7, comparator="<"), "dueDate": "2026-12-31"}
    values: dict[str, list[float]] = {
        "achieved": [6],
        "in-progress": [8],
        "not-achieving": [8, 7.5],
    }
    found = []
    for state in states:
        due = dict(target, dueDate="2026-01-01") if state == "overdue" else target
        found.append(
            assess_target(goal(due), due, [observed(v) for v in values.get(state, [8])], NOW)
        )
    assert [t.assessment for t in found] == states
    return found


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["achieved", "achieved"], "achieved"),
        (["achieved", "in-progress"], "in-progress"),
        (["in-progress", "not-achieving"], "not-achieving"),
        (["not-achieving", "overdue", "achieved"], "overdue"),
    ],
)
def test_a_goal_combines_its_targets(states: list[str], expected: str) -> None:
    assert assess_goal(goal(), _targets(states)) == expected


def test_a_goal_s_own_status_counts() -> None:
    assert (
        assess_goal(goal(lifecycleStatus="cancelled"), _targets(["achieved"])) == "not-applicable"
    )
    assert (
        assess_goal(goal(lifecycleStatus="completed"), _targets(["in-progress"])) == "not-achieving"
    )
    assert assess_goal(goal(lifecycleStatus="completed"), _targets(["achieved"])) == "achieved"
    assert assess_goal(goal(**recorded("achieved")), []) == "achieved"
    assert assess_goal(goal(), []) == "in-progress"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([8], "in-progress"),
        ([7.5, 8], "improving"),
        ([8, 7.5], "worsening"),
        ([8, 8], "no-change"),
        ([6.9, 8], "achieved"),
    ],
)
def test_the_achievement_status_the_data_gives(values: list[float], expected: str | None) -> None:
    target = {"measure": {}, "detailQuantity": quantity(7, comparator="<")}
    found = achievement(goal(target), [(target, [observed(v) for v in values])])
    assert found == expected


def test_achievement_over_several_targets() -> None:
    a = {"detailQuantity": quantity(7, comparator="<")}
    b = {"detailQuantity": quantity(95, "kg", "<=")}
    met_a, met_b = [observed(6)], [observed(90, "kg")]
    assert achievement(goal(a, b), [(a, met_a), (b, met_b)]) == "achieved"
    assert achievement(goal(a, b), [(a, met_a), (b, [])]) == "in-progress"
    worse_b = [observed(99, "kg"), observed(97, "kg")]
    better_a = [observed(7.5), observed(8)]
    assert achievement(goal(a, b), [(a, better_a), (b, worse_b)]) == "worsening"
    assert achievement(goal(a, b), [(a, better_a), (b, met_b)]) == "improving"


def test_sustaining_stays_while_the_target_is_met() -> None:
    target = {"detailQuantity": quantity(7, comparator="<")}
    sustained = goal(target, **recorded("sustaining"))
    assert achievement(sustained, [(target, [observed(6)])]) == "sustaining"
    assert achievement(sustained, [(target, [observed(7.5), observed(6)])]) == "worsening"


def test_an_achievement_concept_names_its_system() -> None:
    assert achievement_concept("no-change") == {
        "coding": [{"system": ACHIEVEMENT_SYSTEM, "code": "no-change", "display": "No Change"}]
    }
