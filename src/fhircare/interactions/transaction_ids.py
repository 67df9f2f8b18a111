"""The ids of a transaction's resources, known before any entry runs.

https://hl7.org/fhir/R4/http.html#trules: a POST entry's resource gets a new id, and its
fullUrl (a placeholder or any other) then means ``Type/newid``; a PUT entry's placeholder
fullUrl means the ``Type/id`` of its url. A conditional entry (POST with ``ifNoneExist``,
PUT ``Type?query``) means the resource its condition matches, or the one it will create:
its condition is claimed first (``conditional.claimed``, held on ``stack`` until the
transaction is over) so that the match cannot change before the commit. Conditions are
claimed in one order (sorted) so that two transactions never wait on each other.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from urllib.parse import urlencode

from fhircare.fhir.errors import FhirError
from fhircare.fhir.ids import new_id
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.interactions.bundle_entries import BundleEntry
from fhircare.interactions.bundle_references import is_placeholder
from fhircare.interactions.bundle_responses import in_entry
from fhircare.interactions.conditional import (
    canonical,
    claimed,
    matching,
    parse_condition,
    several,
)
from fhircare.interactions.request import Context
from fhircare.search.request import SearchRequest

_NOT_CRITERIA = ("_format", "_pretty")


@dataclass
class Ids:
    """``references``: fullUrl → ``Type/id``; ``new_ids``: entry index → the id its
    interaction gives a resource it creates."""

    references: dict[str, str] = field(default_factory=dict)
    new_ids: dict[int, str] = field(default_factory=dict)


async def assign_ids(
    context: Context, entries: list[BundleEntry], base_url: str, stack: AsyncExitStack
) -> Ids:
    ids = Ids()
    conditional: list[tuple[str, BundleEntry, SearchRequest]] = []
    for entry in entries:
        try:
            condition = _condition(context, entry)
        except FhirError as error:
            raise in_entry(error, entry) from None
        if condition is not None:
            conditional.append((canonical(condition), entry, condition))
        elif entry.method == "POST" and len(entry.segments) == 1:
            ids.new_ids[entry.index] = new_id()
            _refer(ids, entry, entry.segments[0], ids.new_ids[entry.index])
        elif entry.method == "PUT" and entry.target and is_placeholder(entry.full_url):
            _refer(ids, entry, *entry.target)
    for name, entry, condition in sorted(conditional, key=lambda c: (c[0], c[1].index)):
        try:
            await stack.enter_async_context(claimed(context, name))
            found = await matching(context, condition, base_url)
        except FhirError as error:
            raise in_entry(error, entry) from None
        if len(found) > 1:
            interaction = "create" if entry.method == "POST" else "update"
            raise in_entry(several(condition, interaction), entry)
        if found:
            _refer(ids, entry, found[0].resource_type, found[0].id)
            continue
        body_id = (entry.resource or {}).get("id") if entry.method == "PUT" else None
        ids.new_ids[entry.index] = body_id if isinstance(body_id, str) else new_id()
        _refer(ids, entry, entry.segments[0], ids.new_ids[entry.index])
    return ids


def _condition(context: Context, entry: BundleEntry) -> SearchRequest | None:
    """The condition of a conditional create or update entry, if it is one."""
    if len(entry.segments) != 1 or entry.segments[0] not in RESOURCE_TYPES:
        return None
    resource_type = entry.segments[0]
    if entry.method == "POST" and "if-none-exist" in entry.headers:
        query = entry.headers["if-none-exist"].removeprefix(f"{resource_type}?")
        return parse_condition(context, resource_type, query)
    if entry.method == "PUT":
        pairs = [(k, v) for k, v in entry.query if k not in _NOT_CRITERIA]
        if pairs:
            return parse_condition(context, resource_type, urlencode(pairs))
    return None


def _refer(ids: Ids, entry: BundleEntry, resource_type: str, id: str) -> None:
    if entry.full_url:
        ids.references[entry.full_url] = f"{resource_type}/{id}"
