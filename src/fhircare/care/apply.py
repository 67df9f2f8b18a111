"""PlanDefinition/$apply (not built yet)."""

from __future__ import annotations

from fhircare.care.operation import CareOperation, fhircare_definition
from fhircare.fhir import errors
from fhircare.interactions.request import Context, FhirRequest, FhirResponse


async def apply(context: Context, request: FhirRequest) -> FhirResponse:
    OPERATION.inputs_of(context, request)
    raise errors.unsupported("$apply is not built yet")


OPERATION = CareOperation(
    name="apply",
    types=("PlanDefinition",),
    definition=fhircare_definition("PlanDefinition-apply"),
    summary="Apply a care protocol to a patient: a draft CarePlan and the requests it names",
    inputs=(),
    handler=apply,
    output="CarePlan",
)
