"""Running one bundle entry as the HTTP request it stands for.

The entry's method and url pick the interaction through the same URL grammar as HTTP
(``rest/dispatch.route``, passed in as a ``Router`` because interactions may not import
the HTTP adapter), so every interaction, conditional ones included, behaves in a bundle as
it does alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from fhircare.fhir import errors, jsonio
from fhircare.fhir.subsetting import parse_elements, parse_summary, subset
from fhircare.interactions.bundle_entries import BundleEntry
from fhircare.interactions.request import Context, FhirRequest, FhirResponse

Interaction = Callable[[Context, FhirRequest], Awaitable[FhirResponse]]


class Routed(Protocol):
    """What ``rest/dispatch.Route`` tells about a method and path."""

    @property
    def interaction(self) -> Interaction: ...
    @property
    def resource_type(self) -> str | None: ...
    @property
    def id(self) -> str | None: ...
    @property
    def version(self) -> str | None: ...
    @property
    def body(self) -> str | None: ...
    @property
    def shapes_resource(self) -> bool: ...


Router = Callable[[str, list[str]], Routed]


def routed(router: Router, entry: BundleEntry) -> Routed:
    """The interaction of ``entry``; 400 for a bundle inside a bundle."""
    if not entry.segments and entry.method == "POST":
        raise errors.invalid(
            "A batch or transaction cannot contain another one", f"{entry.where}.request.url"
        )
    return router(entry.method, list(entry.segments))


async def run_entry(
    context: Context,
    router: Router,
    entry: BundleEntry,
    base_url: str,
    prefer: str | None,
    body: bytes | None = None,
    new_id: str | None = None,
) -> FhirResponse:
    """The response of ``entry``'s interaction; ``body`` replaces the entry's own (its
    references resolved), ``new_id`` is the id a create gives its resource."""
    chosen = routed(router, entry)
    if chosen.body not in ("resource", "patch"):
        body = b""
    elif body is None:
        body = entry.body
    headers = dict(entry.headers)
    if prefer:
        headers["prefer"] = prefer
    request = FhirRequest(
        method=entry.method,
        resource_type=chosen.resource_type,
        id=chosen.id,
        version=chosen.version,
        query=entry.query,
        headers=headers,
        body=body,
        base_url=base_url,
        new_id=new_id,
    )
    response = await chosen.interaction(context, request)
    if entry.method == "HEAD":
        response.body = None
    elif chosen.shapes_resource and response.body is not None:
        response.body = _shaped(response.body, entry)
    return response


def _shaped(body: bytes, entry: BundleEntry) -> bytes:
    """``_summary`` and ``_elements`` of a read's url, as over HTTP."""
    query = dict(entry.query)
    summary = parse_summary(query.get("_summary"))
    elements = parse_elements(query.get("_elements"))
    if summary is None and elements is None:
        return body
    return jsonio.dumps(subset(jsonio.loads(body), summary, elements))
