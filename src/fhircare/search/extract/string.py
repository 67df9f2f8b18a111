"""string parameters: ``v`` folded for the default and ``:contains`` matches, ``x`` exact.

https://hl7.org/fhir/R4/search.html#string: case- and accent-insensitive; a HumanName or an
Address is searched by each of its parts and by its whole text.
"""

from __future__ import annotations

from typing import Any

from fhircare.search.entries import Entry
from fhircare.search.extract.context import ExtractContext, skip, text
from fhircare.search.normalize import fold

NAME_PARTS = ("prefix", "given", "family", "suffix")
ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country")


def extract(code: str, values: list[Any], context: ExtractContext) -> list[Entry]:
    """One entry per string, or per part (and whole text) of a HumanName or Address."""
    entries: list[Entry] = []
    for value in values:
        strings = _strings(value)
        if strings is None:
            skip(code, value, "not a string, HumanName or Address")
            continue
        found = [entry(code, s) for s in strings if fold(s)]
        if not found:
            skip(code, value, "no text to index")
        entries += found
    return entries


def entry(code: str, value: str) -> Entry:
    return {"p": code, "v": fold(value), "x": value}


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value] if text(value) else []
    if not isinstance(value, dict):
        return None
    parts: tuple[str, ...]
    if any(key in value for key in NAME_PARTS):
        parts = NAME_PARTS
    elif any(key in value for key in ADDRESS_PARTS):
        parts = ADDRESS_PARTS
    elif "text" in value and "coding" not in value and "div" not in value:
        parts = ()
    else:
        return None
    found = [s for key in parts for s in _texts(value.get(key))]
    whole = text(value.get("text")) or " ".join(found)
    return [*found, whole] if whole else found


def _texts(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [s for item in items if (s := text(item)) is not None]
