"""patch: ``PATCH [base]/[type]/[id]`` with a JSON Patch (RFC 6902) document.

https://hl7.org/fhir/R4/http.html#patch. The patched resource is validated like any
update. A malformed patch document is a 400; a patch that cannot be applied (a failed
``test``, a missing path) is a 422, as the spec's "processing" failure.
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from fhircare.fhir import errors, jsonio
from fhircare.interactions.current import live_version
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.resource_body import check_resource
from fhircare.interactions.update import write_version


async def patch(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None and request.id is not None
    operations = _patch_document(request.body)
    current = await live_version(context, request.resource_type, request.id)
    assert current.body is not None
    try:
        patched: Any = operations.apply(jsonio.loads(current.body))
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise errors.processing(f"The patch cannot be applied: {exc}") from None
    if isinstance(patched, dict) and patched.get("id") != request.id:
        raise errors.invalid("A patch may not change the resource's id", "id")
    resource = check_resource(patched, request.resource_type, context.limits)
    return await write_version(context, request, resource, "PATCH")


def _patch_document(body: bytes) -> jsonpatch.JsonPatch:
    document = jsonio.loads(body)
    if not isinstance(document, list) or not all(isinstance(op, dict) for op in document):
        raise errors.invalid("A JSON Patch body is an array of operation objects", code="structure")
    try:
        return jsonpatch.JsonPatch(document)
    except (jsonpatch.InvalidJsonPatch, jsonpointer.JsonPointerException, KeyError) as exc:
        raise errors.invalid(f"Invalid JSON Patch: {exc}", code="structure") from None
