"""composite parameters: per fragment, ``k`` the equality combinations, ``q`` the ordered values.

https://hl7.org/fhir/R4/search.html#composite. One entry per resource fragment the
composite's expression selects (the Observation, or one of its components), so the parts of
one match always come from the same fragment. A component is stored as its type is matched:

- equality components (token, string, reference, uri) in ``k``: each way a query can write
  their combination, so that part of a query is equality against one element of ``k``:
  token ``system|code`` and ``code`` (``|code`` and ``code`` when there is no system);
  string folded; reference ``r`` as the reference parameter indexes it; uri as written.
  ``normalize.composite_part`` normalises a query's component the same way. Without
  equality components there is no ``k``.
- ordered components (number, quantity, date) in ``q``: the entries the component
  parameter's own extractor (``number``, ``quantity``, ``date``) gives for the fragment's
  values, each tagged ``i`` with the component's position, without ``p``, ``n`` (only
  sorting reads it) or None fields. A query compares them with the component type's own
  predicate, prefixes and all (``predicates._composite``), so ``8867-4$gt70`` means what
  ``value-quantity=gt70`` means, within the fragment coded 8867-4. Without ordered
  components there is no ``q``.

A fragment missing a component (or whose values for it cannot be indexed) gives no entry.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from fhircare.fhir import errors
from fhircare.fhir.errors import FhirError
from fhircare.search.entries import (
    COMPONENT,
    COMPOSITE_KEYS,
    COMPOSITE_PARTS,
    ORDERED_TYPES,
    Entry,
)
from fhircare.search.extract import date, number, quantity, reference, string, token
from fhircare.search.extract.context import ExtractContext, skip, text

MAX_COMBINATIONS = 256
"""The most ``k`` combinations, and the most ``q`` sub-entries, one fragment may give."""

_DROPPED = frozenset(("p", "n"))


def extract(
    code: str,
    values: list[Any],
    context: ExtractContext,
    components: Sequence[tuple[str, str]],
) -> list[Entry]:
    """``values`` holds one item per fragment: per component (in ``components`` order, each
    ``(code, type)`` of the component's own parameter), the list of that component's values
    in the fragment. A fragment missing a component gives no entry."""
    entries: list[Entry] = []
    for fragment in values:
        if not isinstance(fragment, Sequence) or len(fragment) != len(components):
            skip(code, fragment, "not one list of values per component")
            continue
        forms: list[list[str]] = []
        parts: list[Entry] = []
        complete = True
        for position, ((_, kind), found) in enumerate(zip(components, fragment, strict=True)):
            if kind in ORDERED_TYPES:
                found_parts = _parts(code, kind, position, found, context)
                parts += found_parts
                complete = complete and bool(found_parts)
            else:
                found_forms = _forms(code, kind, found, context)
                forms.append(found_forms)
                complete = complete and bool(found_forms)
        if not complete:
            continue
        entry: Entry = {"p": code}
        if forms:
            keys = list(dict.fromkeys("$".join(p) for p in itertools.product(*forms)))
            if len(keys) > MAX_COMBINATIONS:
                skip(code, fragment, f"more than {MAX_COMBINATIONS} combinations")
                continue
            entry[COMPOSITE_KEYS] = keys
        if parts:
            if len(parts) > MAX_COMBINATIONS:
                skip(code, fragment, f"more than {MAX_COMBINATIONS} ordered values")
                continue
            entry[COMPOSITE_PARTS] = parts
        entries.append(entry)
    return entries


def _parts(
    code: str, kind: str, position: int, values: Any, context: ExtractContext
) -> list[Entry]:
    """The sub-entries of an ordered component: its own type's entries, compacted."""
    extractor = _ORDERED[kind]
    parts: list[Entry] = []
    for entry in extractor(code, values if isinstance(values, list) else [values], context):
        part: Entry = {COMPONENT: position}
        part.update((k, v) for k, v in entry.items() if k not in _DROPPED and v is not None)
        if part not in parts:
            parts.append(part)
    return parts


def _forms(code: str, kind: str, values: Any, context: ExtractContext) -> list[str]:
    form = _FORMS.get(kind)
    if form is None:
        skip(code, kind, "not a component type this server indexes")
        return []
    forms: list[str] = []
    for value in values if isinstance(values, list) else [values]:
        try:
            found = form(code, value, context)
        except FhirError as exc:
            skip(code, value, str(exc))
            continue
        forms += found
    return list(dict.fromkeys(forms))


def _token(code: str, value: Any, context: ExtractContext) -> list[str]:
    forms: list[str] = []
    for entry in token.extract(code, [value], context):
        if entry["c"] is not None:
            forms += [f"{entry['s'] or ''}|{entry['c']}", entry["c"]]
    return forms


def _string(code: str, value: Any, context: ExtractContext) -> list[str]:
    return [entry["v"] for entry in string.extract(code, [value], context)]


def _reference(code: str, value: Any, context: ExtractContext) -> list[str]:
    return [e["r"] for e in reference.extract(code, [value], context) if "r" in e]


def _uri(code: str, value: Any, context: ExtractContext) -> list[str]:
    uri = text(value)
    if uri is None:
        raise errors.invalid("not a uri")
    return [uri]


_FORMS: dict[str, Callable[[str, Any, ExtractContext], list[str]]] = {
    "token": _token,
    "string": _string,
    "reference": _reference,
    "uri": _uri,
}

_ORDERED: dict[str, Callable[[str, list[Any], ExtractContext], list[Entry]]] = {
    "number": number.extract,
    "quantity": quantity.extract,
    "date": date.extract,
}
