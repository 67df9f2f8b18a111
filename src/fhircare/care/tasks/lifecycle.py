"""The R4 Task state machine on every Task write.

https://hl7.org/fhir/R4/task.html#statemachine. ``check_task`` is a write-rule check
(``interactions/write_rules.py``): it runs before every new Task version, whether made by
create, update, conditional update, patch or a batch/transaction entry, and sees the
previous live content (None on a create). It refuses with 422 ``business-rule``:

- a status change the table in ``care/tasks/states.py`` does not allow; a create may be in
  any status, since systems record tasks already under way or done;
- entering rejected, cancelled or failed without ``statusReason`` (why it ended so);
- a Task from accepted on (accepted, ready, in-progress, on-hold, completed) without
  ``owner``: the owner is a property of those states, so it is required on every write
  in them, not only on entering them.

It also records when work ran, filling only what is absent (a client's own times win):
``executionPeriod.start`` on entering in-progress, ``executionPeriod.end`` on entering
completed or failed, and on entering cancelled once work had started. Rejected and
entered-in-error get no end: no work ran, or the record is void. An end is never put
before a recorded start (a start in the future leaves the end absent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhircare.care.tasks.states import (
    ENDED,
    NEEDS_OWNER,
    NEEDS_REASON,
    NEXT,
    STARTED,
    allowed_after,
    may_follow,
)
from fhircare.fhir import errors
from fhircare.fhir.ids import format_instant, now, parse_instant

BUSINESS_RULE = "business-rule"


def check_task(resource: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Refuse a Task write that breaks the state machine; fill the execution period."""
    status = _status_of(resource)
    before = _previous_status(previous)
    if before is not None and not may_follow(before, status):
        allowed = ", ".join(allowed_after(before))
        raise _refused(
            f"Task status cannot go from {before} to {status}; "
            f"from {before} it may go to: {allowed}",
            "Task.status",
        )
    entering = before != status
    if entering and status in NEEDS_REASON and not resource.get("statusReason"):
        raise _refused(
            f"A Task entering status {status} needs a statusReason saying why",
            "Task.statusReason",
        )
    if status in NEEDS_OWNER and not resource.get("owner"):
        raise _refused(
            f"A Task in status {status} needs an owner (Task.owner): from accepted on "
            "someone answers for it",
            "Task.owner",
        )
    if entering:
        _fill_execution_period(resource, status)


def _status_of(resource: dict[str, Any]) -> str:
    status = resource.get("status")
    if not isinstance(status, str) or status not in NEXT:
        raise errors.invalid(
            f"Task.status must be one of the task-status codes ({', '.join(NEXT)})",
            "Task.status",
            code="code-invalid",
        )
    return status


def _previous_status(previous: dict[str, Any] | None) -> str | None:
    """The status being left; None when there is none to leave (a create, or a stored
    version without a known status, which constrains nothing)."""
    status = None if previous is None else previous.get("status")
    return status if isinstance(status, str) and status in NEXT else None


def _fill_execution_period(resource: dict[str, Any], status: str) -> None:
    period = resource.get("executionPeriod")
    if not isinstance(period, dict):
        period = {}
    moment = now()
    filled = False
    if status in STARTED and "start" not in period:
        period["start"] = format_instant(moment)
        filled = True
    ends = status in ENDED or (status == "cancelled" and "start" in period)
    if ends and "end" not in period and not _starts_after(period.get("start"), moment):
        period["end"] = format_instant(moment)
        filled = True
    if filled:
        resource["executionPeriod"] = period


def _starts_after(start: Any, moment: datetime) -> bool:
    if not isinstance(start, str):
        return False
    try:
        return parse_instant(start, "Task.executionPeriod.start") > moment
    except errors.FhirError:
        return False


def _refused(message: str, expression: str) -> errors.FhirError:
    return errors.processing(message, expression, code=BUSINESS_RULE)
