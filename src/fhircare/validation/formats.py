"""Primitive formats the rule walk checks itself, whichever engine runs.

The engines check most formats; these are the rules of
https://hl7.org/fhir/R4/datatypes.html#primitive that one of them misses, found by the
differential test: the length of an ``id`` (and, for fhirkit, ``Resource.id`` at all),
whitespace in ``uri``/``url``/``canonical`` (regex ``\\S*``), and dates that the regexes
admit but no calendar has ("dates SHALL be valid dates": no 2023-02-30, no year 0000).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from fhircare.validation.issues import IssueCollector

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_NO_WHITESPACE = re.compile(r"\S*")
_DATE_PREFIX = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


def _valid_calendar_date(value: str) -> bool:
    """False for a year 0000 or a day its month does not have; other format errors are
    the engine's to report."""
    if value[8:10] < "29" and not value.startswith("0000"):
        return True  # every month has days 01-28 (and "" < "29": no day at all)
    match = _DATE_PREFIX.match(value)
    if match is None:
        return True
    year, month, day = match.groups()
    if year == "0000":
        return False
    if day is None:
        return True
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


_ID_RULE = "1 to 64 of A-Z, a-z, 0-9, '-' and '.'"
# A regex's own fullmatch (no Python call around it): the walk calls these for most values.
_CHECKS: dict[str | None, tuple[Callable[[str], object], str]] = {
    "id": (_ID.fullmatch, _ID_RULE),
    "uri": (_NO_WHITESPACE.fullmatch, "no whitespace"),
    "url": (_NO_WHITESPACE.fullmatch, "no whitespace"),
    "canonical": (_NO_WHITESPACE.fullmatch, "no whitespace"),
    "date": (_valid_calendar_date, "a real calendar date"),
    "dateTime": (_valid_calendar_date, "a real calendar date"),
    "instant": (_valid_calendar_date, "a real calendar date"),
}

CHECKS: dict[str | None, Callable[[str], object]] = {name: c[0] for name, c in _CHECKS.items()}
"""Primitive type -> a check of a JSON string of that type: truthy if it keeps the rule."""


def report(primitive: str | None, value: str, expression: str, issues: IssueCollector) -> None:
    """The issue for a ``value`` that fails its check in ``CHECKS``."""
    shown = repr(value) if len(value) <= 80 else repr(value[:77] + "...")
    rule = _CHECKS[primitive][1] if primitive in _CHECKS else "see its type"
    message = f"{expression}: {shown} is not a valid {primitive} ({rule})"
    issues.add("value", message, expression)
