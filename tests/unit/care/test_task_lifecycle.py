"""The R4 Task state machine as a write check (``care/tasks/lifecycle.py``).

https://hl7.org/fhir/R4/task.html#statemachine: the transitions, the elements some states
need, and the execution period filled on entering a state. The table below is written out
here on its own, so a change to ``care/tasks/states.py`` shows up as a failing test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fhircare.care.tasks.lifecycle import check_task
from fhircare.fhir.errors import Category, FhirError
from fhircare.fhir.ids import parse_instant

STATUSES = (
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
)
ALLOWED = {
    "draft": ("requested", "ready", "cancelled", "entered-in-error"),
    "requested": ("received", "accepted", "rejected", "cancelled", "entered-in-error"),
    "received": ("accepted", "rejected", "cancelled", "entered-in-error"),
    "accepted": ("cancelled", "in-progress", "entered-in-error"),
    "rejected": ("entered-in-error",),
    "ready": ("cancelled", "in-progress", "entered-in-error"),
    "cancelled": ("entered-in-error",),
    "in-progress": ("ready", "cancelled", "on-hold", "failed", "completed", "entered-in-error"),
    "on-hold": ("cancelled", "in-progress", "failed", "entered-in-error"),
    "failed": ("entered-in-error",),
    "completed": ("entered-in-error",),
    "entered-in-error": (),
}
"""Each status's successors, in the value set's order, as the refusals list them."""

ALLOWED_PAIRS = [(a, b) for a, nexts in ALLOWED.items() for b in nexts]
REFUSED_PAIRS = [(a, b) for a in STATUSES for b in STATUSES if a != b and b not in ALLOWED[a]]
OWNER = {"reference": "PractitionerRole/role-community-nurse"}
REASON = {"text": "The patient moved away"}


def task(status: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Task", "status": status, "intent": "order", **fields}


def complete(status: str, **fields: Any) -> dict[str, Any]:
    """A Task with whatever ``status`` needs (owner, statusReason), so only the status is
    judged."""
    return task(status, owner=OWNER, statusReason=REASON, **fields)


def refusal(resource: dict[str, Any], previous: dict[str, Any] | None) -> FhirError:
    with pytest.raises(FhirError) as caught:
        check_task(resource, previous)
    error = caught.value
    assert error.category is Category.PROCESSING
    assert len(error.issues) == 1 and error.issues[0].code == "business-rule"
    return error


@pytest.mark.parametrize(("before", "after"), ALLOWED_PAIRS)
def test_every_allowed_transition_is_accepted(before: str, after: str) -> None:
    resource = complete(after, executionPeriod={"start": "2026-11-01T09:00:00Z"})
    check_task(resource, complete(before))
    assert resource["status"] == after


@pytest.mark.parametrize(("before", "after"), REFUSED_PAIRS)
def test_every_other_transition_is_refused_naming_the_allowed_ones(before: str, after: str) -> None:
    resource = complete(after)
    error = refusal(resource, complete(before))
    issue = error.issues[0]
    assert issue.expression == ("Task.status",)
    assert issue.diagnostics == (
        f"Task status cannot go from {before} to {after}; "
        f"from {before} it may go to: {', '.join(ALLOWED[before])}"
    )
    assert "executionPeriod" not in resource


def test_a_final_state_only_goes_to_entered_in_error() -> None:
    error = refusal(complete("requested"), complete("completed"))
    assert error.issues[0].diagnostics == (
        "Task status cannot go from completed to requested; "
        "from completed it may go to: entered-in-error"
    )
    for final in ("completed", "cancelled", "failed", "rejected"):
        for later in STATUSES:
            if later not in (final, "entered-in-error"):
                refusal(complete(later), complete(final))
        check_task(complete("entered-in-error"), complete(final))


@pytest.mark.parametrize("status", STATUSES)
def test_an_unchanged_status_is_fine_when_other_elements_change(status: str) -> None:
    resource = complete(status, description="Edited")
    check_task(resource, complete(status, description="Before"))
    assert resource["description"] == "Edited"


@pytest.mark.parametrize("status", STATUSES)
def test_a_task_may_be_created_in_any_status(status: str) -> None:
    check_task(complete(status), None)


def test_a_previous_version_without_a_known_status_constrains_nothing() -> None:
    check_task(complete("requested"), {"resourceType": "Task"})
    check_task(complete("requested"), task("bogus"))


def test_an_unknown_status_is_invalid_input() -> None:
    with pytest.raises(FhirError) as caught:
        check_task(task("finished"), complete("in-progress"))
    assert caught.value.category is Category.INVALID
    assert caught.value.issues[0].expression == ("Task.status",)


@pytest.mark.parametrize("status", ["rejected", "cancelled", "failed"])
def test_entering_an_unhappy_end_needs_a_status_reason(status: str) -> None:
    before = "in-progress" if status == "failed" else "requested"
    for previous in (complete(before), None):
        error = refusal(task(status, owner=OWNER), previous)
        assert error.issues[0].expression == ("Task.statusReason",)
        assert status in error.issues[0].diagnostics
    check_task(task(status, owner=OWNER, statusReason=REASON), complete(before))


def test_a_status_reason_is_asked_for_on_entering_not_on_later_edits() -> None:
    check_task(task("cancelled", note=[{"text": "late note"}]), task("cancelled"))
    check_task(task("completed", owner=OWNER), complete("in-progress"))


@pytest.mark.parametrize("status", ["accepted", "ready", "in-progress", "on-hold", "completed"])
def test_from_accepted_on_a_task_needs_an_owner(status: str) -> None:
    previous = {
        "accepted": "requested",
        "ready": "draft",
        "in-progress": "ready",
        "on-hold": "in-progress",
        "completed": "in-progress",
    }[status]
    for earlier in (complete(previous), None, complete(status)):
        error = refusal(task(status, statusReason=REASON), earlier)
        assert error.issues[0].expression == ("Task.owner",)
        assert status in error.issues[0].diagnostics
    check_task(task(status, owner=OWNER), complete(previous))


@pytest.mark.parametrize(
    "status", ["draft", "requested", "received", "rejected", "cancelled", "failed"]
)
def test_before_acceptance_or_after_an_unhappy_end_no_owner_is_needed(status: str) -> None:
    check_task(task(status, statusReason=REASON), None)


def recent(value: str) -> bool:
    """A FHIR instant with a zone, within a minute of now."""
    assert value.endswith("Z")
    moment = parse_instant(value, "test")
    return abs(datetime.now(UTC) - moment) < timedelta(minutes=1)


@pytest.mark.parametrize("before", ["accepted", "ready", "on-hold", None])
def test_entering_in_progress_fills_the_start(before: str | None) -> None:
    resource = task("in-progress", owner=OWNER)
    check_task(resource, None if before is None else complete(before))
    assert set(resource["executionPeriod"]) == {"start"}
    assert recent(resource["executionPeriod"]["start"])


def test_a_given_start_or_end_is_kept() -> None:
    given = {"start": "2026-10-22T09:00:00-05:00"}
    resource = task("in-progress", owner=OWNER, executionPeriod=dict(given))
    check_task(resource, complete("ready"))
    assert resource["executionPeriod"] == given

    period = {"start": "2026-11-10T14:30:00-06:00", "end": "2026-11-10T15:40:00-06:00"}
    resource = task("completed", owner=OWNER, executionPeriod=dict(period))
    check_task(resource, complete("in-progress"))
    assert resource["executionPeriod"] == period


def test_staying_in_progress_does_not_fill_the_start() -> None:
    resource = task("in-progress", owner=OWNER, description="edited")
    check_task(resource, task("in-progress", owner=OWNER))
    assert "executionPeriod" not in resource


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_entering_completed_or_failed_fills_the_end_and_keeps_the_start(status: str) -> None:
    start = "2026-11-10T14:30:00-06:00"
    resource = complete(status, executionPeriod={"start": start})
    check_task(resource, complete("in-progress"))
    assert resource["executionPeriod"]["start"] == start
    assert recent(resource["executionPeriod"]["end"])

    created = complete(status)
    check_task(created, None)
    assert set(created["executionPeriod"]) == {"end"}


def test_cancelling_fills_the_end_only_once_work_had_started() -> None:
    started = complete("cancelled", executionPeriod={"start": "2026-11-10T14:30:00Z"})
    check_task(started, complete("on-hold"))
    assert recent(started["executionPeriod"]["end"])

    never_started = complete("cancelled")
    check_task(never_started, complete("requested"))
    assert "executionPeriod" not in never_started


@pytest.mark.parametrize("status", ["rejected", "entered-in-error"])
def test_rejected_and_entered_in_error_get_no_end(status: str) -> None:
    resource = complete(status, executionPeriod={"start": "2026-11-10T14:30:00Z"})
    check_task(resource, complete("requested" if status == "rejected" else "in-progress"))
    assert "end" not in resource["executionPeriod"]


def test_no_end_is_put_before_a_start_in_the_future() -> None:
    future = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resource = complete("completed", executionPeriod={"start": future})
    check_task(resource, complete("in-progress"))
    assert resource["executionPeriod"] == {"start": future}


def test_a_refused_write_is_left_as_it_came() -> None:
    resource = task("in-progress")
    refusal(resource, complete("ready"))
    assert resource == task("in-progress")
