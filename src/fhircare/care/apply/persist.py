"""Writing an applied plan: the CarePlan, its Goals and its requests in one transaction.

The transaction (``interactions/transaction.py``) runs each create through the create
interaction, so validation, versioning, indexing and the write rules apply as to any other
write, and either every resource lands or none does
(https://hl7.org/fhir/R4/http.html#transaction). A refusal fails the operation with the
refusing entry's status and OperationOutcome, its expression naming the entry: the CarePlan
is ``Bundle.entry[0]``, then come the Goals, then the requests in the activities' order.
Its entries are creates only (``creates.py``).
"""

from __future__ import annotations

from fhircare.care.apply.plan import Draft, transaction
from fhircare.care.creates import creates_only
from fhircare.fhir import jsonio
from fhircare.interactions.bundle_entries import parse_bundle
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.transaction import transaction as run_transaction


async def persist(context: Context, request: FhirRequest, draft: Draft) -> FhirResponse:
    """Create the plan; answer 201 with the stored CarePlan and its Location."""
    body = jsonio.dumps(transaction(draft))
    entries = parse_bundle(body, request.base_url, context.limits).entries
    writing = FhirRequest("POST", base_url=request.base_url)
    responses = await run_transaction(context, writing, entries, creates_only)
    care_plan = responses[0]
    return FhirResponse(201, care_plan.body, dict(care_plan.headers))
