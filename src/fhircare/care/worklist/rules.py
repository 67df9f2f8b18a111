"""Why a resource is on the worklist: the rule of each kind, and how a reason is shown.

Each rule reads one resource (and what the queries found about it) and gives its
``Reason``s; a resource with none is not listed, one with several is listed once with
all of them. A reason has a code, a text for people, the date it is due (as written in
the resource, or computed) and whether that date has passed (``overdue``). Dates are
compared as search compares them (``search.normalize.date_range``: a value without a zone
is UTC): a due date is *past* when the whole of it is before ``asOf`` (a Goal due
``2026-12-31`` is overdue from 2027-01-01), and a resource sorts by the first instant of
its due date.

Shown as ``Bundle.entry.search.extension``, one per reason::

    {"url": "urn:fhircare:StructureDefinition:worklist-reason",
     "extension": [{"url": "code", "valueCode": "overdue-task"},
                   {"url": "text", "valueString": "Task due ... is overdue (status accepted)"},
                   {"url": "due", "valueDateTime": "2026-10-23T17:00:00-05:00"}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fhircare.care.worklist.params import WorklistParams
from fhircare.care.worklist.queries import Record
from fhircare.fhir.errors import FhirError
from fhircare.fhir.ids import format_instant
from fhircare.search.normalize import date_range, reference_key

REASON_URL = "urn:fhircare:StructureDefinition:worklist-reason"

OPEN_TASK = ("requested", "received", "accepted", "ready", "in-progress", "on-hold")
"""Task statuses of work still to do. Not ``draft`` (not yet ready to be acted upon) nor
the final ones (completed, cancelled, failed, rejected, entered-in-error). ``on-hold``
is in: the work is still owned and waits for someone to pick it up again."""
OPEN_GOAL = ("proposed", "planned", "accepted", "active", "on-hold")
"""Goal lifecycle statuses still being worked towards (not completed, cancelled,
rejected or entered-in-error)."""
MET_GOAL = ("achieved", "sustaining")
NOT_ACHIEVING = ("worsening", "no-progress", "not-achieved", "not-attainable")
"""Goal achievement statuses that say it is going the wrong way."""
UNSENT = ("preparation", "not-done", "entered-in-error")
"""Communication statuses of a message that was not (validly) sent."""
FULFILLED = "completed"
"""The Communication status that fulfils a CommunicationRequest it is ``basedOn``: the
message was sent. One ``in-progress`` (or on-hold, stopped) is not: the request still
asks for a message that has not gone out whole."""


@dataclass(frozen=True)
class Reason:
    """One reason an entry is listed: ``due`` as shown, ``at`` the instant it sorts by."""

    code: str
    text: str
    due: str | None = None
    at: datetime | None = None
    overdue: bool = False

    def extension(self) -> dict[str, Any]:
        parts: list[dict[str, Any]] = [
            {"url": "code", "valueCode": self.code},
            {"url": "text", "valueString": self.text},
        ]
        if self.due is not None:
            parts.append({"url": "due", "valueDateTime": self.due})
        return {"url": REASON_URL, "extension": parts}


@dataclass(frozen=True)
class Item:
    """One worklist entry: a resource and why it is listed."""

    record: Record
    reasons: tuple[Reason, ...]

    @property
    def overdue(self) -> bool:
        return any(r.overdue for r in self.reasons)

    @property
    def due(self) -> datetime | None:
        """The earliest due instant of its overdue reasons (of all, when none is)."""
        counted = [r for r in self.reasons if r.overdue] or self.reasons
        dates = [r.at for r in counted if r.at is not None]
        return min(dates) if dates else None

    def place(self) -> Place:
        """Where it sorts: overdue entries first, then those with a due date, then the rest;
        by due date within each, and by ``Type/id`` last."""
        return place(self.rank, self.due, self.record.key)

    @property
    def rank(self) -> int:
        return 0 if self.overdue else 1 if self.due is not None else 2


Place = tuple[int, datetime, str]
_UNDATED = datetime.min.replace(tzinfo=UTC)


def place(rank: int, due: datetime | None, key: str) -> Place:
    """An entry's place in the order, as a comparable tuple."""
    return rank, _UNDATED if due is None else due, key


# --- the rules -----------------------------------------------------------------------


def task_reasons(task: dict[str, Any], as_of: datetime) -> list[Reason]:
    """An open Task they own: overdue when ``restriction.period.end`` is past."""
    status = task.get("status")
    end = _get(task, "restriction", "period", "end")
    span = _span(end)
    if span is None:
        return [Reason("open-task", f"Open task with no due date (status {status})")]
    if span[1] <= as_of:
        return [
            Reason(
                "overdue-task", f"Task due {end} is overdue (status {status})", end, span[0], True
            )
        ]
    return [Reason("open-task", f"Open task due {end} (status {status})", end, span[0])]


def goal_reasons(goal: dict[str, Any], as_of: datetime) -> list[Reason]:
    """A Goal still open: overdue when a ``target.dueDate`` is past and it is not achieved
    (achievement neither ``achieved`` nor ``sustaining``); not achieving when its
    ``achievementStatus`` is one of ``NOT_ACHIEVING``. Only ``dueDate`` is read (a
    ``dueDuration`` is not resolved against ``startDate``)."""
    achievement = _code(goal.get("achievementStatus"))
    dues = [(d, s) for d in _due_dates(goal) if (s := _span(d)) is not None]
    reasons = []
    past = min(((d, s) for d, s in dues if s[1] <= as_of), key=_start, default=None)
    if past is not None and achievement not in MET_GOAL:
        shown = achievement or "not recorded"
        text = f"Goal target due {past[0]} has passed (achievement: {shown})"
        reasons.append(Reason("goal-overdue", text, past[0], past[1][0], True))
    if achievement in NOT_ACHIEVING:
        first = min(dues, key=_start, default=None)
        text = f"Goal achievement is {achievement}"
        if first is None:
            reasons.append(Reason("goal-not-achieving", text))
        else:
            reasons.append(Reason("goal-not-achieving", text, first[0], first[1][0]))
    return reasons


def _start(due: tuple[str, tuple[datetime, datetime]]) -> datetime:
    return due[1][0]


def plan_reasons(plan: Record, params: WorklistParams, touched: bool) -> list[Reason]:
    """An active CarePlan in scope: ending when ``period.end`` is no later than
    ``endingWithinDays`` after ``asOf`` (one that already ended but is still active too,
    overdue); inactive when neither it (``meta.lastUpdated``) nor a linked Task changed
    in the ``inactiveDays`` before ``asOf`` (``touched`` says whether a linked Task did)."""
    reasons = []
    end = _get(plan.resource, "period", "end")
    span = _span(end)
    if span is not None and span[0] <= params.ending_by:
        if span[1] <= params.as_of:
            reasons.append(
                Reason(
                    "plan-ending", f"Care plan ended {end} but is still active", end, span[0], True
                )
            )
        else:
            reasons.append(Reason("plan-ending", f"Care plan ends {end}", end, span[0]))
    changed = plan.version.last_updated
    if changed < params.active_since and not touched:
        inactive_from = changed + timedelta(days=params.inactive_days)
        text = (
            f"No change to the care plan since {format_instant(changed)} nor to its tasks in "
            f"the {params.inactive_days} days before {params.as_of_text}"
        )
        reasons.append(
            Reason("plan-inactive", text, format_instant(inactive_from), inactive_from, True)
        )
    return reasons


def message_reasons(message: dict[str, Any], as_of: datetime) -> list[Reason]:
    """A received Communication nobody answered (the caller found no reply): a reply is
    due from when it was received (else sent), so it is overdue from then on."""
    when = message.get("received") or message.get("sent")
    span = _span(when)
    who = _name(message.get("sender"), "an unknown sender")
    if span is None:
        return [Reason("unanswered-message", f"Message from {who} has no reply")]
    text = f"Message from {who} received {when} has no reply"
    return [Reason("unanswered-message", text, when, span[0], span[1] <= as_of)]


def request_reasons(request: dict[str, Any], as_of: datetime) -> list[Reason]:
    """An active CommunicationRequest they are the ``sender`` of, with no fulfilling
    Communication (the caller found none). It is due at the end of ``occurrence[x]``
    (``occurrenceDateTime``, ``occurrencePeriod.end``) and overdue once that is wholly past,
    like a task; asked with no ``occurrence[x]`` at all, as soon as it was ``authoredOn``
    (overdue from then on, like a message awaiting a reply); an ``occurrencePeriod`` with
    no ``end`` sets no deadline. A request with ``doNotPerform`` asks for no message."""
    if request.get("doNotPerform") is True:
        return []
    who = ", ".join(_name(r) for r in listed(request.get("recipient"))) or "its recipients"
    period = request.get("occurrencePeriod")
    if isinstance(period, dict) and period.get("end") is None:
        start = period.get("start")
        when = f"from {start}" if isinstance(start, str) else "with no deadline"
        return [Reason("message-to-send", f"Message to {who} to send {when}")]
    occurrence = request.get("occurrenceDateTime") or _get(request, "occurrencePeriod", "end")
    due = request.get("authoredOn") if occurrence is None else occurrence
    span = _span(due)
    if span is None:
        return [Reason("message-to-send", f"Message to {who} requested, not sent yet")]
    overdue = span[1] <= as_of
    if occurrence is None:
        text = f"Message to {who} requested {due}, not sent yet"
    elif overdue:
        text = f"Message to {who} was to be sent by {due}: overdue"
    else:
        text = f"Message to {who} to send by {due}"
    return [Reason("message-to-send", text, due, span[0], overdue)]


def referral_reasons(referral: dict[str, Any], params: WorklistParams) -> list[Reason]:
    """A referral with no result (the caller found none) ``referralDays`` after its
    ``authoredOn``: due then."""
    authored = referral.get("authoredOn")
    span = _span(authored)
    if span is None:
        return []
    due = span[0] + timedelta(days=params.referral_days)
    text = f"Referral authored {authored} has no result after {params.referral_days} days"
    return [Reason("referral-without-result", text, format_instant(due), due, True)]


# --- reading resources ---------------------------------------------------------------


def reference_keys(references: Iterable[Any], base_url: str | None) -> set[str]:
    """``Type/id`` of each literal reference to this server among ``references``."""
    keys = set()
    for reference in references:
        text = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(text, str):
            continue
        try:
            key, kind = reference_key(text, base_url)
        except FhirError:
            continue
        if kind is not None and "://" not in key:
            keys.add(key)
    return keys


def listed(value: Any) -> list[Any]:
    """An element that may be one value or a list, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _name(reference: Any, unknown: str = "someone unnamed") -> str:
    """How a Reference names who it points at: its display, else its reference."""
    if isinstance(reference, dict):
        for element in ("display", "reference"):
            value = reference.get(element)
            if isinstance(value, str) and value:
                return value
    return unknown


def _due_dates(goal: dict[str, Any]) -> Iterator[str]:
    for target in listed(goal.get("target")):
        if isinstance(target, dict) and isinstance(target.get("dueDate"), str):
            yield target["dueDate"]


def _get(resource: dict[str, Any], *path: str) -> Any:
    value: Any = resource
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _span(text: Any) -> tuple[datetime, datetime] | None:
    if not isinstance(text, str):
        return None
    try:
        return date_range(text)
    except FhirError:
        return None


def _code(concept: Any) -> str | None:
    for coding in listed(concept.get("coding") if isinstance(concept, dict) else None):
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None
