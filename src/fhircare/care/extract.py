"""QuestionnaireResponse/$extract (not built yet)."""

from __future__ import annotations

from fhircare.care.operation import CareOperation, fhircare_definition
from fhircare.fhir import errors
from fhircare.interactions.request import Context, FhirRequest, FhirResponse


async def extract(context: Context, request: FhirRequest) -> FhirResponse:
    OPERATION.inputs_of(context, request)
    raise errors.unsupported("$extract is not built yet")


OPERATION = CareOperation(
    name="extract",
    types=("QuestionnaireResponse",),
    definition=fhircare_definition("QuestionnaireResponse-extract"),
    summary="Turn an intake assessment into draft Conditions, Goals and a draft CarePlan",
    inputs=(),
    handler=extract,
    output="Bundle",
)
