"""Rendering search predicates as MongoDB prefilters over the ``idx`` entries.

The store asks the server for a *necessary* condition (``Not`` prefilters nothing) and
applies the exact predicate to each candidate with ``search.match``: one behaviour on
every store. On MongoDB an entry's conditions are tied together with ``$elemMatch``
(``per_entry``), which gives the compound multikey indexes on ``idx`` (``idx.p`` then a
value field) bounds on both keys. FerretDB v1.24.2 answers ``$elemMatch`` over an array of
documents with nothing (or an "unknown operator" error), so there each condition is
rendered on its own with dot notation (it holds for some entry); its SQLite backend
serves no filter but ``_id`` from an index anyway.

A composite's ``Fragment`` is one entry too: its code and ``k`` condition as above; per
entry, each of its parts, a predicate over the entry's ``q`` sub-entries, adds a nested
``$elemMatch`` on ``q`` where it narrows (not under ``Not``). Dotted, the parts add
nothing: the exact match checks them.
Every value is placed as data: field names come from this module and ``search.entries``,
never from a query, and text becomes an anchored, escaped regular expression.
"""

from __future__ import annotations

import re
from typing import Any

from fhircare.search.entries import COMPOSITE_PARTS
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

INDEX_FIELD = "idx"
_COMPARISONS = {
    "eq": "$eq",
    "has": "$eq",
    "in": "$in",
    "gt": "$gt",
    "gte": "$gte",
    "lt": "$lt",
    "lte": "$lte",
}


def prefilter(predicate: Predicate, per_entry: bool = False) -> dict[str, Any]:
    """A filter every resource matching ``predicate`` passes ({} when nothing narrows it);
    ``per_entry`` ties an entry's conditions to one entry with ``$elemMatch``."""
    if isinstance(predicate, Fragment):
        entry = Entry(predicate.code, predicate.conds)
        if not per_entry:
            return prefilter(entry)
        within = _within(entry)
        nested = [f for f in (_parts_filter(p) for p in predicate.parts) if f]
        if nested:
            within["$and"] = nested
        return {INDEX_FIELD: {"$elemMatch": within}}
    if isinstance(predicate, Entry) and per_entry:
        return {INDEX_FIELD: {"$elemMatch": _within(predicate) or {"p": {"$exists": True}}}}
    if isinstance(predicate, Entry):
        parts: list[dict[str, Any]] = []
        if predicate.code != ANY_PARAMETER:
            parts.append({f"{INDEX_FIELD}.p": predicate.code})
        parts += [
            {f"{INDEX_FIELD}.{c.field}": _condition(c)} for c in predicate.conds if c.op != "null"
        ]
        if not parts:
            return {f"{INDEX_FIELD}.p": {"$exists": True}}
        return parts[0] if len(parts) == 1 else {"$and": parts}
    if isinstance(predicate, Field):
        return {predicate.cond.field: _condition(predicate.cond)}
    if isinstance(predicate, AnyOf):
        options = [prefilter(p, per_entry) for p in predicate.parts]
        return {} if any(not o for o in options) else {"$or": options}
    if isinstance(predicate, AllOf):
        required = [f for f in (prefilter(p, per_entry) for p in predicate.parts) if f]
        return {"$and": required} if required else {}
    if isinstance(predicate, Not):
        return {}
    raise TypeError(f"not a predicate: {predicate!r}")


def _within(entry: Entry) -> dict[str, Any]:
    """The conditions of ``entry`` on the fields of one index entry (or sub-entry)."""
    within: dict[str, Any] = {}
    if entry.code != ANY_PARAMETER:
        within["p"] = entry.code
    for c in entry.conds:
        if c.op != "null":
            within.setdefault(c.field, {}).update(_condition(c))
    return within


def _parts_filter(predicate: Predicate) -> dict[str, Any]:
    """A condition one composite entry passes when ``predicate`` holds over its sub-entries
    ({} when nothing narrows it)."""
    if isinstance(predicate, Entry):
        within = _within(predicate)
        return {COMPOSITE_PARTS: {"$elemMatch": within}} if within else {}
    if isinstance(predicate, AnyOf):
        options = [_parts_filter(p) for p in predicate.parts]
        return {} if any(not o for o in options) else {"$or": options}
    if isinstance(predicate, AllOf):
        required = [f for f in (_parts_filter(p) for p in predicate.parts) if f]
        return {"$and": required} if required else {}
    if isinstance(predicate, Not):
        return {}
    raise TypeError(f"not a component predicate: {predicate!r}")


def _condition(cond: Cond) -> dict[str, Any]:
    if cond.op in _COMPARISONS:
        value = list(cond.value) if cond.op == "in" else cond.value
        return {_COMPARISONS[cond.op]: value}
    pattern = re.escape(str(cond.value))
    if cond.op == "prefix":
        return {"$regex": f"^{pattern}"}
    if cond.op == "suffix":
        return {"$regex": f"{pattern}$"}
    if cond.op == "contains":
        return {"$regex": pattern}
    raise ValueError(f"unknown condition {cond.op}")
