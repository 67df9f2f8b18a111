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


# A write sequence is a 64-bit integer in the store (BSON has no larger one).
_MAX_CURSOR = 2**63 - 1


def _digits(raw: str) -> str | None:
    """``raw`` without leading zeros if it is ASCII digits only (``str.isdigit`` alone
    also takes '²', which ``int`` refuses), else None."""
    if not raw.isascii() or not raw.isdigit():
        return None
    return raw.lstrip("0") or "0"


def page_size(context: Context, request: FhirRequest) -> int:
    raw = request.param("_count")
    if raw is None:
        return context.limits.default_count
    digits = _digits(raw)
    if digits is None:
        raise errors.invalid(f"_count must be a whole number, not '{raw[:20]}'", "_count")
    if len(digits) > len(str(context.limits.max_count)):  # int() refuses 4,300+ digits
        return context.limits.max_count
    return min(int(digits), context.limits.max_count)


def cursor(request: FhirRequest) -> int | None:
    raw = request.param(CURSOR)
    if raw is None:
        return None
    digits = _digits(raw)
    if digits is None or len(digits) > len(str(_MAX_CURSOR)) or int(digits) > _MAX_CURSOR:
        raise errors.invalid(f"{CURSOR} '{raw[:20]}' is not a paging cursor", CURSOR)
    return int(digits)


def page_url(request: FhirRequest, path: str, next_cursor: int | None = None) -> str:
    """The URL of this page (or of the page after ``next_cursor``)."""
    query = [(k, v) for k, v in request.query if k != CURSOR]
    if next_cursor is not None:
        query.append((CURSOR, str(next_cursor)))
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{request.base_url}/{path}{suffix}" if path else f"{request.base_url}{suffix}"
