"""date parameters: ``lo``/``hi``, the UTC instants [lo, hi) a value covers.

https://hl7.org/fhir/R4/search.html#date: date, dateTime and instant at their precision
(``2026`` is the whole year; a value without a zone is taken as UTC), Period from its
start's low to its end's high (an open end is ``MIN_DATE``/``MAX_DATE``), and Timing by each
``event`` and its ``repeat.boundsPeriod`` (a Timing with neither, only a frequency, has
nothing to index: that is noted at debug level, not warned about).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhircare.fhir import errors
from fhircare.search.entries import Entry
from fhircare.search.extract.context import ExtractContext, collect, fields
from fhircare.search.normalize import MAX_DATE, MIN_DATE, date_range

_PERIOD_KEYS = frozenset({"id", "extension", "start", "end"})
_TIMING_KEYS = frozenset({"event", "repeat", "code"})


def extract(code: str, values: list[Any], context: ExtractContext) -> list[Entry]:
    """One entry per date, Period or Timing event/bounds; bad values are logged and skipped."""

    def entries_of(value: Any) -> list[Entry] | None:
        ranges = _ranges(value)
        return None if ranges is None else [{"p": code, "lo": lo, "hi": hi} for lo, hi in ranges]

    return collect(
        code,
        values,
        entries_of,
        "not a date, dateTime, instant, Period or Timing",
        "a Timing without event or repeat.boundsPeriod",
    )


def _ranges(value: Any) -> list[tuple[datetime, datetime]] | None:
    if isinstance(value, str):
        return [date_range(value)]
    if not isinstance(value, dict):
        return None
    if fields(value) & _TIMING_KEYS:
        return _timing(value)
    if fields(value) & {"start", "end"} and fields(value) <= _PERIOD_KEYS:
        return [_period(value)]
    return None


def _period(period: dict[str, Any]) -> tuple[datetime, datetime]:
    start, end = period.get("start"), period.get("end")
    if not isinstance(start, str | None) or not isinstance(end, str | None):
        raise errors.invalid("the Period's start or end is not a dateTime")
    lo = date_range(start)[0] if isinstance(start, str) else MIN_DATE
    hi = date_range(end)[1] if isinstance(end, str) else MAX_DATE
    if hi <= lo:
        raise errors.invalid("the Period ends before it starts")
    return lo, hi


def _timing(timing: dict[str, Any]) -> list[tuple[datetime, datetime]]:
    events = timing.get("event")
    ranges = (
        [date_range(e) for e in events if isinstance(e, str)] if isinstance(events, list) else []
    )
    repeat = timing.get("repeat")
    bounds = repeat.get("boundsPeriod") if isinstance(repeat, dict) else None
    if isinstance(bounds, dict):
        ranges.append(_period(bounds))
    return ranges
