"""What a search clause means, written once as a small predicate tree.

https://hl7.org/fhir/R4/search.html: prefixes (#prefix), modifiers (#modifiers) and the
per-type matching rules. ``predicate(clause)`` turns one plain clause (no chain, no
``_has``: those are resolved to reference values before) into a tree that two backends
read: ``storage/mongo/query.py`` renders it as a MongoDB filter over the index entries and
``search/match.py`` evaluates it in memory. Both therefore agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhircare.fhir import errors
from fhircare.search.entries import COMPONENT, COMPOSITE_KEYS, ORDERED_TYPES
from fhircare.search.normalize import composite_part, date_range, fold, number_range
from fhircare.search.request import Clause, Value

# Conditions on one field of an index entry.


@dataclass(frozen=True)
class Cond:
    """``field op value``; op: eq, in, gt, gte, lt, lte, prefix, suffix, contains, null,
    has (the field is a list holding the value)."""

    field: str
    op: str
    value: Any = None


ANY_PARAMETER = "*"


@dataclass(frozen=True)
class Entry:
    """Some index entry of parameter ``code`` (of any, for ``ANY_PARAMETER``) meets every
    condition."""

    code: str
    conds: tuple[Cond, ...] = ()


@dataclass(frozen=True)
class Fragment:
    """Some index entry of composite parameter ``code`` meets every condition of ``conds``
    and every predicate of ``parts`` holds over that entry's own sub-entries
    (``entries.COMPOSITE_PARTS``, the values of its ordered components) alone: everything
    from one fragment of the resource (https://hl7.org/fhir/R4/search.html#combining)."""

    code: str
    conds: tuple[Cond, ...] = ()
    parts: tuple[Predicate, ...] = ()


@dataclass(frozen=True)
class Field:
    """A condition on the resource itself rather than its entries: its id (``_id``), its
    ``_lastUpdated`` or its type (``TYPE_FIELD``, which lets one system-level query ask
    different things of different types, as ``care/compartment.py`` does)."""

    cond: Cond


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Predicate, ...]


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Predicate, ...]


@dataclass(frozen=True)
class Not:
    part: Predicate


@dataclass(frozen=True)
class Refers:
    """One hop of a chain (https://hl7.org/fhir/R4/search.html#chaining): some index entry
    of reference parameter ``code`` points at a current resource of one of ``types`` for
    which ``inner`` holds. Only a store that runs it as a join is given one
    (``ResourceStore.joinable``); for the others the hop is resolved to reference values
    first (``interactions/search_chains.py``)."""

    code: str
    types: tuple[str, ...]
    inner: Predicate


@dataclass(frozen=True)
class ReferredBy:
    """One hop of ``_has`` (https://hl7.org/fhir/R4/search.html#has): some current resource
    of ``resource_type`` for which ``inner`` holds has an index entry of reference parameter
    ``code`` pointing at this resource. Given to stores as ``Refers`` is."""

    resource_type: str
    code: str
    inner: Predicate


Predicate = Entry | Fragment | Field | AnyOf | AllOf | Not | Refers | ReferredBy

ID_FIELD = "rid"
LAST_UPDATED_FIELD = "lastUpdated"
TYPE_FIELD = "type"
_APPROX = 0.1


def predicate(clause: Clause) -> Predicate:
    """The meaning of one plain clause: its values OR-ed."""
    if clause.chain or clause.has:
        raise ValueError("chains and _has are resolved before predicates are built")
    if clause.modifier == "missing":
        present = Entry(clause.code)
        wanted = clause.values[0].raw if clause.values else "true"
        return Not(present) if wanted == "true" else present
    if clause.code == "_id":
        ids = tuple(v.raw for v in clause.values)
        found = Field(Cond(ID_FIELD, "in", ids))
        return Not(found) if clause.modifier == "not" else found
    if clause.code == "_lastUpdated":
        return AnyOf(tuple(_last_updated(v) for v in clause.values))
    parts = tuple(_value(clause, v) for v in clause.values)
    if clause.modifier == "not":
        return Not(AnyOf(parts))
    return parts[0] if len(parts) == 1 else AnyOf(parts)


def _value(clause: Clause, value: Value) -> Predicate:
    builder = _BUILDERS.get(clause.param_type)
    if builder is None:
        raise errors.unsupported(
            f"Searching by {clause.param_type} parameters is not supported", clause.code
        )
    return builder(clause, value)


def _string(clause: Clause, value: Value) -> Predicate:
    if clause.modifier == "exact":
        return Entry(clause.code, (Cond("x", "eq", value.raw),))
    op = "contains" if clause.modifier == "contains" else "prefix"
    return Entry(clause.code, (Cond("v", op, fold(value.raw)),))


def _token(clause: Clause, value: Value) -> Predicate:
    if clause.modifier == "text":
        return Entry(clause.code, (Cond("t", "prefix", fold(value.raw)),))
    if clause.modifier == "of-type":
        type_system, type_code = value.system or "", value.code or ""
        identifier = value.raw[len(type_system) + len(type_code) + 2 :]
        return Entry(
            clause.code,
            (Cond("ot", "eq", f"{type_system}|{type_code}"), Cond("c", "eq", identifier)),
        )
    conds: list[Cond] = []
    code = value.code if value.code is not None else value.raw
    if value.system is None:
        conds.append(Cond("c", "eq", code))
    elif value.system == "":
        conds += [Cond("s", "null"), Cond("c", "eq", code)]
    else:
        conds.append(Cond("s", "eq", value.system))
        if code:
            conds.append(Cond("c", "eq", code))
    return Entry(clause.code, tuple(conds))


def _uri(clause: Clause, value: Value) -> Predicate:
    if clause.modifier == "below":
        return Entry(clause.code, (Cond("v", "prefix", value.raw),))
    if clause.modifier == "above":
        prefixes = tuple(value.raw[:i] for i in range(1, len(value.raw) + 1))
        return Entry(clause.code, (Cond("v", "in", prefixes),))
    return Entry(clause.code, (Cond("v", "eq", value.raw),))


def _reference(clause: Clause, value: Value) -> Predicate:
    if clause.modifier == "identifier":
        conds = [Cond("iv", "eq", value.code if value.code is not None else value.raw)]
        if value.system:
            conds.append(Cond("is", "eq", value.system))
        return Entry(clause.code, tuple(conds))
    raw = value.raw
    if "/" not in raw and not raw.startswith(("#", "urn:")):
        if clause.modifier and clause.modifier[:1].isupper():
            raw = f"{clause.modifier}/{raw}"
        else:
            return Entry(clause.code, (Cond("r", "suffix", f"/{raw}"),))
    return Entry(clause.code, (Cond("r", "eq", raw),))


def _ordered(clause: Clause, value: Value, low: Any, high: Any, exact: Any) -> Predicate:
    """The prefix rules over target ranges [lo, hi) (https://hl7.org/fhir/R4/search.html#prefix)."""
    prefix = value.prefix or "eq"
    units = _quantity_units(clause, value)

    def entry(*conds: Cond) -> Predicate:
        parts = tuple(Entry(clause.code, (*conds, *extra)) for extra in units)
        return parts[0] if len(parts) == 1 else AnyOf(parts)

    inside = entry(Cond("lo", "gte", low), Cond("hi", "lte", high))

    if prefix == "eq":
        return inside
    if prefix == "ne":
        return Not(inside)
    if prefix == "gt":
        return entry(Cond("hi", "gt", high))
    if prefix == "lt":
        return entry(Cond("lo", "lt", low))
    if prefix == "ge":
        return AnyOf((entry(Cond("hi", "gt", high)), inside))
    if prefix == "le":
        return AnyOf((entry(Cond("lo", "lt", low)), inside))
    if prefix == "sa":
        return entry(Cond("lo", "gte", high))
    if prefix == "eb":
        return entry(Cond("hi", "lte", low))
    if prefix == "ap":
        margin = abs(exact) * _APPROX if isinstance(exact, float) else None
        if margin is None:
            return entry(Cond("lo", "lt", high), Cond("hi", "gt", low))
        return entry(Cond("lo", "lt", high + margin), Cond("hi", "gt", low - margin))
    raise errors.invalid(f"Unknown prefix '{prefix}'", clause.code)


def _quantity_units(clause: Clause, value: Value) -> tuple[tuple[Cond, ...], ...]:
    """The unit conditions a quantity value adds, as alternatives: ``n|system|code`` needs
    both; ``n||code`` (no system) matches the code or the unit as written, "where the units -
    either the code or the stated human unit - are" the code (https://hl7.org/fhir/R4/search.html#quantity).
    """
    if clause.param_type != "quantity" or not (value.system or value.code):
        return ((),)
    if not value.system:
        return ((Cond("c", "eq", value.code),), (Cond("u", "eq", value.code),))
    conds = [Cond("s", "eq", value.system)]
    if value.code:
        conds.append(Cond("c", "eq", value.code))
    return (tuple(conds),)


def _number(clause: Clause, value: Value) -> Predicate:
    low, high, exact = number_range(value.raw)
    return _ordered(clause, value, low, high, exact)


def _date(clause: Clause, value: Value) -> Predicate:
    low, high = date_range(value.raw)
    return _ordered(clause, value, low, high, None)


def _last_updated(value: Value) -> Predicate:
    """``_lastUpdated`` compares the stored instant, a range of one millisecond."""
    low, high = date_range(value.raw)
    prefix = value.prefix or "eq"
    rules: dict[str, tuple[Cond, ...]] = {
        "eq": (Cond(LAST_UPDATED_FIELD, "gte", low), Cond(LAST_UPDATED_FIELD, "lt", high)),
        "gt": (Cond(LAST_UPDATED_FIELD, "gte", high),),
        "sa": (Cond(LAST_UPDATED_FIELD, "gte", high),),
        "ge": (Cond(LAST_UPDATED_FIELD, "gte", low),),
        "lt": (Cond(LAST_UPDATED_FIELD, "lt", low),),
        "eb": (Cond(LAST_UPDATED_FIELD, "lt", low),),
        "le": (Cond(LAST_UPDATED_FIELD, "lt", high),),
    }
    if prefix == "ne":
        return Not(AllOf(tuple(Field(c) for c in rules["eq"])))
    if prefix not in rules:
        prefix = "eq"
    return AllOf(tuple(Field(c) for c in rules[prefix]))


def _composite(clause: Clause, value: Value) -> Predicate:
    """``code$value``: one index entry of the parameter (one fragment) holds every component.

    https://hl7.org/fhir/R4/search.html#composite. The equality components (token, string,
    reference, uri) are joined and looked up in the entry's ``k``, as the index writes them
    (``search/extract/composite.py``). Each ordered component (number, quantity, date) is
    the predicate its own parameter type builds for it (every prefix, significant digits,
    ``system|code`` units, date precision and zones), over the entry's sub-entries of that
    component, so ``8867-4$gt70`` means ``value-quantity=gt70`` within the fragment coded
    8867-4. A component without a prefix is ``eq`` there too, a range as standalone.
    """
    keys: list[str] = []
    parts: list[Predicate] = []
    types = clause.component_types or ("string",) * len(value.components)
    for position, (kind, component) in enumerate(zip(types, value.components, strict=True)):
        if kind in ORDERED_TYPES:
            own = Clause(ANY_PARAMETER, kind, None, (component,))
            parts.append(_tagged(_value(own, component), Cond(COMPONENT, "eq", position)))
        else:
            keys.append(composite_part(kind, component.raw))
    conds = (Cond(COMPOSITE_KEYS, "has", "$".join(keys)),) if keys else ()
    return Fragment(clause.code, conds, tuple(parts))


def _tagged(part: Predicate, tag: Cond) -> Predicate:
    """``part`` with ``tag`` added to each of its entry conditions."""
    if isinstance(part, Entry):
        return Entry(part.code, (tag, *part.conds))
    if isinstance(part, AnyOf):
        return AnyOf(tuple(_tagged(p, tag) for p in part.parts))
    if isinstance(part, AllOf):
        return AllOf(tuple(_tagged(p, tag) for p in part.parts))
    if isinstance(part, Not):
        return Not(_tagged(part.part, tag))
    raise TypeError(f"not a component predicate: {part!r}")


_BUILDERS = {
    "composite": _composite,
    "string": _string,
    "token": _token,
    "uri": _uri,
    "reference": _reference,
    "number": _number,
    "quantity": _number,
    "date": _date,
}
