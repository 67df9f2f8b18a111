"""uri parameters: ``v`` the URI exactly as written. https://hl7.org/fhir/R4/search.html#uri"""

from __future__ import annotations

from typing import Any

from fhircare.search.entries import Entry
from fhircare.search.extract.context import ExtractContext, skip, text


def extract(code: str, values: list[Any], context: ExtractContext) -> list[Entry]:
    """One entry per uri, url or canonical string; anything else is logged and skipped."""
    entries: list[Entry] = []
    for value in values:
        uri = text(value)
        if uri is None or any(ch.isspace() for ch in uri):
            skip(code, value, "not a uri")
            continue
        entries.append({"p": code, "v": uri})
    return entries
