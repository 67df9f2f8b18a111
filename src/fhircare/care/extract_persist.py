"""``$extract`` with ``persist=true``: the extracted transaction run through the server.

The Bundle runs as ``POST [base]`` would run it (``interactions/bundle.process_bundle``):
ids assigned up front and the ``urn:uuid`` references rewritten to them, every create
validated, checked by the write rules and indexed, all committed at once or not at all,
and the followers run after the commit. Its entries are only ``POST [type]``, so the
router it needs knows creates alone (the HTTP router lives in ``rest/``, which care may
not import).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhircare.fhir import errors, jsonio
from fhircare.interactions.bundle import process_bundle
from fhircare.interactions.bundle_requests import Interaction
from fhircare.interactions.create import create
from fhircare.interactions.request import Context, FhirRequest, FhirResponse


@dataclass(frozen=True)
class CreateRoute:
    """``POST [type]`` as ``bundle_requests.Routed`` describes a route."""

    resource_type: str
    interaction: Interaction = create
    id: str | None = None
    version: str | None = None
    body: str | None = "resource"
    shapes_resource: bool = False


def creates_only(method: str, segments: list[str]) -> CreateRoute:
    if method != "POST" or len(segments) != 1:
        raise errors.processing("An extracted transaction only creates resources")
    return CreateRoute(segments[0])


async def persist(context: Context, request: FhirRequest, bundle: dict[str, Any]) -> FhirResponse:
    """The ``transaction-response`` of ``bundle`` run on this server."""
    run = FhirRequest(
        method="POST",
        headers={k: v for k, v in request.headers.items() if k == "prefer"},
        body=jsonio.dumps(bundle),
        base_url=request.base_url,
    )
    return await process_bundle(context, run, creates_only)
