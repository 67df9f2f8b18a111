"""One action of a protocol as the request its ActivityDefinition's ``kind`` names.

https://hl7.org/fhir/R4/activitydefinition.html#12.22.4.1 (applying an ActivityDefinition).
Every request is for the plan's patient, authored when the plan is applied, requested by
the ``practitioner`` (else the ``organization``) the operation was given, in its
``encounter``, and points at the ActivityDefinition it instantiates (``url|version``) and
the Goals the action names (the ``resource-pertainsToGoal`` extension, as R4 requests have
no goal element). References to the plan's other parts are local (``#goal-1``; ``#`` is
the CarePlan): ``apply/plan.py`` keeps them contained or turns them into a transaction's.

- ``Task``: status ``requested``, intent ``order``, ``basedOn`` the CarePlan, ``code``,
  ``priority``, ``description`` (the action's title), ``for``, ``requester``, ``owner``
  (the first participant found: the patient for ``patient``, otherwise the care-team
  member holding the role, ``apply_lookup.member_for``), ``location``,
  ``restriction.period`` (the window) and ``restriction.repetitions`` (a Timing's count).
- ``ServiceRequest``: status ``draft``, intent ``order``, ``basedOn`` the CarePlan,
  ``code``, ``priority``, ``doNotPerform``, ``occurrenceTiming`` (a repeating timing) or
  ``occurrencePeriod``, ``performerType`` (the first participant's role), ``performer``
  (every participant found), ``locationReference``.
- ``Appointment``: status ``proposed``, ``appointmentType`` (the code), ``description``,
  ``requestedPeriod`` (the window), the patient as a participant who needs to act, each
  other participant as the member found or, failing that, its role; the
  ActivityDefinition in the ``workflow-instantiatesCanonical`` extension, as R4
  Appointments have no element for it.

The ActivityDefinition's ``description`` becomes a note (a ``comment`` on an Appointment).
Other kinds, and ``doNotPerform`` on anything but a ServiceRequest, are 422.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhircare.care.apply.lookup import Member, member_for
from fhircare.care.apply.timing import Window
from fhircare.fhir import errors
from fhircare.fhir.ids import format_instant

KINDS = ("Task", "ServiceRequest", "Appointment")
PERTAINS_TO_GOAL = "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal"
INSTANTIATES = "http://hl7.org/fhir/StructureDefinition/workflow-instantiatesCanonical"
CONTAINER = "#"
"""A contained resource's reference to the resource that contains it (the CarePlan)."""


@dataclass(frozen=True)
class Setting:
    """Whom and what a plan is applied for, and when."""

    subject: str
    now: datetime
    requester: str | None = None
    encounter: str | None = None
    team: tuple[Member, ...] = ()


def check_kind(definition: dict[str, Any], where: str) -> str:
    """The ActivityDefinition's ``kind``; 422 for one fhircare does not make."""
    kind = definition.get("kind")
    if kind not in KINDS:
        raise errors.processing(
            f"{where}: ActivityDefinition/{definition.get('id')} is of kind "
            f"'{str(kind)[:40]}'; fhircare makes {', '.join(KINDS)}",
            where,
        )
    if definition.get("doNotPerform") and kind != "ServiceRequest":
        raise errors.processing(
            f"{where}: ActivityDefinition/{definition.get('id')} says doNotPerform, which "
            f"a {kind} cannot say",
            where,
        )
    dynamic = definition.get("dynamicValue")
    if dynamic:
        raise errors.processing(
            f"{where}: ActivityDefinition/{definition.get('id')} has dynamicValue "
            "expressions, which fhircare does not evaluate",
            where,
        )
    return kind


def make_request(
    definition: dict[str, Any],
    action: dict[str, Any],
    window: Window,
    goals: Sequence[str],
    setting: Setting,
) -> dict[str, Any]:
    """The request ``definition`` (already checked by ``check_kind``) makes for
    ``action``; ``goals`` are local references to its Goals."""
    kind = definition["kind"]
    title = action.get("title") or definition.get("title") or definition.get("name")
    found = _participants(definition, setting)
    goal_extensions = [{"url": PERTAINS_TO_GOAL, "valueReference": {"reference": g}} for g in goals]
    if kind == "Appointment":
        return _appointment(definition, title, window, found, goal_extensions, setting)
    request: dict[str, Any] = {"resourceType": kind}
    if goal_extensions:
        request["extension"] = goal_extensions
    canonical = canonical_of(definition)
    request["instantiatesCanonical"] = canonical if kind == "Task" else [canonical]
    request["basedOn"] = [{"reference": CONTAINER}]
    request["status"] = "requested" if kind == "Task" else "draft"
    request["intent"] = "order"
    _copy(request, "priority", action.get("priority") or definition.get("priority"))
    if kind == "ServiceRequest":
        _copy(request, "doNotPerform", definition.get("doNotPerform"))
    _copy(request, "code", definition.get("code"))
    if kind == "Task":
        _copy(request, "description", title)
    request["for" if kind == "Task" else "subject"] = {"reference": setting.subject}
    _copy(request, "encounter", _reference(setting.encounter))
    if kind == "ServiceRequest":
        if window.timing is not None:
            request["occurrenceTiming"] = window.timing
        else:
            _copy(request, "occurrencePeriod", window.period(setting.now) or None)
    request["authoredOn"] = format_instant(setting.now)
    _copy(request, "requester", _reference(setting.requester))
    if kind == "Task":
        _task_tail(request, definition, window, found, setting)
    else:
        _service_tail(request, definition, found)
    if definition.get("description"):
        request["note"] = [{"text": definition["description"]}]
    return request


def _task_tail(
    task: dict[str, Any],
    definition: dict[str, Any],
    window: Window,
    found: list[tuple[dict[str, Any], str | None]],
    setting: Setting,
) -> None:
    owner = next((reference for _, reference in found if reference), None)
    _copy(task, "owner", _reference(owner))
    _copy(task, "location", definition.get("location"))
    restriction: dict[str, Any] = {}
    _copy(restriction, "repetitions", window.count)
    _copy(restriction, "period", window.period(setting.now) or None)
    _copy(task, "restriction", restriction or None)


def _service_tail(
    request: dict[str, Any],
    definition: dict[str, Any],
    found: list[tuple[dict[str, Any], str | None]],
) -> None:
    roles = [p["role"] for p, _ in found if isinstance(p.get("role"), dict)]
    _copy(request, "performerType", roles[0] if roles else None)
    performers = [{"reference": reference} for _, reference in found if reference]
    _copy(request, "performer", performers or None)
    location = definition.get("location")
    _copy(request, "locationReference", [location] if location else None)


def _appointment(
    definition: dict[str, Any],
    title: str | None,
    window: Window,
    found: list[tuple[dict[str, Any], str | None]],
    goal_extensions: list[dict[str, Any]],
    setting: Setting,
) -> dict[str, Any]:
    extensions = [{"url": INSTANTIATES, "valueCanonical": canonical_of(definition)}]
    appointment: dict[str, Any] = {
        "resourceType": "Appointment",
        "extension": extensions + goal_extensions,
        "status": "proposed",
    }
    _copy(appointment, "appointmentType", definition.get("code"))
    _copy(appointment, "description", title)
    appointment["created"] = format_instant(setting.now)
    _copy(appointment, "comment", definition.get("description"))
    participants = [_attendee(setting.subject)]
    for participant, reference in found:
        if reference == setting.subject:
            continue
        if reference is not None:
            participants.append(_attendee(reference, participant.get("role")))
        elif isinstance(participant.get("role"), dict):
            participants.append(
                {"type": [participant["role"]], "required": "required", "status": "needs-action"}
            )
    location = definition.get("location")
    if isinstance(location, dict) and location.get("reference"):
        participants.append(_attendee(location["reference"]))
    appointment["participant"] = participants
    _copy(appointment, "requestedPeriod", [window.period(setting.now)] if window.end else None)
    return appointment


def _attendee(reference: str, role: dict[str, Any] | None = None) -> dict[str, Any]:
    attendee: dict[str, Any] = {}
    if isinstance(role, dict):
        attendee["type"] = [role]
    attendee.update(
        {"actor": {"reference": reference}, "required": "required", "status": "needs-action"}
    )
    return attendee


def _participants(
    definition: dict[str, Any], setting: Setting
) -> list[tuple[dict[str, Any], str | None]]:
    """Each participant of ``definition`` and whom it is for this patient (None: nobody
    could be chosen)."""
    found: list[tuple[dict[str, Any], str | None]] = []
    for participant in definition.get("participant") or ():
        if participant.get("type") == "patient":
            found.append((participant, setting.subject))
        else:
            found.append((participant, member_for(setting.team, participant)))
    return found


def canonical_of(resource: dict[str, Any]) -> str:
    """``url|version``, or ``url`` for a resource without a version."""
    url = str(resource.get("url", ""))
    version = resource.get("version")
    return f"{url}|{version}" if version else url


def _reference(reference: str | None) -> dict[str, str] | None:
    return {"reference": reference} if reference else None


def _copy(target: dict[str, Any], name: str, value: Any) -> None:
    if value is not None and value != "":
        target[name] = value
