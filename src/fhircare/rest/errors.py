"""The one place a FhirError becomes an HTTP status and an OperationOutcome.

https://hl7.org/fhir/R4/http.html#2.21.0.1 lists the statuses. An unexpected exception is
logged with a request id and answered 500 with only that id, never internals.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from fhircare.fhir import jsonio
from fhircare.fhir.errors import STATUS, FhirError, Issue, too_large
from fhircare.fhir.outcomes import outcome
from fhircare.rest.media import FHIR_JSON
from fhircare.storage.protocol import WriteTooLarge

log = logging.getLogger("fhircare.rest")

_HTTP_CODES = {404: "not-found", 405: "not-supported", 413: "too-costly"}


def outcome_response(
    status: int, issues: list[Issue], headers: dict[str, str] | None = None
) -> Response:
    return Response(jsonio.dumps(outcome(issues)), status, headers=headers, media_type=FHIR_JSON)


def fhir_error_response(error: FhirError) -> Response:
    return outcome_response(STATUS[error.category], error.issues, error.headers)


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "unknown"))


async def _on_fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return fhir_error_response(exc)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "processing")
    return outcome_response(exc.status_code, [Issue(code, str(exc.detail))])


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    return outcome_response(400, [Issue("invalid", "The request is malformed")])


async def _on_too_large(request: Request, exc: Exception) -> Response:
    return fhir_error_response(
        too_large(f"The resource is too large to store with its search index: {exc}")
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    rid = request_id(request)
    log.exception("unexpected error handling request %s", rid, exc_info=exc)
    issue = Issue("exception", f"Internal server error; request id {rid}", severity="fatal")
    return outcome_response(500, [issue], {"X-Request-Id": rid})


def install(app: FastAPI) -> None:
    app.add_exception_handler(FhirError, _on_fhir_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(WriteTooLarge, _on_too_large)
    app.add_exception_handler(Exception, _on_unexpected)
