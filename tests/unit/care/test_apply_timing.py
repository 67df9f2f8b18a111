"""The timing of an applied protocol's actions: relative timings made absolute.

https://hl7.org/fhir/R4/plandefinition-definitions.html#PlanDefinition.action.timing_x_ and
#PlanDefinition.action.relatedAction; Durations in UCUM time units
(https://hl7.org/fhir/R4/datatypes.html#Duration).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fhircare.care.apply.timing import Window, add, add_months, plan_windows, window_of
from fhircare.fhir.errors import Category, FhirError

NOW = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
UCUM = "http://unitsofmeasure.org"


def duration(value: Any, code: str | None = None, unit: str | None = None) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value}
    if unit is not None:
        quantity["unit"] = unit
    if code is not None:
        quantity.update(system=UCUM, code=code)
    return quantity


def refused(error: pytest.ExceptionInfo[FhirError], expression: str) -> str:
    assert error.value.category is Category.PROCESSING
    assert error.value.issues[0].expression == (expression,)
    return error.value.issues[0].diagnostics


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (duration(90, "s"), NOW + timedelta(seconds=90)),
        (duration(45, "min"), NOW + timedelta(minutes=45)),
        (duration(72, "h"), NOW + timedelta(hours=72)),
        (duration(1.5, "d"), NOW + timedelta(hours=36)),
        (duration(2, "wk"), NOW + timedelta(days=14)),
        (duration(1, "mo"), datetime(2026, 2, 28, 9, 30, tzinfo=UTC)),  # clamped to the month
        (duration(13, "mo"), datetime(2027, 2, 28, 9, 30, tzinfo=UTC)),
        (duration(2, "a"), datetime(2028, 1, 31, 9, 30, tzinfo=UTC)),
        (duration(0, "d"), NOW),
        (duration(3, unit="days"), NOW + timedelta(days=3)),  # no code: the unit word
        (duration(3, unit="wk"), NOW + timedelta(weeks=3)),
    ],
)
def test_a_duration_is_added_in_its_unit(quantity: dict[str, Any], expected: datetime) -> None:
    assert add(NOW, quantity, "due") == expected


@pytest.mark.parametrize(
    "quantity",
    [
        duration(3, "mg"),
        duration(3, unit="fortnights"),
        duration(-1, "d"),
        duration("soon", "d"),
        duration(1.5, "mo"),
        {"unit": "d"},
        "3 days",
    ],
)
def test_a_duration_that_is_no_time_span_is_422(quantity: Any) -> None:
    with pytest.raises(FhirError) as error:
        add(NOW, quantity, "PlanDefinition.action[0].timingDuration")
    refused(error, "PlanDefinition.action[0].timingDuration")


def test_months_keep_the_day_or_take_the_last_of_a_shorter_month() -> None:
    assert add_months(datetime(2026, 3, 15, tzinfo=UTC), 1) == datetime(2026, 4, 15, tzinfo=UTC)
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 30, tzinfo=UTC), 3) == datetime(2027, 2, 28, tzinfo=UTC)


def test_duration_range_and_timing_windows() -> None:
    within = window_of("A", "timingDuration", duration(72, "h"), NOW)
    assert within == Window(NOW, NOW + timedelta(hours=72))
    between = window_of(
        "A", "timingRange", {"low": duration(2, "d"), "high": duration(3, "d")}, NOW
    )
    assert between == Window(NOW + timedelta(days=2), NOW + timedelta(days=3))
    open_ended = window_of("A", "timingRange", {"low": duration(1, "wk")}, NOW)
    assert open_ended == Window(NOW + timedelta(weeks=1), None)
    repeat = {
        "boundsDuration": duration(30, "d"),
        "count": 30,
        "frequency": 1,
        "period": 1,
        "periodUnit": "d",
    }
    daily = window_of("A", "timingTiming", {"repeat": repeat, "code": {"text": "daily"}}, NOW)
    assert (daily.start, daily.end, daily.count) == (NOW, NOW + timedelta(days=30), 30)
    assert daily.timing == {
        "code": {"text": "daily"},
        "repeat": {
            "boundsPeriod": {
                "start": "2026-01-31T09:30:00.000Z",
                "end": "2026-03-02T09:30:00.000Z",
            },
            "count": 30,
            "frequency": 1,
            "period": 1,
            "periodUnit": "d",
        },
    }
    unbounded = window_of("A", "timingTiming", {"repeat": {"frequency": 2, "period": 1}}, NOW)
    assert unbounded.end is None and unbounded.timing is not None
    assert unbounded.timing["repeat"]["boundsPeriod"] == {"start": "2026-01-31T09:30:00.000Z"}


@pytest.mark.parametrize(
    ("name", "value", "expression"),
    [
        ("timingDateTime", "2026-02-01", "A.timingDateTime"),
        ("timingPeriod", {"start": "2026-02-01"}, "A.timingPeriod"),
        ("timingAge", {"value": 65, "code": "a"}, "A.timingAge"),
        ("timingTiming", {"event": ["2026-02-01"]}, "A.timingTiming.event"),
        (
            "timingTiming",
            {"repeat": {"boundsPeriod": {"start": "2026-02-01"}}},
            "A.timingTiming.repeat.boundsPeriod",
        ),
        ("timingRange", {"low": duration(3, "d"), "high": duration(1, "d")}, "A.timingRange"),
    ],
)
def test_absolute_or_backwards_timings_are_422(name: str, value: Any, expression: str) -> None:
    with pytest.raises(FhirError) as error:
        window_of("A", name, value, NOW)
    refused(error, expression)


def test_a_window_as_a_period_leaves_out_a_start_that_is_now() -> None:
    assert Window(NOW, NOW + timedelta(days=1)).period(NOW) == {"end": "2026-02-01T09:30:00.000Z"}
    later = Window(NOW + timedelta(days=1))
    assert later.period(NOW) == {"start": "2026-02-01T09:30:00.000Z"}
    assert Window(NOW).period(NOW) == {}


def action(id: str, *related: dict[str, Any]) -> dict[str, Any]:
    return {"id": id, "relatedAction": list(related)} if related else {"id": id}


def after(target: str, relationship: str = "after-end", **more: Any) -> dict[str, Any]:
    return {"actionId": target, "relationship": relationship, **more}


def test_a_related_action_counts_from_the_other_window() -> None:
    actions = [
        action("education", after("visit", offsetDuration=duration(1, "d"))),
        action("visit"),
        action("call", after("visit", "after-start")),
        action("recheck", after("education")),
    ]
    week = ("A", "timingDuration", duration(7, "d"))
    fortnight = ("A", "timingDuration", duration(14, "d"))
    windows = plan_windows(actions, [fortnight, week, week, fortnight], NOW)
    visit_end = NOW + timedelta(days=7)
    education_start = visit_end + timedelta(days=1)
    assert windows[1] == Window(NOW, visit_end)
    assert windows[0] == Window(education_start, education_start + timedelta(days=14))
    assert windows[2] == Window(NOW, NOW + timedelta(days=7))  # after the visit's start: now
    recheck_start = education_start + timedelta(days=14)
    assert windows[3] == Window(recheck_start, recheck_start + timedelta(days=14))
    untimed = plan_windows([action("a"), action("b", after("a", "after-start"))], [None, None], NOW)
    assert untimed == [Window(NOW), Window(NOW)]


@pytest.mark.parametrize(
    ("actions", "expression"),
    [
        (
            [action("a", after("b")), action("b", after("a"))],
            "PlanDefinition.action[0].relatedAction",
        ),
        ([action("a", after("a"))], "PlanDefinition.action[0].relatedAction"),
        ([action("a", after("nowhere"))], "PlanDefinition.action[0].relatedAction[0].actionId"),
        (
            [action("a", after("b", "before-start")), action("b")],
            "PlanDefinition.action[0].relatedAction[0].relationship",
        ),
        (
            [action("a", after("b", offsetRange={"low": duration(1, "d")})), action("b")],
            "PlanDefinition.action[0].relatedAction[0].offsetRange",
        ),
        (
            [action("a", after("b"), after("c")), action("b"), action("c")],
            "PlanDefinition.action[0].relatedAction",
        ),
        # after the end of an action that has none
        (
            [action("a", after("b")), action("b")],
            "PlanDefinition.action[0].relatedAction[0].relationship",
        ),
    ],
)
def test_relations_fhircare_cannot_place_are_422(
    actions: list[dict[str, Any]], expression: str
) -> None:
    with pytest.raises(FhirError) as error:
        plan_windows(actions, [None] * len(actions), NOW)
    refused(error, expression)
