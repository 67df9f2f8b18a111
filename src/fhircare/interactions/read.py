"""read: ``GET [base]/[type]/[id]``. https://hl7.org/fhir/R4/http.html#read

The stored bytes are served as they are: no model is built on a read.
"""

from __future__ import annotations

from fhircare.interactions.current import live_version
from fhircare.interactions.preconditions import not_modified
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.response import version_headers


async def read(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None and request.id is not None
    stored = await live_version(context, request.resource_type, request.id)
    headers = version_headers(stored)
    if not_modified(request, stored):
        return FhirResponse(304, None, headers)
    return FhirResponse(200, stored.body, headers)
