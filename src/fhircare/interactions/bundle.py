"""``POST [base]`` with a batch or transaction Bundle. https://hl7.org/fhir/R4/http.html#transaction

The answer is a ``batch-response`` or ``transaction-response`` Bundle (200) with one
entry per request entry, in the same order; a transaction that fails answers with the
failing entry's status and OperationOutcome instead.
"""

from __future__ import annotations

from fhircare.interactions.batch import batch
from fhircare.interactions.bundle_entries import parse_bundle
from fhircare.interactions.bundle_requests import Router
from fhircare.interactions.bundle_responses import response_bundle
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.transaction import transaction


async def process_bundle(context: Context, request: FhirRequest, router: Router) -> FhirResponse:
    """Run the Bundle in ``request``; ``router`` picks each entry's interaction."""
    parsed = parse_bundle(request.body, request.base_url, context.limits)
    process = batch if parsed.type == "batch" else transaction
    responses = await process(context, request, parsed.entries, router)
    body = response_bundle(f"{parsed.type}-response", responses, request.base_url)
    return FhirResponse(200, body)
