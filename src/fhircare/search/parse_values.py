"""One search parameter's value text into ``Value`` items, by parameter type.

https://hl7.org/fhir/R4/search.html#ptypes, #prefix, #escaping: values are OR-ed by
unescaped ``,``; ``\\,`` ``\\$`` ``\\|`` ``\\\\`` stand for the character itself (any other
backslash is kept as written). Prefixes only for number, date and quantity; values are
checked against their type.
"""

from __future__ import annotations

import datetime
import re

from fhircare.fhir import errors
from fhircare.search.limits import SearchLimits
from fhircare.search.parse_errors import shown, too_costly
from fhircare.search.request import PREFIXES, Value

__all__ = ["parse_values", "split_escaped", "unescape"]

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(
    r"(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2})"
    r"(?:T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.[0-9]+)?)?"
    r"(?:Z|[+-](?P<tzh>[0-9]{2}):(?P<tzm>[0-9]{2}))?)?)?)?"
)
_ESCAPABLE = frozenset("\\,$|")


def split_escaped(text: str, separator: str, maxsplit: int = -1) -> list[str]:
    """``text`` split on every ``separator`` not escaped by a backslash, the pieces still
    escaped (https://hl7.org/fhir/R4/search.html#escaping)."""
    pieces: list[str] = []
    start = index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == separator and maxsplit != len(pieces):
            pieces.append(text[start:index])
            start = index + 1
        index += 1
    pieces.append(text[start:])
    return pieces


def unescape(text: str) -> str:
    """``text`` with ``\\,`` ``\\$`` ``\\|`` ``\\\\`` replaced by the character; any other
    backslash is kept as it is."""
    if "\\" not in text:
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPABLE:
            out.append(text[index + 1])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def parse_values(
    key: str,
    text: str,
    param_type: str,
    modifier: str | None,
    component_types: tuple[str, ...],
    limits: SearchLimits,
) -> tuple[Value, ...]:
    """The OR-ed values of ``key=text`` for a parameter of ``param_type``."""
    items = split_escaped(text, ",")
    if len(items) > limits.max_or_values:
        raise too_costly(f"{shown(key)} has more than {limits.max_or_values} values", key)
    return tuple(_value(key, item, param_type, modifier, component_types) for item in items)


def _value(
    key: str,
    item: str,
    param_type: str,
    modifier: str | None,
    component_types: tuple[str, ...],
) -> Value:
    if not item:
        raise errors.invalid(f"{shown(key)} has an empty value in its list", key)
    if modifier == "missing":
        raw = unescape(item)
        if raw not in ("true", "false"):
            raise errors.invalid(f"{shown(key)}: :missing takes true or false", key)
        return Value(raw)
    if param_type == "composite":
        parts = split_escaped(item, "$")
        types = component_types or ("string",) * len(parts)
        if len(parts) != len(types):
            raise errors.invalid(
                f"{shown(key)}: {shown(unescape(item))} needs {len(types)} "
                "components separated by $",
                key,
            )
        components = tuple(_value(key, p, t, None, ()) for p, t in zip(parts, types, strict=True))
        return Value(unescape(item), components=components)
    if param_type in ("number", "date"):
        prefix, raw = _prefixed(unescape(item))
        _check_ordered(key, param_type, raw)
        return Value(raw, prefix)
    if param_type == "quantity":
        parts = split_escaped(item, "|", 2)
        if len(parts) == 2:
            raise errors.invalid(f"{shown(key)}: a quantity is number, or number|system|code", key)
        prefix, raw = _prefixed(unescape(parts[0]))
        _check_ordered(key, "number", raw)
        if len(parts) == 1:
            return Value(raw, prefix)
        return Value(raw, prefix, unescape(parts[1]), unescape(parts[2]))
    if param_type == "token" and modifier == "of-type":
        parts = split_escaped(item, "|", 2)
        if len(parts) != 3 or not all(parts):
            raise errors.invalid(f"{shown(key)}: :of-type takes system|code|value", key)
        return Value(unescape(item), system=unescape(parts[0]), code=unescape(parts[1]))
    if (param_type == "token" and modifier != "text") or (
        param_type == "reference" and modifier == "identifier"
    ):
        parts = split_escaped(item, "|", 1)
        whole = unescape(item)
        if len(parts) == 1:
            return Value(whole, code=whole)
        return Value(whole, system=unescape(parts[0]), code=unescape(parts[1]))
    return Value(unescape(item))


def _prefixed(text: str) -> tuple[str | None, str]:
    """``ge2026`` → (ge, 2026) (https://hl7.org/fhir/R4/search.html#prefix)."""
    if text[:2] in PREFIXES:
        return text[:2], text[2:]
    return None, text


def _check_ordered(key: str, param_type: str, raw: str) -> None:
    if param_type == "number":
        if not _NUMBER.fullmatch(raw):
            raise errors.invalid(f"{shown(key)}: {shown(raw)} is not a number", key)
        return
    if not _valid_date(raw):
        hint = " (a + in a time zone must be sent as %2B)" if " " in raw else ""
        raise errors.invalid(f"{shown(key)}: {shown(raw)} is not a FHIR date{hint}", key)


def _valid_date(text: str) -> bool:
    """A FHIR date or dateTime: ``YYYY[-MM[-DD[Thh:mm[:ss[.f]][Z|±hh:mm]]]]``; seconds and
    the zone may be left out in a search (https://hl7.org/fhir/R4/search.html#date)."""
    match = _DATE.fullmatch(text)
    if not match:
        return False
    fields = {k: int(v) for k, v in match.groupdict().items() if v is not None}
    try:
        datetime.date(fields["year"], fields.get("month", 1), fields.get("day", 1))
    except ValueError:
        return False
    return (
        fields.get("hour", 0) <= 23
        and fields.get("minute", 0) <= 59
        and fields.get("second", 0) <= 60
        and fields.get("tzh", 0) * 60 + fields.get("tzm", 0) <= 14 * 60
        and fields.get("tzm", 0) <= 59
    )
