"""search: ``GET [base]/[type]?``, ``POST [base]/[type]/_search`` and ``GET [base]?``.

https://hl7.org/fhir/R4/http.html#search and https://hl7.org/fhir/R4/search.html.
Chains and ``_has`` are resolved here, as any client of the store would, into plain
reference predicates; the store only ever evaluates plain predicates over its index.
Pages are keyset pages on the resource key, so walking every page lists every match once.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

from fhircare.fhir import bundles, errors, jsonio
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.search_chains import resolve_clauses
from fhircare.interactions.search_includes import included
from fhircare.search.format import format as format_query
from fhircare.search.indexer import Indexer
from fhircare.search.parse import parse
from fhircare.search.request import SearchRequest
from fhircare.storage.protocol import SearchQuery, StoredVersion


async def search(context: Context, request: FhirRequest) -> FhirResponse:
    pairs = list(request.query)
    if request.method == "POST":
        pairs += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    strict = "handling=strict" in request.headers.get("prefer", "")
    parsed = parse(
        request.resource_type, pairs, context.registry.lookup, context.search_limits, strict
    )
    indexer = Indexer(context.registry, request.base_url or None)
    if any(key.code != "_id" or key.descending for key in parsed.sort):
        raise errors.unsupported(
            "_sort is supported only on _id (the default order) so far", "_sort"
        )
    predicates = await resolve_clauses(context, parsed, indexer)
    count = context.limits.default_count if parsed.count is None else parsed.count
    query = SearchQuery(parsed.resource_type, predicates, count + 1, parsed.cursor)
    page = await context.store.search(query) if count else []
    more = len(page) > count
    page = page[:count]
    total = None
    if parsed.total != "none" or count == 0:
        total = await context.store.count(query)
    entries = [_entry(request.base_url, v, "match") for v in page]
    entries += [
        _entry(request.base_url, v, "include")
        for v in await included(context, indexer, parsed, page)
    ]
    if parsed.unknown:
        entries.append(_unknown_outcome(parsed))
    links = [("self", _link(request, parsed, parsed.cursor))]
    if more and page:
        links.append(("next", _link(request, parsed, f"{page[-1].resource_type}/{page[-1].id}")))
    return FhirResponse(200, bundles.bundle("searchset", entries, links, total))


def _entry(base_url: str, version: StoredVersion, mode: str) -> bytes:
    fields = {
        "fullUrl": f"{base_url}/{version.resource_type}/{version.id}",
        "search": {"mode": mode},
    }
    return bundles.entry(fields, version.body)


def _unknown_outcome(parsed: SearchRequest) -> bytes:
    names = ", ".join(parsed.unknown)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "warning",
                "code": "not-supported",
                "diagnostics": f"Unknown search parameters were ignored: {names}",
            }
        ],
    }
    return bundles.entry({"search": {"mode": "outcome"}}, jsonio.dumps(outcome))


def _link(request: FhirRequest, parsed: SearchRequest, cursor: str | None) -> str:
    canonical = replace(parsed, cursor=cursor)
    path = request.resource_type or ""
    query = urlencode(format_query(canonical))
    base = f"{request.base_url}/{path}" if path else request.base_url
    return f"{base}?{query}" if query else base
