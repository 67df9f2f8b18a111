"""Conditional delete: ``DELETE [base]/[type]?[search query]``.

https://hl7.org/fhir/R4/http.html#cdelete. No match: 200 with an informational outcome,
as a delete of an absent resource. One match: it is deleted (``If-Match`` checked against
it). Several: 412 when the ``conditional_delete`` setting is ``single`` (the default);
when it is ``multiple``, each is deleted, up to ``max_count`` of them (more is 412
``too-costly``, nothing deleted). Deleting several is not atomic: each is its own delete.
"""

from __future__ import annotations

from dataclasses import replace

from fhircare.fhir import errors, outcomes
from fhircare.interactions.conditional import canonical, matching, several, url_condition
from fhircare.interactions.delete import delete
from fhircare.interactions.request import Context, FhirRequest, FhirResponse


async def conditional_delete(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None
    parsed = url_condition(context, request, "delete")
    multiple = context.limits.conditional_delete == "multiple"
    most = context.limits.max_count if multiple else 1
    found = await matching(context, parsed, request.base_url, most + 1)
    condition = canonical(parsed)[:200]
    if not found:
        return FhirResponse(200, outcomes.information(f"No resource matches '{condition}'"))
    if len(found) == 1:
        return await delete(context, replace(request, id=found[0].id))
    if not multiple:
        raise several(parsed, "delete")
    if len(found) > most:
        message = (
            f"The condition '{condition}' matches more than {most} resources, the most one "
            "conditional delete removes; nothing was deleted"
        )
        raise errors.FhirError(errors.Category.PRECONDITION, [errors.Issue("too-costly", message)])
    if "if-match" in request.headers:
        raise errors.precondition(
            f"If-Match names one version but the condition matches {len(found)} resources"
        )
    for match in found:
        await delete(context, replace(request, id=match.id))
    names = ", ".join(f"{m.resource_type}/{m.id}" for m in found)
    return FhirResponse(200, outcomes.information(f"Deleted {len(found)} resources: {names}"))
