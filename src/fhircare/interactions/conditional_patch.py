"""Conditional patch: ``PATCH [base]/[type]?[search query]`` with a JSON Patch body.

https://hl7.org/fhir/R4/http.html#patch ("the patch interaction may be performed
conditionally"). One match: it is patched as ``PATCH [type]/[id]`` would. No match: 404.
Several: 412.
"""

from __future__ import annotations

from dataclasses import replace

from fhircare.fhir import errors
from fhircare.interactions.conditional import canonical, matching, several, url_condition
from fhircare.interactions.patch import patch
from fhircare.interactions.request import Context, FhirRequest, FhirResponse


async def conditional_patch(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None
    parsed = url_condition(context, request, "patch")
    found = await matching(context, parsed, request.base_url)
    if not found:
        raise errors.not_found(f"No resource matches '{canonical(parsed)[:200]}'")
    if len(found) > 1:
        raise several(parsed, "patch")
    return await patch(context, replace(request, id=found[0].id))
