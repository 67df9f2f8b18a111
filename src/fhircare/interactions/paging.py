"""``_count`` and paging links shared by history (and later search).

https://hl7.org/fhir/R4/http.html#paging. Pages are keyset pages: ``_cursor`` carries the
write sequence of the last entry shown, so walking every page lists every entry once even
while others write.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fhircare.fhir import errors
from fhircare.interactions.request import Context, FhirRequest

CURSOR = "_cursor"


def page_size(context: Context, request: FhirRequest) -> int:
    raw = request.param("_count")
    if raw is None:
        return context.limits.default_count
    if not raw.isdigit():
        raise errors.invalid(f"_count must be a whole number, not '{raw[:20]}'", "_count")
    return min(int(raw), context.limits.max_count)


def cursor(request: FhirRequest) -> int | None:
    raw = request.param(CURSOR)
    if raw is None:
        return None
    if not raw.isdigit():
        raise errors.invalid(f"{CURSOR} '{raw[:20]}' is not a paging cursor", CURSOR)
    return int(raw)


def page_url(request: FhirRequest, path: str, next_cursor: int | None = None) -> str:
    """The URL of this page (or of the page after ``next_cursor``)."""
    query = [(k, v) for k, v in request.query if k != CURSOR]
    if next_cursor is not None:
        query.append((CURSOR, str(next_cursor)))
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{request.base_url}/{path}{suffix}" if path else f"{request.base_url}{suffix}"
