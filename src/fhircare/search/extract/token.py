"""token parameters: ``s`` system, ``c`` code, ``t`` folded text, ``ot`` identifier type.

https://hl7.org/fhir/R4/search.html#token: Coding and CodeableConcept (one entry per coding;
``CodeableConcept.text`` as an entry of its own with only ``t``), Identifier (``ot`` from each
type coding, for ``:of-type``), ContactPoint (value only: no system, as the spec's table has
none), and code, id, string, uri and boolean primitives (no system).
"""

from __future__ import annotations

from typing import Any

from fhircare.search.entries import Entry
from fhircare.search.extract.context import ExtractContext, fields, skip, text
from fhircare.search.normalize import fold

CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
_IDENTIFIER_KEYS = frozenset({"id", "extension", "use", "type", "system", "value", "period"})


def extract(code: str, values: list[Any], context: ExtractContext) -> list[Entry]:
    """Entries for every coded value; other shapes are logged and skipped."""
    entries: list[Entry] = []
    for value in values:
        found = _entries(code, value)
        if not found:
            skip(code, value, "no code, value or text to index as a token")
        entries += found
    return entries


def _entries(code: str, value: Any) -> list[Entry]:
    if isinstance(value, bool):
        return [_entry(code, None, "true" if value else "false")]
    if isinstance(value, str):
        return [_entry(code, None, value)] if text(value) else []
    if not isinstance(value, dict):
        return []
    if "coding" in value or ("text" in value and "value" not in value and "div" not in value):
        return _codeable_concept(code, value)
    if "code" in value and "value" not in value:
        return _coding(code, value)
    if "value" in value and fields(value) <= _IDENTIFIER_KEYS | {"rank", "assigner"}:
        system = value.get("system")
        if (isinstance(system, str) and system in CONTACT_SYSTEMS) or "rank" in value:
            return _contact_point(code, value)
        return _identifier(code, value)
    return []


def _entry(code: str, system: str | None, value: str | None, display: Any = None) -> Entry:
    entry: Entry = {"p": code, "s": system, "c": value}
    shown = text(display)
    if shown is not None and fold(shown):
        entry["t"] = fold(shown)
    return entry


def _coding(code: str, coding: Any) -> list[Entry]:
    if not isinstance(coding, dict) or text(coding.get("code")) is None:
        return []
    return [_entry(code, text(coding.get("system")), coding["code"], coding.get("display"))]


def _codeable_concept(code: str, concept: dict[str, Any]) -> list[Entry]:
    codings = concept.get("coding")
    entries = [e for c in codings for e in _coding(code, c)] if isinstance(codings, list) else []
    described = text(concept.get("text"))
    if described is not None and fold(described):
        entries.append(_entry(code, None, None, described))
    return entries


def _identifier(code: str, identifier: dict[str, Any]) -> list[Entry]:
    value = text(identifier.get("value"))
    if value is None:
        return []
    entry = _entry(code, text(identifier.get("system")), value)
    kind = identifier.get("type")
    if isinstance(kind, dict):
        described = text(kind.get("text"))
        if described is not None and fold(described):
            entry["t"] = fold(described)
        codings = kind.get("coding")
        types = [
            f"{text(c.get('system')) or ''}|{c['code']}"
            for c in (codings if isinstance(codings, list) else [])
            if isinstance(c, dict) and text(c.get("code")) is not None
        ]
        if types:
            return [{**entry, "ot": of_type} for of_type in types]
    return [entry]


def _contact_point(code: str, contact: dict[str, Any]) -> list[Entry]:
    value = text(contact.get("value"))
    return [_entry(code, None, value)] if value is not None else []
