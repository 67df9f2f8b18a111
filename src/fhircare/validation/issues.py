"""Accumulates OperationOutcome issues for one validation run, one per (expression, code).

Two checks may see the same problem (pydantic and the rule walk both notice a missing
element); the client should get it once.
"""

from __future__ import annotations

from fhircare.fhir.errors import Issue


class IssueCollector:
    """Ordered, de-duplicated list of error issues."""

    __slots__ = ("_seen", "issues")

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, code: str, message: str, expression: str) -> None:
        key = (expression, code)
        if key not in self._seen:
            self._seen.add(key)
            self.issues.append(Issue(code, message, expression=(expression,) if expression else ()))
