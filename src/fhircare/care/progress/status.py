"""A CarePlan activity's status and due date, from its own ``detail`` or from the resource
it names.

Statuses are those of https://hl7.org/fhir/R4/valueset-care-plan-activity-status.html.
An ``activity.detail`` carries one itself; an ``activity.reference`` does not (invariant
cpl-3), so the named resource's status is mapped to one. R4 gives no map; these follow
each code's definition:

- not-started: Task draft, requested, received; ServiceRequest draft; Appointment
  proposed, pending, waitlist.
- scheduled: Task accepted, ready (a performer took it on and has not started);
  Appointment booked.
- in-progress: Task in-progress; ServiceRequest active (the request is in force);
  Appointment arrived, checked-in.
- on-hold: Task and ServiceRequest on-hold.
- completed: Task and ServiceRequest completed; Appointment fulfilled.
- cancelled: Task cancelled, rejected (withdrawn before any work); Appointment cancelled;
  cancelled of the requests that have it (MedicationRequest, VisionPrescription).
- stopped: Task failed (attempted, not finished); ServiceRequest revoked, and stopped of
  the requests that have it (ended before completion); Appointment noshow (planned care
  that did not happen, so it counts against the percent complete).
- entered-in-error: entered-in-error of each.
- unknown: any other code, no status, or a resource that is not there.

The other request types an activity may name (CommunicationRequest, DeviceRequest,
MedicationRequest, NutritionOrder, RequestGroup, VisionPrescription) map as ServiceRequest.

An activity is **done** when completed, cancelled, stopped or entered in error, and
**overdue** when it is not done and its due moment has passed. The due moment is the end
of ``detail.scheduledPeriod`` or of ``detail.scheduledTiming`` (its ``boundsPeriod.end``,
else its last ``event``); for a Task ``restriction.period.end``; for a ServiceRequest (and
CommunicationRequest, DeviceRequest) the end of ``occurrence[x]``; for an Appointment its
``end`` (else ``start``). A due moment written as a date, or to the minute, has passed once
the whole day (or minute) is over, as search reads dates
(https://hl7.org/fhir/R4/search.html#date).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhircare.fhir.errors import FhirError
from fhircare.search.normalize import date_range

ACTIVITY_STATUSES = (
    "not-started",
    "scheduled",
    "in-progress",
    "on-hold",
    "completed",
    "cancelled",
    "stopped",
    "unknown",
    "entered-in-error",
)
DONE = frozenset({"completed", "cancelled", "stopped", "entered-in-error"})
NOT_COUNTED = frozenset({"cancelled", "entered-in-error"})
"""Activities that were never to be carried out: left out of the percent complete."""

TASK_STATUS = {
    "draft": "not-started",
    "requested": "not-started",
    "received": "not-started",
    "accepted": "scheduled",
    "ready": "scheduled",
    "in-progress": "in-progress",
    "on-hold": "on-hold",
    "completed": "completed",
    "cancelled": "cancelled",
    "rejected": "cancelled",
    "failed": "stopped",
    "entered-in-error": "entered-in-error",
}
REQUEST_STATUS = {
    "draft": "not-started",
    "active": "in-progress",
    "on-hold": "on-hold",
    "completed": "completed",
    "cancelled": "cancelled",
    "revoked": "stopped",
    "stopped": "stopped",
    "entered-in-error": "entered-in-error",
}
APPOINTMENT_STATUS = {
    "proposed": "not-started",
    "pending": "not-started",
    "waitlist": "not-started",
    "booked": "scheduled",
    "arrived": "in-progress",
    "checked-in": "in-progress",
    "fulfilled": "completed",
    "cancelled": "cancelled",
    "noshow": "stopped",
    "entered-in-error": "entered-in-error",
}


def activity_status(resource_type: str, status: Any) -> str:
    """The CarePlan activity status of a resource of ``resource_type`` in ``status``."""
    if resource_type == "Task":
        table = TASK_STATUS
    elif resource_type == "Appointment":
        table = APPOINTMENT_STATUS
    else:
        table = REQUEST_STATUS
    return table.get(status, "unknown") if isinstance(status, str) else "unknown"


def detail_due(detail: dict[str, Any]) -> str | None:
    """When an ``activity.detail`` is due: the end of its ``scheduled[x]``."""
    period = detail.get("scheduledPeriod")
    if isinstance(period, dict):
        return _text(period.get("end"))
    return _timing_end(detail.get("scheduledTiming"))


def resource_due(resource: dict[str, Any]) -> str | None:
    """When the resource an activity names is due (see the module's docstring)."""
    kind = resource.get("resourceType")
    if kind == "Task":
        restriction = resource.get("restriction")
        period = restriction.get("period") if isinstance(restriction, dict) else None
        return _text(period.get("end")) if isinstance(period, dict) else None
    if kind == "Appointment":
        return _text(resource.get("end")) or _text(resource.get("start"))
    period = resource.get("occurrencePeriod")
    if isinstance(period, dict):
        return _text(period.get("end"))
    return _text(resource.get("occurrenceDateTime")) or _timing_end(
        resource.get("occurrenceTiming")
    )


def passed(due: str | None, as_of: datetime) -> bool:
    """Whether the whole of ``due`` (a date, dateTime or instant) is before ``as_of``; an
    unreadable one never is."""
    if due is None:
        return False
    try:
        return as_of >= date_range(due)[1]
    except FhirError:
        return False


def _timing_end(timing: Any) -> str | None:
    if not isinstance(timing, dict):
        return None
    repeat = timing.get("repeat")
    bounds = repeat.get("boundsPeriod") if isinstance(repeat, dict) else None
    if isinstance(bounds, dict) and _text(bounds.get("end")):
        return _text(bounds.get("end"))
    events = [e for e in timing.get("event") or () if isinstance(e, str)]
    return max(events, key=_last_instant, default=None)


def _last_instant(text: str) -> datetime:
    try:
        return date_range(text)[1]
    except FhirError:
        return datetime.min.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
