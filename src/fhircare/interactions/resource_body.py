"""Turning a client's body into the stored form: its own JSON plus ``id`` and ``meta``.

https://hl7.org/fhir/R4/resource.html#Meta: ``versionId`` and ``lastUpdated`` are the
server's; the client's ``profile``, ``tag``, ``security`` and ``source`` are kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhircare.fhir import errors, jsonio, timing
from fhircare.fhir.ids import format_instant, now
from fhircare.interactions.profiles import CONFORMANCE_TYPES
from fhircare.interactions.request import Context, FhirRequest, Limits
from fhircare.interactions.search_parameters import SEARCH_PARAMETER
from fhircare.search.indexer import Indexer
from fhircare.storage.protocol import StoredVersion, Write
from fhircare.validation import validate_resource

SERVER_META = ("versionId", "lastUpdated")


def parse_resource(body: bytes, resource_type: str, limits: Limits) -> dict[str, Any]:
    """Parse and validate a body that must be a ``resource_type`` resource."""
    if not body.strip():
        raise errors.invalid("The request has no body; a resource is required", code="required")
    with timing.measure("parse"):
        parsed = jsonio.loads(body)
    return check_resource(parsed, resource_type, limits)


def check_resource(resource: Any, resource_type: str, limits: Limits) -> dict[str, Any]:
    """Validate parsed JSON that must be a ``resource_type`` resource."""
    if not isinstance(resource, dict):
        raise errors.invalid("The body must be a JSON object (a FHIR resource)", code="structure")
    found = resource.get("resourceType")
    if found != resource_type:
        raise errors.invalid(
            f"resourceType '{found}' does not match the URL's type '{resource_type}'",
            "resourceType",
        )
    if jsonio.deeper_than(resource, limits.max_json_depth):
        raise errors.invalid(
            f"The resource nests deeper than {limits.max_json_depth} levels", code="too-costly"
        )
    validate_resource(resource, limits.validator)
    return resource


def stored_form(
    resource: dict[str, Any], id: str, version: int, last_updated: datetime
) -> dict[str, Any]:
    """The client's JSON with our ``id`` and ``meta`` first, everything else in its order."""
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in SERVER_META}
    out: dict[str, Any] = {
        "resourceType": resource["resourceType"],
        "id": id,
        "meta": {"versionId": str(version), "lastUpdated": format_instant(last_updated), **meta},
    }
    for key, value in resource.items():
        if key not in out:
            out[key] = value
    return out


def content_of(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without server-managed fields, to tell a no-op update from a change."""
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in SERVER_META}
    rest = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    return {**rest, "meta": meta} if meta else rest


def new_version(
    context: Context,
    request: FhirRequest,
    resource: dict[str, Any],
    id: str,
    version: int,
    method: str,
    previous: StoredVersion | None = None,
) -> Write:
    """The Write of ``resource`` as version ``version``, with its search index entries,
    once the write rules accept it over ``previous`` (the current version, if any)."""
    assert request.resource_type is not None
    if request.resource_type == SEARCH_PARAMETER:
        context.search_parameters.check(resource, id)
    elif request.resource_type in CONFORMANCE_TYPES:
        context.profiles.check_conformance(resource, f"{request.resource_type}/{id}")
    with timing.measure("validate"):
        context.profiles.check_write(resource)
    context.rules.check(
        request.resource_type, resource, None if previous is None else previous.body
    )
    moment = now()
    stored = stored_form(resource, id, version, moment)
    with timing.measure("index"):
        entries = Indexer(context.registry, request.base_url or None).entries(stored)
    return Write(
        request.resource_type, id, version, moment, method, jsonio.dumps(stored), tuple(entries)
    )
