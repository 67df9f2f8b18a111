"""``Patient/$everything``: https://hl7.org/fhir/R4/patient-operation-everything.html

``GET|POST [base]/Patient/[id]/$everything`` answers a ``searchset`` Bundle of the patient,
every resource in its Patient compartment and the resources those refer to that support
them; ``GET|POST [base]/Patient/$everything`` does the same for every patient. Parameters
(``everything/params.py``): ``start``/``end`` (care dates), ``_since``, ``_type``, ``_count``.

- The patient comes first, on the first page (search.mode ``match``), when ``_type`` and
  ``_since`` let it; 404 when it never existed, 410 when it is deleted.
- The compartment (``compartment.py``) is one system-level store query per page, in key
  order (``Type/id``), as matches. Pages are the store's keyset pages with the watermark of
  the first page, as search pages are: walking every ``next`` link lists each resource that
  stays in the compartment exactly once while others write; one added after the first page
  is not listed.
- Each page adds the supporting resources its matches refer to (search.mode ``include``),
  read by key; like ``_include``, a resource referred to from two pages is on
  both. ``_type`` limits these too (HAPI does the same); ``_since`` and the care dates do
  not, since they support the records shown. More than ``Limits.max_included`` on one page
  is 400 ``too-costly`` (a smaller ``_count`` helps).
- ``self`` and ``next`` are GET URLs carrying the parameters (a POST's too), plus an
  opaque ``_cursor``; unknown parameters are left out of them.
- ``total`` counts the matches (the patient and its compartment), as HAPI's does, and is
  on every page; the type-level operation leaves it out, as counting every patient's
  records on every page would cost a scan of them.

So one page of the instance-level operation costs: a read of the patient, the page query
(the store's keyset page: its find, the watermark on a first page and the look for
resources changed after it), the count for ``total`` unless the first page holds every
match, and one concurrent read by key per supporting resource.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from fhircare.care.compartment import (
    PATIENT,
    Scope,
    compartment_query,
    supporting_keys,
)
from fhircare.care.everything.params import EverythingParams, format_params, parse_params
from fhircare.fhir import bundles, errors, jsonio
from fhircare.interactions.current import live_version
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.search import sort_values
from fhircare.storage.protocol import Position, StoredVersion

OPERATION = "$everything"
_START = ""
"""The cursor key before every resource: the first page showed the patient alone."""


async def everything(context: Context, request: FhirRequest) -> FhirResponse:
    params = parse_params(context, request)
    patient = None
    if request.id is not None:
        patient = await live_version(context, PATIENT, request.id)
    scope = Scope(
        request.id, params.type_set, params.care_start, params.care_end, params.since_instant
    )
    show_patient = patient is not None and _wanted(patient, scope)
    first_patient = show_patient and params.cursor is None and params.count > 0
    room = params.count - 1 if first_patient else params.count
    as_of, after = _position(params.cursor)
    query = compartment_query(context.registry, scope, room + 1, after, as_of)
    page: list[StoredVersion] = []
    next_cursor = None
    if query is not None and params.count:
        found = await context.store.search_page(query)
        page = found.versions[:room]
        if len(found.versions) > room:
            last = found.positions[room - 1].key if room else _START
            next_cursor = sort_values.cursor(found.as_of, (), last)
    matches = ([patient] if first_patient and patient is not None else []) + page
    total = None
    if patient is not None and params.cursor is None and next_cursor is None and params.count:
        total = len(matches)  # one page holds them all: no count needed
    elif patient is not None:
        total = int(show_patient) + (await context.store.count(query) if query else 0)
    base = request.base_url
    entries = [_entry(base, v, "match") for v in matches]
    supporting = await _supporting(context, params, matches, base)
    entries += [_entry(base, v, "include") for v in supporting]
    if params.unknown:
        entries.append(bundles.ignored_parameters_entry("$everything", params.unknown))
    instance = f"/{request.id}" if request.id is not None else ""
    path = f"{base}/{PATIENT}{instance}/{OPERATION}"
    links = [("self", _link(path, params, params.cursor))]
    if next_cursor is not None:
        links.append(("next", _link(path, params, next_cursor)))
    return FhirResponse(200, bundles.bundle("searchset", entries, links, total))


def _wanted(patient: StoredVersion, scope: Scope) -> bool:
    """Whether ``_type`` and ``_since`` let the patient itself in."""
    since = scope.since
    return scope.wants(PATIENT) and (since is None or patient.last_updated >= since)


def _position(cursor: str | None) -> tuple[int | None, Position | None]:
    """The watermark and keyset position of ``_cursor`` (None, None on a first page)."""
    if cursor is None:
        return None, None
    try:
        as_of, _, key = sort_values.parse_cursor(cursor, 0)
    except sort_values.BadCursor as error:
        raise errors.invalid(
            f"_cursor is not a paging cursor of $everything ({error})", "_cursor"
        ) from None
    return as_of, None if key == _START else Position((), key)


async def _supporting(
    context: Context, params: EverythingParams, matches: list[StoredVersion], base_url: str
) -> list[StoredVersion]:
    """The supporting resources ``matches`` refer to, each once, in key order: read by key
    (the one lookup every store serves from an index, as ``_include`` reads them), all at
    once."""
    resources = [jsonio.loads(v.body) for v in matches if v.body is not None]
    keys = supporting_keys(context.registry, resources, base_url or None, params.type_set)
    limit = context.limits.max_included
    if len(keys) > limit:
        raise errors.invalid(
            f"This page refers to {len(keys)} supporting resources, more than {limit}; "
            "ask for a smaller _count",
            "_count",
            code="too-costly",
        )
    found = await asyncio.gather(*(context.store.read(kind, id) for kind, id in keys))
    return [version for version in found if version is not None and not version.deleted]


def _entry(base_url: str, version: StoredVersion, mode: str) -> bytes:
    fields = {
        "fullUrl": f"{base_url}/{version.resource_type}/{version.id}",
        "search": {"mode": mode},
    }
    return bundles.entry(fields, version.body)


def _link(path: str, params: EverythingParams, cursor: str | None) -> str:
    return f"{path}?{urlencode(format_params(params, cursor))}"
