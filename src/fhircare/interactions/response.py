"""Response headers and the ``Prefer: return=`` choice, shared by every write.

https://hl7.org/fhir/R4/http.html#ops (ETag, Last-Modified, Location) and
https://hl7.org/fhir/R4/http.html#return (Prefer).
"""

from __future__ import annotations

from fhircare.fhir import outcomes
from fhircare.fhir.ids import etag, format_http_date
from fhircare.interactions.request import FhirRequest, FhirResponse
from fhircare.storage.protocol import StoredVersion


def version_headers(stored: StoredVersion) -> dict[str, str]:
    return {"ETag": etag(stored.version), "Last-Modified": format_http_date(stored.last_updated)}


def location(request: FhirRequest, stored: StoredVersion) -> str:
    return f"{request.base_url}/{stored.resource_type}/{stored.id}/_history/{stored.version}"


def write_response(
    request: FhirRequest, stored: StoredVersion, status: int, message: str
) -> FhirResponse:
    """The answer to a create, update or patch, shaped by ``Prefer: return=``."""
    headers = {**version_headers(stored), "Location": location(request, stored)}
    prefer = request.headers.get("prefer", "")
    if "return=minimal" in prefer:
        return FhirResponse(status, None, headers)
    if "return=OperationOutcome" in prefer:
        return FhirResponse(status, outcomes.information(message), headers)
    return FhirResponse(status, stored.body, headers)
