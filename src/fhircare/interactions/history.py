"""history at instance, type and system level. https://hl7.org/fhir/R4/http.html#history

Newest first; deletions appear as entries with ``request.method`` DELETE and no resource.
Supports ``_since``, ``_count`` and next links.
"""

from __future__ import annotations

from fhircare.fhir import bundles
from fhircare.fhir.ids import etag, format_instant, parse_instant
from fhircare.interactions.paging import cursor, page_size, page_url
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.storage.protocol import HistoryQuery, StoredVersion

_STATUS = {"POST": "201 Created", "PUT": "200 OK", "PATCH": "200 OK", "DELETE": "204 No Content"}


async def history(context: Context, request: FhirRequest) -> FhirResponse:
    since_text = request.param("_since")
    since = parse_instant(since_text, "_since") if since_text else None
    count = page_size(context, request)
    query = HistoryQuery(request.resource_type, request.id, since, cursor(request), count + 1)
    versions = await context.store.history(query) if count else []
    total = None if context.narrowed else await context.store.count_history(query)
    path = "/".join(p for p in (request.resource_type, request.id, "_history") if p)
    links = [("self", page_url(request, path, query.before_seq))]
    if len(versions) > count:
        versions = versions[:count]
        links.append(("next", page_url(request, path, versions[-1].seq)))
    entries = [_entry(request.base_url, v) for v in versions]
    return FhirResponse(200, bundles.bundle("history", entries, links, total))


def _entry(base_url: str, version: StoredVersion) -> bytes:
    relative = f"{version.resource_type}/{version.id}"
    method = version.method if version.method in _STATUS else "PUT"
    return bundles.entry(
        {
            "fullUrl": f"{base_url}/{relative}",
            "request": {
                "method": method,
                "url": version.resource_type if method == "POST" else relative,
            },
            "response": {
                "status": _STATUS[method],
                "etag": etag(version.version),
                "lastModified": format_instant(version.last_updated),
            },
        },
        version.body,
    )
