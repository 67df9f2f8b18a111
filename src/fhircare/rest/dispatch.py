"""The FHIR URL grammar: which interaction a method and path select.

https://hl7.org/fhir/R4/http.html#summary (the table of interactions and their URLs).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fhircare.care.everything.operation import everything
from fhircare.care.operation import CareOperation
from fhircare.care.registry import operations_of
from fhircare.fhir import errors
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.interactions.access_gate import check, interaction_kind
from fhircare.interactions.bundle import process_bundle
from fhircare.interactions.capabilities import capabilities
from fhircare.interactions.conditional_delete import conditional_delete
from fhircare.interactions.conditional_patch import conditional_patch
from fhircare.interactions.conditional_update import conditional_update
from fhircare.interactions.create import create
from fhircare.interactions.delete import delete
from fhircare.interactions.history import history
from fhircare.interactions.patch import patch
from fhircare.interactions.read import read
from fhircare.interactions.reindex import reindex
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.search import search
from fhircare.interactions.update import update
from fhircare.interactions.validate import validate
from fhircare.interactions.vread import vread
from fhircare.sync.operations import sync, sync_status

Interaction = Callable[[Context, FhirRequest], Awaitable[FhirResponse]]
SYSTEM_PATHS = ("metadata", "_history", "$reindex", "$sync", "$sync-status")
"""The first path segments that are not a resource type."""


@dataclass(frozen=True)
class Route:
    """An interaction and the parts of the path it was given."""

    interaction: Interaction
    resource_type: str | None = None
    id: str | None = None
    version: str | None = None
    body: str | None = None  # what the body must be: resource, patch, form or bundle
    shapes_resource: bool = False
    kind: str = ""
    """The restful-interaction code (or ``$operation``) the access gate checks."""

    def __post_init__(self) -> None:
        if self.kind:
            object.__setattr__(self, "interaction", _gated(self.kind, self.interaction))


def route(method: str, segments: list[str]) -> Route:
    """Pick the interaction; 404 for unknown paths and types, 405 for a wrong method."""
    method = "GET" if method == "HEAD" else method
    shape = tuple("T" if i == 0 and s in RESOURCE_TYPES else s for i, s in enumerate(segments))
    if segments and shape[0] != "T" and segments[0] not in SYSTEM_PATHS:
        if segments[0][:1].isupper():
            raise errors.not_found(f"Resource type '{segments[0][:64]}' is not supported")
        raise errors.not_found(f"No FHIR endpoint at '/{'/'.join(segments)[:100]}'")
    table: dict[tuple[str, ...], dict[str, Route]] = {
        (): {
            "GET": Route(search, kind="search-system"),
            "POST": Route(_bundle, body="bundle"),
        },
        ("metadata",): {"GET": Route(capabilities)},
        ("_history",): {"GET": Route(history, kind="history-system")},
        ("$reindex",): {"POST": Route(reindex, kind="$reindex")},
        # the sync adapter (``sync/operations.py``); $sync-status changes nothing: GET too
        ("$sync",): {"POST": Route(sync, body="resource", kind="$sync")},
        ("$sync-status",): {
            "GET": Route(sync_status, kind="$sync-status"),
            "POST": Route(sync_status, body="resource", kind="$sync-status"),
        },
    }
    if shape and shape[0] == "T":
        t = segments[0]
        table[("T",)] = {
            "GET": Route(search, t, kind="search-type"),
            "POST": Route(create, t, body="resource", kind="create"),
            # conditional: the query is the condition, 400 without one
            "PUT": Route(conditional_update, t, body="resource", kind="update-conditional"),
            "PATCH": Route(conditional_patch, t, body="patch", kind="patch-conditional"),
            "DELETE": Route(conditional_delete, t, kind="delete-conditional"),
        }
        table[("T", "_search")] = {"POST": Route(search, t, body="form", kind="search-type")}
        table[("T", "_history")] = {"GET": Route(history, t, kind="history-type")}
        table[("T", "$reindex")] = {"POST": Route(reindex, t, kind="$reindex")}
        table[("T", "$validate")] = {"POST": Route(validate, t, body="resource", kind="$validate")}
        if t == "Patient":
            table[("T", "$everything")] = _everything(t)
        care = operations_of(t)
        for op in care:
            if op.type_level:
                table[("T", f"${op.name}")] = _care(op, t)
        if len(segments) >= 2 and not segments[1].startswith(("_", "$")):
            i = segments[1]
            table[("T", i)] = {
                "GET": Route(read, t, i, shapes_resource=True, kind="read"),
                "PUT": Route(update, t, i, body="resource", kind="update"),
                "PATCH": Route(patch, t, i, body="patch", kind="patch"),
                "DELETE": Route(delete, t, i, kind="delete"),
            }
            table[("T", i, "_history")] = {"GET": Route(history, t, i, kind="history-instance")}
            table[("T", i, "$validate")] = {
                "GET": Route(validate, t, i, kind="$validate"),
                "POST": Route(validate, t, i, body="resource", kind="$validate"),
            }
            if t == "Patient":
                table[("T", i, "$everything")] = _everything(t, i)
            for op in care:
                if op.instance:
                    table[("T", i, f"${op.name}")] = _care(op, t, i)
            if len(segments) == 4:
                table[("T", i, "_history", segments[3])] = {
                    "GET": Route(vread, t, i, segments[3], shapes_resource=True, kind="vread")
                }
    methods = table.get(shape)
    if methods is None:
        raise errors.not_found(f"No FHIR endpoint at '/{'/'.join(segments)[:100]}'")
    chosen = methods.get(method)
    if chosen is None:
        allowed = ", ".join(sorted(methods)) or "none"
        error = errors.not_allowed(f"{method} is not supported here (allowed: {allowed})")
        error.headers["Allow"] = ", ".join(sorted(methods))
        raise error
    return chosen


def _everything(resource_type: str, id: str | None = None) -> dict[str, Route]:
    """``Patient/$everything`` (``care/everything/operation.py``): GET with a query, POST with a
    Parameters body."""
    return {
        "GET": Route(everything, resource_type, id, kind="$everything"),
        "POST": Route(everything, resource_type, id, body="resource", kind="$everything"),
    }


def _care(op: CareOperation, resource_type: str, id: str | None = None) -> dict[str, Route]:
    """A care operation (``care/registry.py``): POST with a Parameters body, and GET with a
    query unless it changes data."""
    return {
        method: Route(
            op.handler,
            resource_type,
            id,
            body="resource" if method == "POST" else None,
            kind=f"${op.name}",
        )
        for method in op.methods
    }


def _gated(kind: str, interaction: Interaction) -> Interaction:
    """``interaction`` behind the access gate (``interactions/access_gate.py``)."""

    @functools.wraps(interaction)
    async def gated(context: Context, request: FhirRequest) -> FhirResponse:
        if not context.access.unrestricted:
            policy = context.limits.conditional_delete
            code = interaction_kind(kind, request, policy)
            check(context.access, code, request, context.registry.resource_types)
        return await interaction(context, request)

    return gated


async def _bundle(context: Context, request: FhirRequest) -> FhirResponse:
    """``POST [base]``: a batch or transaction, each entry routed by ``route`` again."""
    return await process_bundle(context, request, route)
