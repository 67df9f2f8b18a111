"""Accumulates OperationOutcome issues for one validation run, each problem once.

Two checks may see the same problem (pydantic and the rule walk both notice a missing
element); the client should get it once. A problem is its expression, code, severity and
``key``: what tells two problems of one code at one place apart (the key of an invariant,
the name of a slice), empty for the structural checks.
"""

from __future__ import annotations

from fhircare.fhir.errors import Issue


class IssueCollector:
    """Ordered, de-duplicated list of issues; severity is error unless told otherwise
    (https://hl7.org/fhir/R4/valueset-issue-severity.html)."""

    __slots__ = ("_seen", "issues")

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self._seen: set[tuple[str, str, str, str]] = set()

    def add(
        self, code: str, message: str, expression: str, severity: str = "error", key: str = ""
    ) -> None:
        seen = (expression, code, severity, key)
        if seen not in self._seen:
            self._seen.add(seen)
            self.issues.append(
                Issue(code, message, severity, expression=(expression,) if expression else ())
            )
