"""composite parameters: ``k`` every normalised combination of the components, ``$``-joined.

https://hl7.org/fhir/R4/search.html#composite. One entry per resource fragment the
composite's expression selects (the Observation, or one of its components), so the parts of
one combination always come from the same fragment. Its ``k`` lists each way a query can
write the combination, so matching is equality against one element of ``k``:

- token: ``system|code`` and ``code`` (``|code`` and ``code`` when there is no system);
- quantity: ``n``, ``n|system|code``, ``n||code`` and ``n||unit``, where ``n`` is the number
  without trailing zeros or exponent (``normalize.canonical_number``); number: ``n``;
- string: folded; date: as written and its ``YYYY``, ``YYYY-MM`` and ``YYYY-MM-DD``
  prefixes (a Period: its start's and end's); reference: ``r`` as the reference parameter
  indexes it; uri: as written.

``normalize.composite_part`` normalises a query's component the same way. Comparison
prefixes on a composite's value (``code$gt5``) cannot be answered from ``k``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from fhircare.fhir import errors
from fhircare.fhir.errors import FhirError
from fhircare.search.entries import Entry
from fhircare.search.extract import reference, string, token
from fhircare.search.extract.context import ExtractContext, skip, text
from fhircare.search.normalize import canonical_number, date_range, decimal_text

MAX_COMBINATIONS = 256


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
        parts = [
            _forms(code, kind, found, context)
            for (_, kind), found in zip(components, fragment, strict=True)
        ]
        if not all(parts):
            continue
        keys = list(dict.fromkeys("$".join(p) for p in itertools.product(*parts)))
        if len(keys) > MAX_COMBINATIONS:
            skip(code, fragment, f"more than {MAX_COMBINATIONS} combinations")
            continue
        entries.append({"p": code, "k": keys})
    return entries


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


def _quantity(code: str, value: Any, context: ExtractContext) -> list[str]:
    if not isinstance(value, dict):
        return [canonical_number(decimal_text(value))]
    if "value" not in value:
        raise errors.invalid("a quantity without a value")
    number = canonical_number(decimal_text(value["value"]))
    system, unit_code, unit = (text(value.get(k)) for k in ("system", "code", "unit"))
    forms = [number]
    if system and unit_code:
        forms.append(f"{number}|{system}|{unit_code}")
    forms += [f"{number}||{u}" for u in (unit_code, unit) if u]
    return forms


def _number(code: str, value: Any, context: ExtractContext) -> list[str]:
    return [canonical_number(decimal_text(value))]


def _date(code: str, value: Any, context: ExtractContext) -> list[str]:
    if isinstance(value, dict) and value.keys() & {"start", "end"}:
        ends = [value.get("start"), value.get("end")]
        return [f for end in ends if isinstance(end, str) for f in _date(code, end, context)]
    if not isinstance(value, str):
        raise errors.invalid("not a date, dateTime or Period")
    date_range(value)
    return list(dict.fromkeys(value[:n] for n in (4, 7, 10, len(value)) if n <= len(value)))


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
    "quantity": _quantity,
    "number": _number,
    "date": _date,
    "reference": _reference,
    "uri": _uri,
}
