"""Evaluating search predicates in memory: the memory store, conditional operations and
(later) subscriptions use it; it reads the same index entries the MongoDB compiler does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fhircare.search.entries import COMPOSITE_PARTS
from fhircare.search.entries import Entry as IndexEntry
from fhircare.search.predicates import (
    ANY_PARAMETER,
    AllOf,
    AnyOf,
    Cond,
    Entry,
    Field,
    Fragment,
    Not,
    Predicate,
)


def matches(predicate: Predicate, entries: Sequence[IndexEntry], fields: Mapping[str, Any]) -> bool:
    """Does a resource with these index ``entries`` and document ``fields`` match?"""
    if isinstance(predicate, Entry):
        return any(
            predicate.code in (ANY_PARAMETER, entry.get("p"))
            and all(_holds(c, entry.get(c.field)) for c in predicate.conds)
            for entry in entries
        )
    if isinstance(predicate, Fragment):
        return any(
            predicate.code in (ANY_PARAMETER, entry.get("p"))
            and all(_holds(c, entry.get(c.field)) for c in predicate.conds)
            and all(matches(p, _parts(entry), {}) for p in predicate.parts)
            for entry in entries
        )
    if isinstance(predicate, Field):
        return _holds(predicate.cond, fields.get(predicate.cond.field))
    if isinstance(predicate, AnyOf):
        return any(matches(p, entries, fields) for p in predicate.parts)
    if isinstance(predicate, AllOf):
        return all(matches(p, entries, fields) for p in predicate.parts)
    if isinstance(predicate, Not):
        return not matches(predicate.part, entries, fields)
    raise TypeError(f"not a predicate: {predicate!r}")


def _parts(entry: IndexEntry) -> Sequence[IndexEntry]:
    """A composite entry's sub-entries (none for any other entry)."""
    parts = entry.get(COMPOSITE_PARTS)
    return parts if isinstance(parts, list) else ()


def _holds(cond: Cond, actual: Any) -> bool:
    op, wanted = cond.op, cond.value
    if op == "null":
        return actual is None
    if actual is None:
        return False
    if op == "eq":
        return bool(actual == wanted)
    if op == "in":
        return actual in wanted
    if op == "has":
        return isinstance(actual, list) and wanted in actual
    if op == "prefix":
        return isinstance(actual, str) and actual.startswith(wanted)
    if op == "suffix":
        return isinstance(actual, str) and actual.endswith(wanted)
    if op == "contains":
        return isinstance(actual, str) and wanted in actual
    try:
        if op == "gt":
            return bool(actual > wanted)
        if op == "gte":
            return bool(actual >= wanted)
        if op == "lt":
            return bool(actual < wanted)
        if op == "lte":
            return bool(actual <= wanted)
    except TypeError:
        return False
    raise ValueError(f"unknown condition {op}")
