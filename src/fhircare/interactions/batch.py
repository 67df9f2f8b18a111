"""A batch Bundle: each entry on its own. https://hl7.org/fhir/R4/http.html#transaction

Entries run in the spec's order (``bundle_entries.PROCESSING_ORDER``) through the ordinary
interactions, each as if it were a separate request: one failing (its conditional
reference matching nothing, say) gets its status and OperationOutcome in its response
entry and the others go ahead. Entries of a batch do not refer to each other: their
``urn:uuid:`` references are left as they are.
"""

from __future__ import annotations

from fhircare.fhir import jsonio
from fhircare.fhir.errors import FhirError
from fhircare.interactions.bundle_entries import BundleEntry, in_processing_order
from fhircare.interactions.bundle_references import resolve_conditional_references
from fhircare.interactions.bundle_requests import Router, run_entry
from fhircare.interactions.bundle_responses import error_response
from fhircare.interactions.request import Context, FhirRequest, FhirResponse


async def batch(
    context: Context, request: FhirRequest, entries: list[BundleEntry], router: Router
) -> list[FhirResponse]:
    """The response of each entry, in the entries' order."""
    responses: dict[int, FhirResponse] = {}
    for entry in in_processing_order(entries):
        try:
            body = None
            if entry.resource is not None and entry.method in ("POST", "PUT"):
                resource = await resolve_conditional_references(
                    context, entry.resource, request.base_url
                )
                body = jsonio.dumps(resource)
            responses[entry.index] = await run_entry(
                context, router, entry, request.base_url, request.headers.get("prefer"), body
            )
        except FhirError as error:
            responses[entry.index] = error_response(error)
    return [responses[entry.index] for entry in entries]
