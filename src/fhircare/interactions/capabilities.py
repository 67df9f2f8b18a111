"""capabilities: ``GET [base]/metadata``. https://hl7.org/fhir/R4/http.html#capabilities

Built from what the server implements and nothing more: the interactions registered in
``INTERACTIONS`` and the resource types the validation models know.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fhircare import __version__
from fhircare.fhir import jsonio
from fhircare.fhir.ids import format_instant, now
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.interactions.request import Context, FhirRequest, FhirResponse

TYPE_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
)
SYSTEM_INTERACTIONS = ("history-system",)
FORMATS = ("application/fhir+json", "application/json")
PATCH_FORMATS = ("application/json-patch+json",)


def capability_statement(base_url: str) -> dict[str, Any]:
    resources = [
        {
            "type": resource_type,
            "interaction": [{"code": code} for code in TYPE_INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": False,
            "conditionalRead": "full-support",
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
        }
        for resource_type in sorted(RESOURCE_TYPES)
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": format_instant(now()),
        "publisher": "fhircare",
        "kind": "instance",
        "software": {"name": "fhircare", "version": __version__},
        "implementation": {"description": "fhircare FHIR R4 server", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": list(FORMATS),
        "patchFormat": list(PATCH_FORMATS),
        "rest": [
            {
                "mode": "server",
                "resource": resources,
                "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
            }
        ],
    }


@cache
def _rendered(base_url: str) -> bytes:
    return jsonio.dumps(capability_statement(base_url))


async def capabilities(context: Context, request: FhirRequest) -> FhirResponse:
    return FhirResponse(200, _rendered(request.base_url))
