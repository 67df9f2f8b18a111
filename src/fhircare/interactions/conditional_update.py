"""Conditional update: ``PUT [base]/[type]?[search query]``.

https://hl7.org/fhir/R4/http.html#cond-update. One match: that resource is updated (an
id in the body must be its id, else 400; ``If-Match`` is checked against it). No match:
the body is created, with its own id if it has one (update-as-create, as HAPI does) or a
new one, holding the condition's claim (``conditional.py``). Several matches: 412.
"""

from __future__ import annotations

from dataclasses import replace

from fhircare.fhir import errors
from fhircare.fhir.ids import new_id, require_valid_id
from fhircare.interactions.conditional import settled_matches, several, url_condition
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.resource_body import parse_resource
from fhircare.interactions.update import write_version


async def conditional_update(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None
    parsed = url_condition(context, request, "update")
    resource = parse_resource(request.body, request.resource_type, context.limits)
    body_id = resource.get("id")
    if body_id is not None:
        require_valid_id(body_id)
    async with settled_matches(context, parsed, request.base_url) as found:
        if not found:
            id = body_id or request.new_id or new_id()
            if body_id is not None:
                current = await context.store.read(request.resource_type, id)
                if current is not None and not current.deleted:
                    raise errors.conflict(
                        f"{request.resource_type}/{id} exists but does not match the "
                        "condition; a conditional update does not overwrite it"
                    )
            return await write_version(context, replace(request, id=id), resource, "PUT")
    if len(found) > 1:
        raise several(parsed, "update")
    match = found[0]
    if body_id is not None and body_id != match.id:
        raise errors.invalid(
            f"The body's id '{body_id}' is not the id '{match.id}' of the resource the "
            "condition matches",
            "id",
        )
    return await write_version(context, replace(request, id=match.id), resource, "PUT")
