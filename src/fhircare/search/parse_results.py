"""The result parameters of a search: ``_include``/``_revinclude``, ``_sort``, ``_count``,
``_total``, ``_summary`` and ``_elements`` (https://hl7.org/fhir/R4/search.html#return).

Each takes the value text as written and answers its IR part or a 400.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from fhircare.fhir import errors
from fhircare.search.limits import SearchLimits
from fhircare.search.param_info import TYPE_NAME, ParamLookup
from fhircare.search.parse_errors import shown, too_costly
from fhircare.search.request import Include, SortKey

__all__ = [
    "SUMMARIES",
    "TOTALS",
    "parse_choice",
    "parse_count",
    "parse_elements",
    "parse_include",
    "parse_include_modifier",
    "parse_sort",
]

TOTALS = ("none", "estimate", "accurate")
SUMMARIES = ("true", "text", "data", "count", "false")
_ALWAYS_SORTABLE = ("_id", "_lastUpdated")
_ELEMENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_MAX_COUNT_DIGITS = 12


def parse_include_modifier(key: str, modifier: str | None) -> bool:
    """Whether an ``_include``/``_revinclude`` iterates (``:iterate``, R3's ``:recurse``)."""
    if modifier is None:
        return False
    if modifier in ("iterate", "recurse"):
        return True
    raise errors.invalid(f"{shown(key)}: the modifier may be :iterate only", key)


def parse_include(
    key: str, value: str, reverse: bool, iterate: bool, lookup: ParamLookup
) -> Include:
    """``Source:code[:Target]``, ``Source:*[:Target]`` or ``*``
    (https://hl7.org/fhir/R4/search.html#include)."""
    if value == "*":
        return Include("*", "*", None, iterate, reverse)
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise errors.invalid(
            f"{key}={shown(value)}: expected Type:parameter[:targetType] or *", key
        )
    source, code = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    for name in (source, target):
        if name is not None and not TYPE_NAME.fullmatch(name):
            raise errors.invalid(f"{key}={shown(value)}: {shown(name)} is not a type", key)
    if code != "*":
        info = lookup(source, code)
        if info is None or info.type != "reference":
            raise errors.invalid(
                f"{key}={shown(value)}: {source} has no reference parameter {shown(code)}",
                key,
            )
        if target is not None and info.targets and target not in info.targets:
            raise errors.invalid(
                f"{key}={shown(value)}: {source}.{code} does not refer to {target}", key
            )
    return Include(source, code, target, iterate, reverse)


def parse_sort(
    value: str, resource_type: str | None, lookup: ParamLookup, limits: SearchLimits
) -> tuple[SortKey, ...]:
    """``_sort=a,-b`` (https://hl7.org/fhir/R4/search.html#sort)."""
    keys = []
    for item in value.split(","):
        descending = item.startswith("-")
        code = item[1:] if descending else item
        if not code:
            raise errors.invalid(f"_sort={shown(value)} has an empty item", "_sort")
        if code not in _ALWAYS_SORTABLE and lookup(resource_type, code) is None:
            raise errors.invalid(f"_sort: unknown search parameter {shown(code)}", "_sort")
        keys.append(SortKey(code, descending))
    if len(keys) > limits.max_clauses:
        raise too_costly(f"_sort has more than {limits.max_clauses} keys", "_sort")
    return tuple(keys)


def parse_count(value: str, limits: SearchLimits) -> int:
    """``_count``: a non-negative integer, lowered to ``max_count``
    (https://hl7.org/fhir/R4/search.html#count)."""
    if not value.isascii() or not value.isdigit():
        raise errors.invalid(f"_count must be a non-negative integer, not {shown(value)}", "_count")
    digits = value.lstrip("0") or "0"
    if len(digits) > _MAX_COUNT_DIGITS:
        return limits.max_count
    return min(int(digits), limits.max_count)


def parse_choice(name: str, value: str | None, allowed: Sequence[str]) -> str | None:
    """``_total``/``_summary``: one of ``allowed``, or None when absent."""
    if value is None or value in allowed:
        return value
    raise errors.invalid(f"{name} must be one of {', '.join(allowed)}", name)


def parse_elements(value: str) -> tuple[str, ...]:
    """``_elements=a,b`` (https://hl7.org/fhir/R4/search.html#elements)."""
    names = tuple(value.split(","))
    for name in names:
        if not _ELEMENT.fullmatch(name):
            raise errors.invalid(f"_elements: {shown(name)} is not an element name", "_elements")
    return names
