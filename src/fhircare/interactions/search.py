"""search: ``GET [base]/[type]?``, ``POST [base]/[type]/_search`` and ``GET [base]?``.

https://hl7.org/fhir/R4/http.html#search and https://hl7.org/fhir/R4/search.html.
Chains and ``_has`` are resolved here, as any client of the store would, into plain
reference predicates; the store only ever evaluates plain predicates over its index.
Pages are keyset pages on the ``_sort`` values plus the resource key, with the store's
write sequence of the first page as a watermark (``SearchQuery.as_of``), so walking every
page lists every resource that matches throughout once, even while others write. The
``_cursor`` of a next link is opaque (``search.sort_values.cursor``).
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

from fhircare.fhir import bundles, errors, jsonio
from fhircare.fhir.subsetting import subset
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.search_chains import resolve_clauses
from fhircare.interactions.search_includes import included
from fhircare.search import sort_values
from fhircare.search.format import format as format_query
from fhircare.search.indexer import Indexer
from fhircare.search.parse import parse
from fhircare.search.request import SearchRequest
from fhircare.storage.protocol import Position, SearchQuery, StoredVersion


async def search(context: Context, request: FhirRequest) -> FhirResponse:
    pairs = list(request.query)
    if request.method == "POST":
        pairs += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    strict = "handling=strict" in request.headers.get("prefer", "")
    parsed = parse(
        request.resource_type, pairs, context.registry.lookup, context.search_limits, strict
    )
    indexer = Indexer(context.registry, request.base_url or None)
    _check_sort(context, parsed)
    as_of, after = _position(parsed)
    predicates = await resolve_clauses(context, parsed, indexer)
    count = context.limits.default_count if parsed.count is None else parsed.count
    if parsed.summary == "count":
        count = 0
    query = SearchQuery(parsed.resource_type, predicates, count + 1, after, parsed.sort, as_of)
    page: list[StoredVersion] = []
    next_cursor = None
    if count:
        found = await context.store.search_page(query)
        page = found.versions[:count]
        if len(found.versions) > count:
            last = found.positions[count - 1]
            next_cursor = sort_values.cursor(found.as_of, last.values, last.key)
    total = None
    if parsed.total != "none" or count == 0:
        total = await context.store.count(query)
    entries = [_entry(request.base_url, v, "match", parsed) for v in page]
    entries += [
        _entry(request.base_url, v, "include", parsed)
        for v in await included(context, indexer, parsed, page)
    ]
    if parsed.unknown:
        entries.append(bundles.ignored_parameters_entry("search", parsed.unknown))
    links = [("self", _link(request, parsed, parsed.cursor))]
    if next_cursor is not None:
        links.append(("next", _link(request, parsed, next_cursor)))
    return FhirResponse(200, bundles.bundle("searchset", entries, links, total))


def _check_sort(context: Context, parsed: SearchRequest) -> None:
    """Only parameters with a sort value (``search.sort_values``) can order a search."""
    for key in parsed.sort:
        if key.code in sort_values.RESOURCE_FIELDS:
            continue
        param = context.registry.lookup(parsed.resource_type, key.code)
        if param is not None and param.type in ("composite", "special"):
            raise errors.invalid(
                f"_sort: cannot sort on the {param.type} parameter {key.code}", "_sort"
            )


def _position(parsed: SearchRequest) -> tuple[int | None, Position | None]:
    """The watermark and keyset position of ``_cursor`` (None, None on a first page)."""
    if parsed.cursor is None:
        return None, None
    try:
        as_of, values, key = sort_values.parse_cursor(parsed.cursor, len(parsed.sort))
    except sort_values.BadCursor as error:
        raise errors.invalid(
            f"_cursor is not a paging cursor of this search ({error})", "_cursor"
        ) from None
    return as_of, Position(values, key)


def _entry(base_url: str, version: StoredVersion, mode: str, parsed: SearchRequest) -> bytes:
    fields = {
        "fullUrl": f"{base_url}/{version.resource_type}/{version.id}",
        "search": {"mode": mode},
    }
    body = version.body
    summary = None if parsed.summary == "false" else parsed.summary
    if body is not None and (summary or parsed.elements):
        elements = list(parsed.elements) or None
        body = jsonio.dumps(subset(jsonio.loads(body), summary, elements))
    return bundles.entry(fields, body)


def _link(request: FhirRequest, parsed: SearchRequest, cursor: str | None) -> str:
    canonical = replace(parsed, cursor=cursor)
    path = request.resource_type or ""
    query = urlencode(format_query(canonical))
    base = f"{request.base_url}/{path}" if path else request.base_url
    return f"{base}?{query}" if query else base
