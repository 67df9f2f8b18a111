"""The care manager's worklist (not built yet)."""

from __future__ import annotations

from fhircare.care.operation import CareOperation, fhircare_definition
from fhircare.fhir import errors
from fhircare.interactions.request import Context, FhirRequest, FhirResponse


async def worklist(context: Context, request: FhirRequest) -> FhirResponse:
    OPERATION.inputs_of(context, request)
    raise errors.unsupported("$worklist is not built yet")


OPERATION = CareOperation(
    name="worklist",
    types=("Practitioner", "PractitionerRole", "CareTeam"),
    definition=fhircare_definition("worklist"),
    summary="Open work that needs attention: tasks, goals, plans, messages, referrals",
    inputs=(),
    handler=worklist,
    output="Bundle",
)
