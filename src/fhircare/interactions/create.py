"""create: ``POST [base]/[type]``. https://hl7.org/fhir/R4/http.html#create

The server assigns the id and ignores one in the body, as the spec requires.
"""

from __future__ import annotations

from fhircare.fhir import errors
from fhircare.fhir.ids import new_id, now
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.resource_body import parse_resource, stored_form
from fhircare.interactions.response import write_response
from fhircare.storage.protocol import Write


async def create(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None
    if "if-none-exist" in request.headers:
        raise errors.unsupported("Conditional create (If-None-Exist) is not supported yet")
    resource = parse_resource(request.body, request.resource_type, context.limits)
    id, moment = new_id(), now()
    body = stored_form(resource, id, 1, moment)
    stored = await context.store.commit(Write(request.resource_type, id, 1, moment, "POST", body))
    return write_response(request, stored, 201, f"Created {request.resource_type}/{id}")
