"""Typed FHIR errors with a category; rendered to OperationOutcome in ``rest/errors.py`` only.

https://hl7.org/fhir/R4/operationoutcome.html
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Category(StrEnum):
    """What went wrong, independent of transport; each maps to one HTTP status."""

    INVALID = "invalid"  # 400: unparseable or structurally invalid
    PROCESSING = "processing"  # 422: business rule or profile violation
    NOT_FOUND = "not-found"  # 404
    GONE = "gone"  # 410
    NOT_ALLOWED = "not-allowed"  # 405
    CONFLICT = "conflict"  # 409
    PRECONDITION = "precondition"  # 412
    UNSUPPORTED_MEDIA = "unsupported-media"  # 415
    NOT_ACCEPTABLE = "not-acceptable"  # 406
    TOO_LARGE = "too-large"  # 413
    UNSUPPORTED = "not-supported"  # 400/501 for unsupported features
    FORBIDDEN = "forbidden"  # 403
    UNAUTHORIZED = "login"  # 401: no usable credentials
    TOO_COSTLY = "too-costly"  # 400
    TRANSIENT = "transient"  # 503


STATUS = {
    Category.INVALID: 400,
    Category.PROCESSING: 422,
    Category.NOT_FOUND: 404,
    Category.GONE: 410,
    Category.NOT_ALLOWED: 405,
    Category.CONFLICT: 409,
    Category.PRECONDITION: 412,
    Category.UNSUPPORTED_MEDIA: 415,
    Category.NOT_ACCEPTABLE: 406,
    Category.TOO_LARGE: 413,
    Category.UNSUPPORTED: 400,
    Category.FORBIDDEN: 403,
    Category.UNAUTHORIZED: 401,
    Category.TOO_COSTLY: 400,
    Category.TRANSIENT: 503,
}
"""The HTTP status of each category (https://hl7.org/fhir/R4/http.html#2.21.0.1); a batch
entry's ``response.status`` uses it as the HTTP adapter does."""


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: ``code`` from the issue-type value set."""

    code: str
    diagnostics: str
    severity: str = "error"
    expression: tuple[str, ...] = ()


@dataclass
class FhirError(Exception):
    """A failure a client should see as an OperationOutcome."""

    category: Category
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(i.diagnostics for i in self.issues) or self.category.value


def _error(category: Category, code: str, message: str, expression: tuple[str, ...]) -> FhirError:
    return FhirError(category, [Issue(code, message, expression=expression)])


def invalid(message: str, *expression: str, code: str = "invalid") -> FhirError:
    return _error(Category.INVALID, code, message, expression)


def processing(message: str, *expression: str, code: str = "processing") -> FhirError:
    return _error(Category.PROCESSING, code, message, expression)


def not_found(message: str) -> FhirError:
    return _error(Category.NOT_FOUND, "not-found", message, ())


def gone(message: str) -> FhirError:
    return _error(Category.GONE, "deleted", message, ())


def not_allowed(message: str) -> FhirError:
    return _error(Category.NOT_ALLOWED, "not-supported", message, ())


def unauthorized(message: str, challenge: str) -> FhirError:
    """401 with the ``WWW-Authenticate`` challenge (RFC 6750) a client must answer."""
    error = _error(Category.UNAUTHORIZED, "login", message, ())
    error.headers["WWW-Authenticate"] = challenge
    return error


def forbidden(message: str, challenge: str | None = None) -> FhirError:
    """403: the credentials are good but do not allow this."""
    error = _error(Category.FORBIDDEN, "forbidden", message, ())
    if challenge:
        error.headers["WWW-Authenticate"] = challenge
    return error


def conflict(message: str) -> FhirError:
    return _error(Category.CONFLICT, "conflict", message, ())


def precondition(message: str) -> FhirError:
    return _error(Category.PRECONDITION, "conflict", message, ())


def unsupported_media(message: str) -> FhirError:
    return _error(Category.UNSUPPORTED_MEDIA, "not-supported", message, ())


def not_acceptable(message: str) -> FhirError:
    return _error(Category.NOT_ACCEPTABLE, "not-supported", message, ())


def too_large(message: str) -> FhirError:
    return _error(Category.TOO_LARGE, "too-costly", message, ())


def unsupported(message: str, *expression: str) -> FhirError:
    return _error(Category.UNSUPPORTED, "not-supported", message, expression)
