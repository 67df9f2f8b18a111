"""vread: ``GET [base]/[type]/[id]/_history/[vid]``. https://hl7.org/fhir/R4/http.html#vread"""

from __future__ import annotations

from fhircare.fhir import errors
from fhircare.interactions.current import gone
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.response import version_headers


async def vread(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None and request.id is not None
    name = f"{request.resource_type}/{request.id}/_history/{request.version}"
    version = request.version or ""
    if not (version.isascii() and version.isdigit() and len(version) <= 18):
        raise errors.not_found(f"{name[:200]} is not known: version ids are whole numbers")
    stored = await context.store.vread(request.resource_type, request.id, int(version))
    if stored is None:
        raise errors.not_found(f"{name} is not known")
    if stored.deleted:
        raise gone(f"{name} is a deletion", stored)
    return FhirResponse(200, stored.body, version_headers(stored))
