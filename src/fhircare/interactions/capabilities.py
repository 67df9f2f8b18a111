"""capabilities: ``GET [base]/metadata``. https://hl7.org/fhir/R4/http.html#capabilities

Built from what the server implements and nothing more: the interactions listed here,
the resource types the validation models know and the search parameters of the registry
(the packaged ones and the active SearchParameter resources), the conditional create,
update and delete (``single`` or ``multiple`` as the setting says; R4 has no element for
conditional patch), the ``$reindex`` operation, ``Patient/$everything``
(``care/everything/operation.py``, named by its official definition) and the sync adapter's
``$sync`` and ``$sync-status``. A statement is rendered once per (registry object, base
URL, delete policy): a changed set of search parameters is a new registry, hence a new
statement.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from fhircare import __version__
from fhircare.fhir import jsonio
from fhircare.fhir.ids import format_instant, now
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.interactions.reindex import OPERATION as REINDEX
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.validate import OPERATION as VALIDATE
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
SYSTEM_INTERACTIONS = ("transaction", "batch", "history-system", "search-system")
FORMATS = ("application/fhir+json", "application/json")
PATCH_FORMATS = ("application/json-patch+json",)
TYPE_OPERATIONS: dict[str, tuple[dict[str, str], ...]] = {
    "Patient": (
        {
            "name": "everything",
            "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
        },
    ),
}
"""The operations of one type beyond ``$reindex``, by their official OperationDefinition."""
SYSTEM_OPERATIONS: tuple[dict[str, str], ...] = (
    {"name": "sync", "definition": "urn:fhircare:OperationDefinition:sync"},
    {"name": "sync-status", "definition": "urn:fhircare:OperationDefinition:sync-status"},
)
"""The system operations beyond ``$reindex``: the sync adapter's (``sync/operations.py``),
by the canonical URLs of their OperationDefinitions in ``profiles/``."""


def _search_params(registry: SearchParamRegistry, resource_type: str) -> list[dict[str, Any]]:
    params = registry.params_for(resource_type)
    return [
        {"name": code, "definition": param.url, "type": param.type}
        for code, param in sorted(params.items())
        if param.type != "special"
    ]


def _reindex_operation(base_url: str) -> dict[str, str]:
    """``$reindex`` (``interactions/reindex.py``), at system and type level; the definition
    is a canonical URL of fhircare's (no OperationDefinition resource is served for it)."""
    return {"name": "reindex", "definition": f"{base_url}/OperationDefinition/{REINDEX}"}


def capability_statement(
    base_url: str,
    registry: SearchParamRegistry,
    conditional_delete: str = "single",
    more_operations: Mapping[str, tuple[dict[str, str], ...]] | None = None,
    security: Mapping[str, Any] | None = None,
    supported_profiles: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The statement; ``more_operations`` adds operations per type (the care operations),
    ``security`` is ``rest.security`` (SMART, ``security/discovery.py``) when tokens are
    required; ``supported_profiles`` are the profiles known here, by type."""
    more = more_operations or {}
    profiles = supported_profiles or {}
    resources = [
        {
            "type": resource_type,
            "interaction": [{"code": code} for code in TYPE_INTERACTIONS],
            **({"supportedProfile": list(p)} if (p := profiles.get(resource_type)) else {}),
            "searchParam": _search_params(registry, resource_type),
            "searchInclude": ["*"],
            "searchRevInclude": ["*"],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "full-support",
            "conditionalUpdate": True,
            "conditionalDelete": conditional_delete,
            "operation": [
                _reindex_operation(base_url),
                dict(VALIDATE),
                *(dict(op) for op in TYPE_OPERATIONS.get(resource_type, ())),
                *(dict(op) for op in more.get(resource_type, ())),
            ],
        }
        for resource_type in sorted(RESOURCE_TYPES)
    ]
    rest: dict[str, Any] = {"mode": "server"}
    if security:
        rest["security"] = dict(security)
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
                **rest,
                "resource": resources,
                "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
                "operation": [
                    _reindex_operation(base_url),
                    *(dict(op) for op in SYSTEM_OPERATIONS),
                ],
            }
        ],
    }


def statement_of(context: Context, base_url: str, registry: SearchParamRegistry) -> dict[str, Any]:
    """The statement of the server ``context`` serves, at ``base_url``."""
    return capability_statement(
        base_url,
        registry,
        context.limits.conditional_delete,
        context.type_operations,
        context.security,
        {t: context.profiles.profiles.profiles_for(t) for t in RESOURCE_TYPES},
    )


# Keyed by the registry object itself (weakly, so a replaced registry's statements go with
# it; an ``id()`` could be reused by a later registry), then by base URL, delete policy and
# the types with more operations.
_RENDERED: weakref.WeakKeyDictionary[SearchParamRegistry, dict[tuple[Any, ...], bytes]] = (
    weakref.WeakKeyDictionary()
)


async def capabilities(context: Context, request: FhirRequest) -> FhirResponse:
    registry = context.registry
    rendered = _RENDERED.setdefault(registry, {})
    policy = context.limits.conditional_delete
    key = (
        request.base_url,
        policy,
        tuple(sorted(context.type_operations)),
        context.security is not None,
        tuple(context.profiles.profiles.urls()),
    )
    if key not in rendered:
        statement = statement_of(context, request.base_url, registry)
        rendered[key] = jsonio.dumps(statement)
    return FhirResponse(200, rendered[key])
