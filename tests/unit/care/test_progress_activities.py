"""A CarePlan activity's status, due moment and ties to Tasks (``care/progress/status.py``,
``care/progress/links.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fhircare.care.progress.links import key_of, linked_activity, plans_of_task
from fhircare.care.progress.status import (
    ACTIVITY_STATUSES,
    APPOINTMENT_STATUS,
    REQUEST_STATUS,
    TASK_STATUS,
    activity_status,
    detail_due,
    passed,
    resource_due,
)

TASK_CODES = [
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
]
REQUEST_CODES = [
    "draft",
    "active",
    "on-hold",
    "revoked",
    "completed",
    "entered-in-error",
    "unknown",
]
APPOINTMENT_CODES = [
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
]


@pytest.mark.parametrize(
    ("table", "codes"),
    [(TASK_STATUS, TASK_CODES), (APPOINTMENT_STATUS, APPOINTMENT_CODES)],
)
def test_every_code_maps_to_an_activity_status(table: dict[str, str], codes: list[str]) -> None:
    assert sorted(table) == sorted(codes)
    assert set(table.values()) <= set(ACTIVITY_STATUSES)


def test_every_request_code_maps() -> None:
    assert set(REQUEST_CODES) - set(REQUEST_STATUS) == {"unknown"}
    assert activity_status("ServiceRequest", "unknown") == "unknown"
    assert set(REQUEST_STATUS.values()) <= set(ACTIVITY_STATUSES)


@pytest.mark.parametrize(
    ("resource_type", "status", "expected"),
    [
        ("Task", "accepted", "scheduled"),
        ("Task", "rejected", "cancelled"),
        ("Task", "failed", "stopped"),
        ("Task", "completed", "completed"),
        ("ServiceRequest", "active", "in-progress"),
        ("ServiceRequest", "revoked", "stopped"),
        ("MedicationRequest", "stopped", "stopped"),
        ("CommunicationRequest", "draft", "not-started"),
        ("Appointment", "booked", "scheduled"),
        ("Appointment", "noshow", "stopped"),
        ("Appointment", "fulfilled", "completed"),
        ("Task", "made-up", "unknown"),
        ("Task", None, "unknown"),
    ],
)
def test_status_maps(resource_type: str, status: Any, expected: str) -> None:
    assert activity_status(resource_type, status) == expected


def test_due_of_a_detail() -> None:
    assert (
        detail_due({"scheduledPeriod": {"start": "2026-01-01", "end": "2026-01-10"}})
        == "2026-01-10"
    )
    assert detail_due({"scheduledPeriod": {"start": "2026-01-01"}}) is None
    bounded = {
        "repeat": {
            "frequency": 1,
            "period": 1,
            "periodUnit": "d",
            "boundsPeriod": {"end": "2026-02-01"},
        }
    }
    assert detail_due({"scheduledTiming": bounded}) == "2026-02-01"
    events = {"event": ["2026-03-01T10:00:00Z", "2026-04-01", "2026-02-01"]}
    assert detail_due({"scheduledTiming": events}) == "2026-04-01"
    assert (
        detail_due(
            {"scheduledTiming": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}
        )
        is None
    )
    assert detail_due({"scheduledString": "every morning"}) is None


def test_due_of_a_resource() -> None:
    task = {"resourceType": "Task", "restriction": {"period": {"end": "2026-01-20T17:00:00Z"}}}
    assert resource_due(task) == "2026-01-20T17:00:00Z"
    assert resource_due({"resourceType": "Task"}) is None
    appointment = {"resourceType": "Appointment", "start": "2026-03-02T09:00:00Z"}
    assert resource_due(appointment) == "2026-03-02T09:00:00Z"
    assert resource_due(dict(appointment, end="2026-03-02T09:30:00Z")) == "2026-03-02T09:30:00Z"
    request = {"resourceType": "ServiceRequest", "occurrencePeriod": {"end": "2026-01-31"}}
    assert resource_due(request) == "2026-01-31"
    assert (
        resource_due({"resourceType": "ServiceRequest", "occurrenceDateTime": "2026-05"})
        == "2026-05"
    )


def test_a_due_moment_passes_when_it_is_over() -> None:
    assert not passed("2026-01-31", datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC))
    assert passed("2026-01-31", datetime(2026, 2, 1, tzinfo=UTC))
    assert passed("2026-01-31T17:00:00-06:00", datetime(2026, 1, 31, 23, 0, 1, tzinfo=UTC))
    assert not passed("2026-01-31T17:00:00-06:00", datetime(2026, 1, 31, 22, 59, tzinfo=UTC))
    assert not passed("not a date", datetime(2030, 1, 1, tzinfo=UTC))
    assert not passed(None, datetime(2030, 1, 1, tzinfo=UTC))


def test_local_keys_only() -> None:
    assert key_of({"reference": "Task/t-1"}) == "Task/t-1"
    assert key_of({"reference": "http://test/fhir/Task/t-1"}, "http://test/fhir") == "Task/t-1"
    assert key_of({"reference": "http://elsewhere/fhir/Task/t-1"}, "http://test/fhir") is None
    assert key_of({"reference": "#contained"}) is None
    assert key_of({"display": "no reference"}) is None
    assert key_of({"reference": "has space/x"}) is None
    assert key_of({"reference": "Unheard/x"}) is None
    assert key_of({"reference": "Task/t-1/_history/2"}) == "Task/t-1"


CALL = "http://example.org/ActivityDefinition/call"


def plan(*activities: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "CarePlan", "id": "cp-1", "activity": list(activities)}


def task(id: str = "t-1", **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Task", "id": id, "status": "requested", **fields}


def detail(*canonicals: str, outcomes: tuple[str, ...] = ()) -> dict[str, Any]:
    activity: dict[str, Any] = {"detail": {"status": "not-started"}}
    if canonicals:
        activity["detail"]["instantiatesCanonical"] = list(canonicals)
    if outcomes:
        activity["outcomeReference"] = [{"reference": key} for key in outcomes]
    return activity


def test_the_plans_a_task_names() -> None:
    named = task(
        basedOn=[{"reference": "CarePlan/a"}, {"reference": "ServiceRequest/s"}],
        focus={"reference": "CarePlan/b"},
    )
    assert plans_of_task(named) == ["a", "b"]
    assert plans_of_task(
        task(basedOn=[{"reference": "CarePlan/a"}], focus={"reference": "CarePlan/a"})
    ) == ["a"]
    assert plans_of_task(task()) == []


def test_a_task_tied_by_outcome_reference() -> None:
    tied = plan(detail(), detail(outcomes=("Task/t-1",)))
    assert linked_activity(tied, task()) == (1, False)
    assert linked_activity(plan({"reference": {"reference": "Task/t-1"}}), task()) is None


def test_a_task_tied_by_its_definition() -> None:
    for_plan: dict[str, Any] = {"basedOn": [{"reference": "CarePlan/cp-1"}]}
    made = task(instantiatesCanonical=f"{CALL}|1.0.0", **for_plan)
    assert linked_activity(plan(detail("http://other"), detail(CALL)), made) == (1, True)
    assert linked_activity(plan(detail(CALL)), dict(made, basedOn=[])) is None
    taken = plan(detail(CALL, outcomes=("Task/t-0",)), detail(CALL))
    assert linked_activity(taken, made) == (1, True)
    assert linked_activity(plan(detail(CALL, outcomes=("Task/t-0",))), made) is None
    assert linked_activity(plan(detail(CALL)), task(**for_plan)) is None
