"""reference parameters: ``r`` the normalised reference, ``ty`` its type, ``is``/``iv`` identifier.

https://hl7.org/fhir/R4/search.html#reference and references.html: ``Type/id`` (its
``_history`` dropped; this server's absolute URLs made relative), other servers' URLs,
``#id`` and ``urn:uuid:`` kept as written; a logical reference (Reference.identifier) for
``:identifier``. A canonical (or uri) is an identifier, not a location: it is kept as
written even on this server's base, and ``url|version`` is indexed with and without its
version, so a search without a version finds every version (references.html#canonical).
"""

from __future__ import annotations

from typing import Any

from fhircare.fhir import errors
from fhircare.search.entries import Entry
from fhircare.search.extract.context import ExtractContext, collect, fields, text
from fhircare.search.normalize import reference_key, split_canonical

_REFERENCE_KEYS = frozenset({"id", "extension", "reference", "type", "identifier", "display"})


def extract(code: str, values: list[Any], context: ExtractContext) -> list[Entry]:
    """Entries for each Reference, canonical or uri; other shapes are logged and skipped."""
    return collect(
        code,
        values,
        lambda value: _entries(code, value, context),
        "not a Reference, canonical or uri",
        "a Reference with neither reference nor identifier",
    )


def _entries(code: str, value: Any, context: ExtractContext) -> list[Entry] | None:
    if isinstance(value, str):
        url, version = split_canonical(value)
        entries = [_literal(code, url, None, context, canonical=True)]
        if version is not None:
            entries.append(_literal(code, value, None, context, canonical=True))
        return entries
    if not isinstance(value, dict) or not fields(value) <= _REFERENCE_KEYS:
        return None
    declared = text(value.get("type"))
    entry: Entry
    if "reference" in value:
        entry = _literal(code, value["reference"], declared, context)
    elif declared is not None:
        entry = {"p": code, "ty": declared}
    else:
        entry = {"p": code}
    identifier = value.get("identifier")
    if isinstance(identifier, dict) and text(identifier.get("value")) is not None:
        entry["is"] = text(identifier.get("system"))
        entry["iv"] = identifier["value"]
    return [entry] if "r" in entry or "iv" in entry else []


def _literal(
    code: str,
    reference: Any,
    declared: str | None,
    context: ExtractContext,
    canonical: bool = False,
) -> Entry:
    if not isinstance(reference, str):
        raise errors.invalid("the reference is not a string")
    key, kind = reference_key(reference, None if canonical else context.base_url)
    if canonical:
        key = reference
    if kind is None and key.startswith("#"):
        kind = context.contained.get(key[1:])
    entry: Entry = {"p": code, "r": key}
    if kind or declared:
        entry["ty"] = kind or declared
    return entry
