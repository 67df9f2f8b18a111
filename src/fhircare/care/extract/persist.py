"""``$extract`` with ``persist=true``: the extracted transaction run through the server.

The Bundle runs as ``POST [base]`` would run it (``interactions/bundle.process_bundle``):
ids assigned up front and the ``urn:uuid`` references rewritten to them, every create
validated, checked by the write rules and indexed, all committed at once or not at all,
and the followers run after the commit. Its entries are only ``POST [type]``
(``creates.py``).
"""

from __future__ import annotations

from typing import Any

from fhircare.care.creates import creates_only
from fhircare.fhir import jsonio
from fhircare.interactions.bundle import process_bundle
from fhircare.interactions.request import Context, FhirRequest, FhirResponse


async def persist(context: Context, request: FhirRequest, bundle: dict[str, Any]) -> FhirResponse:
    """The ``transaction-response`` of ``bundle`` run on this server."""
    run = FhirRequest(
        method="POST",
        headers={k: v for k, v in request.headers.items() if k == "prefer"},
        body=jsonio.dumps(bundle),
        base_url=request.base_url,
    )
    return await process_bundle(context, run, creates_only)
