"""capabilities: ``GET [base]/metadata``. https://hl7.org/fhir/R4/http.html#capabilities

Built from what the server implements and nothing more: the interactions listed here,
the resource types the validation models know and the search parameters of the registry.
"""

from __future__ import annotations

from typing import Any

from fhircare import __version__
from fhircare.fhir import jsonio
from fhircare.fhir.ids import format_instant, now
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.search.registry import SearchParamRegistry

TYPE_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)
SYSTEM_INTERACTIONS = ("history-system", "search-system")
FORMATS = ("application/fhir+json", "application/json")
PATCH_FORMATS = ("application/json-patch+json",)


def _search_params(registry: SearchParamRegistry, resource_type: str) -> list[dict[str, Any]]:
    params = registry.params_for(resource_type)
    return [
        {"name": code, "definition": param.url, "type": param.type}
        for code, param in sorted(params.items())
        if param.type != "special"
    ]


def capability_statement(base_url: str, registry: SearchParamRegistry) -> dict[str, Any]:
    resources = [
        {
            "type": resource_type,
            "interaction": [{"code": code} for code in TYPE_INTERACTIONS],
            "searchParam": _search_params(registry, resource_type),
            "searchInclude": ["*"],
            "searchRevInclude": ["*"],
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


_RENDERED: dict[tuple[str, int], bytes] = {}


async def capabilities(context: Context, request: FhirRequest) -> FhirResponse:
    key = (request.base_url, id(context.registry))
    if key not in _RENDERED:
        _RENDERED[key] = jsonio.dumps(capability_statement(request.base_url, context.registry))
    return FhirResponse(200, _RENDERED[key])
