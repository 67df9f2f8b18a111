"""create: ``POST [base]/[type]``. https://hl7.org/fhir/R4/http.html#create

The server assigns the id and ignores one in the body, as the spec requires.
"""

from __future__ import annotations

from fhircare.fhir import errors
from fhircare.fhir.ids import new_id
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.resource_body import new_version, parse_resource
from fhircare.interactions.response import write_response


async def create(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None
    if "if-none-exist" in request.headers:
        raise errors.unsupported("Conditional create (If-None-Exist) is not supported yet")
    resource = parse_resource(request.body, request.resource_type, context.limits)
    id = new_id()
    stored = await context.store.commit(new_version(context, request, resource, id, 1, "POST"))
    await context.search_parameters.written(request.resource_type)
    return write_response(request, stored, 201, f"Created {request.resource_type}/{id}")
