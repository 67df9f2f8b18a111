"""update: ``PUT [base]/[type]/[id]``, also update-as-create with a client id.

https://hl7.org/fhir/R4/http.html#update and #concurrency. With ``If-Match`` the write is
a compare-and-set against that version (412 when it moved). Without it, a lost race is
retried on the newer version: both writes land, each as its own version. An update that
changes nothing but ``meta.versionId``/``lastUpdated`` makes no new version, as in HAPI.
"""

from __future__ import annotations

from typing import Any

from fhircare.fhir import errors, jsonio, timing
from fhircare.fhir.ids import require_valid_id
from fhircare.interactions.preconditions import check_if_match, if_match
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.resource_body import content_of, new_version, parse_resource
from fhircare.interactions.response import write_response
from fhircare.storage.protocol import StoredVersion, VersionConflict

RETRIES = 5


async def update(context: Context, request: FhirRequest) -> FhirResponse:
    assert request.resource_type is not None and request.id is not None
    require_valid_id(request.id)
    resource = parse_resource(request.body, request.resource_type, context.limits)
    if "id" not in resource:
        raise errors.invalid("An update must carry the resource's id in the body", "id")
    if resource["id"] != request.id:
        raise errors.invalid(
            f"The body's id '{resource['id']}' does not match the URL's id '{request.id}'", "id"
        )
    return await write_version(context, request, resource, "PUT")


async def write_version(
    context: Context, request: FhirRequest, resource: dict[str, Any], method: str
) -> FhirResponse:
    """Commit ``resource`` as the next version of ``request``'s resource (PUT and PATCH)."""
    assert request.resource_type is not None and request.id is not None
    for _ in range(RETRIES):
        current = await context.store.read(request.resource_type, request.id)
        check_if_match(request, current)
        if _unchanged(current, resource):
            assert current is not None
            return write_response(request, current, 200, "No change: the content is the same")
        version = 1 if current is None else current.version + 1
        write = new_version(context, request, resource, request.id, version, method, current)
        try:
            with timing.measure("store"):
                stored = await context.store.commit(write)
        except VersionConflict:
            if if_match(request) is not None:
                raise errors.precondition(
                    f"{request.resource_type}/{request.id} changed while this update ran"
                ) from None
            continue
        await context.written(request.resource_type)
        await context.rules.follow(context, [stored])
        created = current is None or current.deleted
        verb = "Created" if created else "Updated"
        message = f"{verb} {request.resource_type}/{request.id} (version {version})"
        return write_response(request, stored, 201 if created else 200, message)
    raise errors.conflict(
        f"{request.resource_type}/{request.id} is being changed by others; try again"
    )


def _unchanged(current: StoredVersion | None, resource: dict[str, Any]) -> bool:
    if current is None or current.body is None:
        return False
    return jsonio.dumps(content_of(jsonio.loads(current.body))) == jsonio.dumps(
        content_of(resource)
    )
