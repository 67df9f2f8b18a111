"""How search parsing words its 400s: the offending text quoted, and ``too-costly``.

Shared by every ``parse_*.py`` module so their messages read alike
(https://hl7.org/fhir/R4/search.html#errors).
"""

from __future__ import annotations

from fhircare.fhir import errors
from fhircare.fhir.errors import FhirError


def shown(text: str, limit: int = 80) -> str:
    """``text`` quoted for a message, cut at ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def too_costly(message: str, expression: str) -> FhirError:
    """The 400 for a request past a ``SearchLimits`` limit."""
    return errors.invalid(message, expression, code="too-costly")
