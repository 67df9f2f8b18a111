"""Rendering search predicates as MongoDB prefilters over the ``idx`` entries.

FerretDB v1.24.2 answers ``$elemMatch`` over an array of documents with nothing (or an
"unknown operator" error), so no filter can tie several conditions to one entry there.
The store therefore asks MongoDB for a *necessary* condition, rendered here with dot
notation (each condition holds for some entry; ``Not`` prefilters nothing), and applies
the exact predicate to each candidate with ``search.match``: one behaviour on every
store, and on MongoDB the prefilter is served by the multikey indexes on ``idx``.
Every value is placed as data: field names come from this module, never from a query,
and text becomes an anchored, escaped regular expression.
"""

from __future__ import annotations

import re
from typing import Any

from fhircare.search.predicates import (
    ANY_PARAMETER,
    AllOf,
    AnyOf,
    Cond,
    Entry,
    Field,
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


def prefilter(predicate: Predicate) -> dict[str, Any]:
    """A filter every resource matching ``predicate`` passes ({} when nothing narrows it)."""
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
        options = [prefilter(p) for p in predicate.parts]
        return {} if any(not o for o in options) else {"$or": options}
    if isinstance(predicate, AllOf):
        required = [f for f in (prefilter(p) for p in predicate.parts) if f]
        return {"$and": required} if required else {}
    if isinstance(predicate, Not):
        return {}
    raise TypeError(f"not a predicate: {predicate!r}")


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
