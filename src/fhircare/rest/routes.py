"""FastAPI routes for the FHIR base: one catch-all that hands a plain request to dispatch,
and ``GET [base]/openapi.json`` (``rest/openapi.py``), matched before it."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fhircare.fhir import errors, jsonio
from fhircare.fhir.subsetting import parse_elements, parse_summary, subset
from fhircare.interactions.access import FULL, Access
from fhircare.interactions.access_store import caller_context
from fhircare.interactions.audit import (
    REFUSED,
    SUCCESS,
    Audited,
    read_answer,
    record,
)
from fhircare.interactions.capabilities import statement_of
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.rest.auth import Authenticator
from fhircare.rest.body import read_body
from fhircare.rest.dispatch import route
from fhircare.rest.media import JSON, check_body_type, response_type
from fhircare.rest.openapi import rendered
from fhircare.settings import Settings

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
OPENAPI_PATH = "/openapi.json"
SMART_CONFIGURATION_PATH = "/.well-known/smart-configuration"
_REFUSALS = (errors.Category.UNAUTHORIZED, errors.Category.FORBIDDEN)
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_WRITE_KINDS = frozenset(
    {"create", "update", "patch", "delete", "update-conditional", "patch-conditional"}
    | {"delete-conditional"}
)


def fhir_router(settings: Settings, authenticator: Authenticator | None = None) -> APIRouter:
    router = APIRouter()
    authenticator = authenticator or Authenticator(settings)
    audits = authenticator.smart and settings.audit

    @router.api_route(SMART_CONFIGURATION_PATH, methods=METHODS, include_in_schema=False)
    async def smart_configuration(request: Request) -> Response:
        """SMART discovery (``security/discovery.py``); 404 when tokens are not used."""
        if request.method != "GET":
            error = errors.not_allowed(f"{request.method} is not supported here (allowed: GET)")
            error.headers["Allow"] = "GET"
            raise error
        endpoints = authenticator.endpoints
        if endpoints is None:
            raise errors.not_found("This server does not use SMART authorization (FHIRCARE_AUTH)")
        body = jsonio.dumps(endpoints.configuration())
        return Response(body, 200, media_type=f"{JSON}; charset=utf-8")

    @router.api_route(OPENAPI_PATH, methods=METHODS, include_in_schema=False)
    async def openapi(request: Request) -> Response:
        """The OpenAPI description of this API, rendered from the CapabilityStatement."""
        if request.method != "GET":
            error = errors.not_allowed(f"{request.method} is not supported here (allowed: GET)")
            error.headers["Allow"] = "GET"
            raise error
        context: Context = request.app.state.context
        registry = await context.refresh()
        base = base_url(settings, request)
        policy = context.limits.conditional_delete
        body = rendered(registry, base, policy, lambda: statement_of(context, base, registry))
        return Response(body, 200, media_type=f"{JSON}; charset=utf-8")

    @router.api_route("", methods=METHODS, include_in_schema=False)
    @router.api_route("/{path:path}", methods=METHODS, include_in_schema=False)
    async def fhir_endpoint(request: Request, path: str = "") -> Response:
        media = response_type(request.headers.get("accept"), request.query_params.get("_format"))
        segments = [s for s in path.split("/") if s]
        headers = {k.lower(): v for k, v in request.headers.items()}
        context: Context = request.app.state.context
        base = base_url(settings, request)
        audit = _Auditor(context, request, base, audits)
        try:
            access = await authenticator.access_of(headers, segments)
        except errors.FhirError as error:
            await audit.refused(FULL, "", error)
            raise
        chosen = route(request.method, segments)
        body = b""
        if chosen.body is not None:
            check_body_type(request.headers.get("content-type"), chosen.body)
            limit = (
                settings.max_bundle_bytes if chosen.body == "bundle" else settings.max_body_bytes
            )
            body = await read_body(request, limit)
        fhir_request = FhirRequest(
            method=request.method,
            resource_type=chosen.resource_type,
            id=chosen.id,
            version=chosen.version,
            query=tuple(request.query_params.multi_items()),
            headers=headers,
            body=body,
            base_url=base,
        )
        await context.refresh()  # another process may have changed what is built from the store
        caller = caller_context(context, access, base) if not access.unrestricted else context
        try:
            answer = await chosen.interaction(caller, fhir_request)
        except errors.FhirError as error:
            await audit.refused(access, chosen.kind, error)
            raise
        await audit.answered(access, chosen.kind, answer)
        if chosen.shapes_resource:
            answer = _shaped(answer, request)
        return _to_http(answer, media, request)

    return router


class _Auditor:
    """The AuditEvents of one request (``interactions/audit.py``) when they are kept."""

    def __init__(self, context: Context, request: Request, base: str, enabled: bool) -> None:
        self.context = context
        self.request = request
        self.base = base
        self.enabled = enabled

    def _what(
        self, kind: str, outcome: str, description: str = "", written: Sequence[str] = ()
    ) -> Audited:
        client = self.request.client
        path = self.request.url.path
        return Audited(
            self.request.method,
            path,
            kind,
            outcome,
            description,
            tuple(written),
            client.host if client else None,
        )

    async def refused(self, access: Access, kind: str, error: errors.FhirError) -> None:
        if not self.enabled or error.category not in _REFUSALS:
            return
        what = self._what(kind, REFUSED, str(error))
        await record(self.context, access, what, self.base)

    async def answered(self, access: Access, kind: str, answer: FhirResponse) -> None:
        if not self.enabled or self.request.method not in _WRITES or answer.status >= 400:
            return
        found = read_answer(kind, answer.headers, answer.body)
        if found.refused:
            description = f"Bundle entries refused: {', '.join(found.refused)}"
            await record(
                self.context, access, self._what(found.kind, REFUSED, description), self.base
            )
        if not found.written and found.kind not in _WRITE_KINDS:
            return  # a search or an operation that wrote nothing
        what = self._what(found.kind, SUCCESS, "", found.written)
        await record(self.context, access, what, self.base)


def base_url(settings: Settings, request: Request) -> str:
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    return str(request.base_url).rstrip("/") + settings.base_path


def _shaped(answer: FhirResponse, request: Request) -> FhirResponse:
    summary = parse_summary(request.query_params.get("_summary"))
    elements = parse_elements(request.query_params.get("_elements"))
    if answer.body is None or (summary is None and elements is None):
        return answer
    answer.body = jsonio.dumps(subset(jsonio.loads(answer.body), summary, elements))
    return answer


def _to_http(answer: FhirResponse, media: str, request: Request) -> Response:
    body = answer.body
    if body is not None and request.query_params.get("_pretty") == "true":
        body = jsonio.dumps(jsonio.loads(body), pretty=True)
    if request.method == "HEAD":
        body = None
    headers = dict(answer.headers)
    if body is None:
        return Response(None, answer.status, headers=headers)
    return Response(body, answer.status, headers=headers, media_type=f"{media}; charset=utf-8")
