"""When each activity of an applied protocol falls: its relative timing made absolute.

A protocol says "within 72 hours", "every 3 months for a year" or "in the 14 days after the
clinic visit"; the plan for a patient needs dates. The timing of an action is its own
``PlanDefinition.action.timing[x]`` when it has one, otherwise its ActivityDefinition's
``timing[x]`` (https://hl7.org/fhir/R4/plandefinition-definitions.html#PlanDefinition.action.timing_x_).
It counts from the moment the plan is applied, or, with one ``action.relatedAction``
(``after-start``, ``after`` or ``after-end``, with an optional ``offsetDuration``), from
the start or the end of the related action's window:

- ``timingDuration``: from the anchor to the anchor plus the duration ("within");
- ``timingRange`` of durations: from the anchor plus ``low`` to the anchor plus ``high``;
- ``timingTiming``: its ``repeat`` as given, its ``boundsDuration`` or ``boundsRange``
  made a ``boundsPeriod`` the same way; ``repeat.count`` is kept for the requests that
  can say it.

Absolute timings (``dateTime``, ``Period``, ``Timing.event``, ``boundsPeriod``), ages, other
relationships, more than one related action, a cycle or an unknown ``actionId`` are 422
naming the element: a protocol applied to every patient cannot mean one fixed date.
Durations take the UCUM units ``s``, ``min``, ``h``, ``d``, ``wk``, ``mo`` and ``a``
(months and years as whole calendar months and years).
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from fhircare.fhir import errors
from fhircare.fhir.ids import format_instant

UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "wk": 604800}
CALENDAR_MONTHS = {"mo": 1, "a": 12}
UNIT_WORDS = {
    "second": "s",
    "seconds": "s",
    "minute": "min",
    "minutes": "min",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "wk",
    "weeks": "wk",
    "month": "mo",
    "months": "mo",
    "year": "a",
    "years": "a",
}
"""``Quantity.unit`` words taken for a UCUM code when a duration carries no ``code``."""
RELATIONSHIPS = ("after-start", "after", "after-end")


@dataclass(frozen=True)
class Window:
    """When an activity should happen: from ``start`` (the anchor when nothing later is
    said) until ``end`` (None: no deadline); ``timing`` is a repeating Timing with absolute
    bounds, ``count`` how many times in all."""

    start: datetime
    end: datetime | None = None
    timing: dict[str, Any] | None = None
    count: int | None = None

    def period(self, applied: datetime) -> dict[str, str]:
        """The window as a FHIR Period; a start no later than ``applied`` goes unsaid."""
        period = {}
        if self.start > applied:
            period["start"] = format_instant(self.start)
        if self.end is not None:
            period["end"] = format_instant(self.end)
        return period


def timing_of(element: dict[str, Any]) -> tuple[str, Any] | None:
    """The ``timing[x]`` of an action or ActivityDefinition: (element name, value)."""
    for name, value in element.items():
        if name.startswith("timing"):
            return name, value
    return None


def plan_windows(
    actions: list[dict[str, Any]], timings: list[tuple[str, str, Any] | None], now: datetime
) -> list[Window]:
    """Each action's window; ``timings[i]`` is action ``i``'s timing as (where it is, its
    element name, its value), or None."""
    placer = _Placer(actions, timings, now)
    return [placer.place(i, frozenset()) for i in range(len(actions))]


class _Placer:
    """Places actions one by one, each after the action it is related to."""

    def __init__(
        self,
        actions: list[dict[str, Any]],
        timings: list[tuple[str, str, Any] | None],
        now: datetime,
    ) -> None:
        self.actions = actions
        self.timings = timings
        self.now = now
        self.ids = {a["id"]: i for i, a in enumerate(actions) if isinstance(a.get("id"), str)}
        self.placed: dict[int, Window] = {}

    def place(self, index: int, visiting: frozenset[int]) -> Window:
        if index in self.placed:
            return self.placed[index]
        where = f"PlanDefinition.action[{index}]"
        if index in visiting:
            raise errors.processing(
                f"{where}: its relatedAction leads back to itself", f"{where}.relatedAction"
            )
        anchor = self.now
        related = self.actions[index].get("relatedAction") or []
        if len(related) > 1:
            raise errors.processing(
                f"{where}: fhircare times an action after one related action, not {len(related)}",
                f"{where}.relatedAction",
            )
        if related:
            anchor = self._anchor(related[0], f"{where}.relatedAction[0]", visiting | {index})
        timing = self.timings[index]
        window = Window(anchor) if timing is None else window_of(*timing, anchor)
        self.placed[index] = window
        return window

    def _anchor(self, related: dict[str, Any], where: str, visiting: frozenset[int]) -> datetime:
        """The moment an action with this ``relatedAction`` counts its timing from."""
        action_id = related.get("actionId")
        target = self.ids.get(action_id) if isinstance(action_id, str) else None
        if target is None:
            raise errors.processing(
                f"{where}: no action has id '{str(action_id)[:64]}'", f"{where}.actionId"
            )
        relationship = related.get("relationship")
        if relationship not in RELATIONSHIPS:
            raise errors.processing(
                f"{where}: fhircare times an action after another "
                f"({', '.join(RELATIONSHIPS)}), not '{str(relationship)[:40]}'",
                f"{where}.relationship",
            )
        if "offsetRange" in related:
            raise errors.processing(
                f"{where}: an offsetRange has no single moment; use offsetDuration",
                f"{where}.offsetRange",
            )
        other = self.place(target, visiting)
        moment = other.start if relationship == "after-start" else other.end
        if moment is None:
            raise errors.processing(
                f"{where}: action '{action_id}' has no end to follow (give it a timing)",
                f"{where}.relationship",
            )
        offset = related.get("offsetDuration")
        return moment if offset is None else add(moment, offset, f"{where}.offsetDuration")


def window_of(where: str, name: str, value: Any, anchor: datetime) -> Window:
    """The window of ``timing[x]`` (element ``name`` at ``where``) counted from ``anchor``."""
    at = f"{where}.{name}"
    if not isinstance(value, dict):
        raise errors.processing(f"{at}: fhircare reads relative timings only", at)
    if name == "timingDuration":
        return Window(anchor, add(anchor, value, at))
    if name == "timingRange":
        return Window(*_range(anchor, value, at))
    if name == "timingTiming":
        return _repeating(anchor, value, at)
    raise errors.processing(
        f"{at}: fhircare reads timingDuration, timingRange and timingTiming, as a protocol "
        "applied to any patient counts from when it is applied",
        at,
    )


def _range(anchor: datetime, value: dict[str, Any], at: str) -> tuple[datetime, datetime | None]:
    start = add(anchor, value["low"], f"{at}.low") if "low" in value else anchor
    end = add(anchor, value["high"], f"{at}.high") if "high" in value else None
    if end is not None and end < start:
        raise errors.processing(f"{at}: low is after high", at)
    return start, end


def _repeating(anchor: datetime, timing: dict[str, Any], at: str) -> Window:
    if "event" in timing:
        raise errors.processing(
            f"{at}.event: fixed dates cannot be part of a protocol", f"{at}.event"
        )
    repeat = dict(timing.get("repeat") or {})
    if "boundsPeriod" in repeat:
        raise errors.processing(
            f"{at}.repeat.boundsPeriod: fixed dates cannot be part of a protocol; "
            "use boundsDuration",
            f"{at}.repeat.boundsPeriod",
        )
    start, end = anchor, None
    if "boundsDuration" in repeat:
        end = add(anchor, repeat.pop("boundsDuration"), f"{at}.repeat.boundsDuration")
    elif "boundsRange" in repeat:
        start, end = _range(anchor, repeat.pop("boundsRange"), f"{at}.repeat.boundsRange")
    bounds = {"start": format_instant(start)}
    if end is not None:
        bounds["end"] = format_instant(end)
    absolute = {k: v for k, v in timing.items() if k != "repeat"}
    absolute["repeat"] = {"boundsPeriod": bounds, **repeat}
    count = repeat.get("count")
    return Window(start, end, absolute, count if isinstance(count, int) else None)


def add(moment: datetime, duration: Any, at: str) -> datetime:
    """``moment`` plus a Duration (a Quantity in UCUM time units)."""
    if not isinstance(duration, dict):
        raise errors.processing(f"{at}: not a Duration", at)
    unit = _unit(duration)
    try:
        amount = Decimal(str(duration.get("value")))
    except InvalidOperation:
        amount = Decimal(-1)
    if unit is None or not amount.is_finite() or amount < 0:
        raise errors.processing(
            f"{at}: a duration needs a value of at least 0 and a unit of "
            f"{', '.join([*UNIT_SECONDS, *CALENDAR_MONTHS])}",
            at,
        )
    if unit in CALENDAR_MONTHS:
        if amount != amount.to_integral_value():
            raise errors.processing(f"{at}: months and years are counted whole", at)
        return add_months(moment, int(amount) * CALENDAR_MONTHS[unit])
    try:
        return moment + timedelta(seconds=float(amount * UNIT_SECONDS[unit]))
    except OverflowError:
        raise errors.processing(f"{at}: {amount} {unit} is beyond any date", at) from None


def _unit(duration: dict[str, Any]) -> str | None:
    code = duration.get("code")
    if isinstance(code, str):
        return code if code in UNIT_SECONDS or code in CALENDAR_MONTHS else None
    unit = duration.get("unit")
    if not isinstance(unit, str):
        return None
    word = unit.strip().lower()
    word = UNIT_WORDS.get(word, word)
    return word if word in UNIT_SECONDS or word in CALENDAR_MONTHS else None


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months later (the month's last day if it is
    shorter)."""
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    if year > 9999:
        raise errors.processing(f"{months} months from now is beyond any date")
    return moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))
