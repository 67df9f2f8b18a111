"""Writing what a remote sent into the local store, through the same interactions as REST
writes (https://hl7.org/fhir/R4/http.html#update, #delete), so validation, versioning and
indexing apply, with ``If-Match`` so that a local edit made meanwhile is never overwritten."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhircare.fhir import jsonio
from fhircare.fhir.errors import FhirError
from fhircare.fhir.ids import etag, parse_etag
from fhircare.interactions.delete import delete
from fhircare.interactions.request import Context, FhirRequest
from fhircare.interactions.update import update


@dataclass(frozen=True)
class Written:
    """The local version a write left (None: nothing there any more)."""

    version: int | None


def _headers(expected: int | None) -> dict[str, str]:
    return {} if expected is None else {"if-match": etag(expected)}


def field_of(error: FhirError) -> str:
    """The first FHIRPath expression an error names, for a report."""
    for issue in error.issues:
        if issue.expression:
            return issue.expression[0]
    return ""


async def put(
    context: Context, resource: dict[str, Any], expected: int | None, base_url: str = ""
) -> Written:
    """Write ``resource`` as the next local version; ``expected`` is the version the
    caller saw (0: none must exist yet; None: whatever is there). Raises ``FhirError``:
    412 when the resource moved on, 400/422 when it is not valid here."""
    request = FhirRequest(
        "PUT",
        resource["resourceType"],
        resource["id"],
        headers=_headers(expected),
        body=jsonio.dumps(resource),
        base_url=base_url,
    )
    response = await update(context, request)
    return Written(parse_etag(response.headers.get("ETag", "")))


async def remove(
    context: Context, resource_type: str, id: str, expected: int | None, base_url: str = ""
) -> Written:
    """Delete the local resource (a tombstone version), if it is still ``expected``."""
    request = FhirRequest(
        "DELETE", resource_type, id, headers=_headers(expected), base_url=base_url
    )
    response = await delete(context, request)
    return Written(parse_etag(response.headers.get("ETag", "")))
