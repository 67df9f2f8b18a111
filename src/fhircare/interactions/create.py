"""create: ``POST [base]/[type]``, also conditional with ``If-None-Exist``.

https://hl7.org/fhir/R4/http.html#create and #ccreate. The server assigns the id and
ignores one in the body, as the spec requires. With ``If-None-Exist: [search query]``
nothing is created when one resource matches (200 with that resource), and several
matches are 412; the "none" case holds the condition's claim (``conditional.py``).
"""

from __future__ import annotations

from typing import Any

from fhircare.fhir import timing
from fhircare.fhir.ids import new_id
from fhircare.interactions.conditional import parse_condition, settled_matches, several
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.resource_body import new_version, parse_resource
from fhircare.interactions.response import write_response


async def create(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None
    resource = parse_resource(request.body, request.resource_type, context.limits)
    condition = request.headers.get("if-none-exist")
    if condition is None:
        return await _create(context, request, resource)
    condition = condition.removeprefix(f"{request.resource_type}?")
    parsed = parse_condition(context, request.resource_type, condition)
    async with settled_matches(context, parsed, request.base_url) as found:
        if not found:
            return await _create(context, request, resource)
    if len(found) > 1:
        raise several(parsed, "create")
    message = f"{found[0].resource_type}/{found[0].id} matches If-None-Exist; nothing created"
    return write_response(request, found[0], 200, message)


async def _create(context: Context, request: FhirRequest, resource: dict[str, Any]) -> FhirResponse:
    assert request.resource_type is not None
    id = request.new_id or new_id()
    write = new_version(context, request, resource, id, 1, "POST")
    with timing.measure("store"):
        stored = await context.store.commit(write)
    await context.written(request.resource_type)
    await context.rules.follow(context, [stored])
    return write_response(request, stored, 201, f"Created {request.resource_type}/{id}")
