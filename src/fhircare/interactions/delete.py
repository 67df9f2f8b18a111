"""delete: ``DELETE [base]/[type]/[id]``. https://hl7.org/fhir/R4/http.html#delete

A delete writes a tombstone version; reads then answer 410. Deleting a deleted or
never-existing resource changes nothing and succeeds, as the spec allows.
"""

from __future__ import annotations

from fhircare.fhir import errors, outcomes, timing
from fhircare.fhir.ids import now
from fhircare.interactions.preconditions import check_if_match
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.response import version_headers
from fhircare.storage.protocol import VersionConflict, Write

RETRIES = 5


async def delete(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None and request.id is not None
    name = f"{request.resource_type}/{request.id}"
    for _ in range(RETRIES):
        current = await context.store.read(request.resource_type, request.id)
        check_if_match(request, current)
        if current is None or current.deleted:
            headers = {} if current is None else version_headers(current)
            return FhirResponse(200, outcomes.information(f"{name} is not present"), headers)
        write = Write(request.resource_type, request.id, current.version + 1, now(), "DELETE", None)
        try:
            with timing.measure("store"):
                stored = await context.store.commit(write)
        except VersionConflict:
            if "if-match" in request.headers:
                raise errors.precondition(f"{name} changed while this delete ran") from None
            continue
        await context.written(request.resource_type)
        return FhirResponse(200, outcomes.information(f"Deleted {name}"), version_headers(stored))
    raise errors.conflict(f"{name} is being changed by others; try again")
