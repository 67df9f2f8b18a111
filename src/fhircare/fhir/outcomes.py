"""OperationOutcome bodies. https://hl7.org/fhir/R4/operationoutcome.html"""

from __future__ import annotations

from typing import Any

from fhircare.fhir import jsonio
from fhircare.fhir.errors import Issue


def outcome(issues: list[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource holding ``issues``."""
    rendered = []
    for issue in issues:
        item: dict[str, Any] = {
            "severity": issue.severity,
            "code": issue.code,
            "diagnostics": issue.diagnostics,
        }
        if issue.expression:
            item["expression"] = list(issue.expression)
        rendered.append(item)
    return {"resourceType": "OperationOutcome", "issue": rendered}


def information(message: str) -> bytes:
    """An informational OperationOutcome, as returned by a successful delete."""
    return jsonio.dumps(outcome([Issue("informational", message, severity="information")]))
