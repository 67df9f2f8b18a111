"""A care plan's progress (not built yet)."""

from __future__ import annotations

from fhircare.care.operation import CareOperation, fhircare_definition
from fhircare.fhir import errors
from fhircare.interactions.request import Context, FhirRequest, FhirResponse


async def progress(context: Context, request: FhirRequest) -> FhirResponse:
    OPERATION.inputs_of(context, request)
    raise errors.unsupported("$progress is not built yet")


OPERATION = CareOperation(
    name="progress",
    types=("CarePlan",),
    definition=fhircare_definition("progress"),
    summary="A care plan's progress: its activities, its goals against their targets",
    inputs=(),
    handler=progress,
    output="Parameters",
)
