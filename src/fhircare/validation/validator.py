"""Validation of incoming resources before they are stored.

Content that fails "basic FHIR validation rules" is rejected with 400 and an
OperationOutcome listing every problem (https://hl7.org/fhir/R4/http.html#create), each
with a FHIRPath ``expression`` rooted at the resource. The rule walk runs for every engine;
the structural engine (``engines``) is chosen by the ``FHIRCARE_VALIDATOR`` setting.
"""

from __future__ import annotations

from typing import Any

from fhircare.fhir import timing
from fhircare.fhir.errors import Category, FhirError, Issue
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.validation import engines
from fhircare.validation.issues import IssueCollector
from fhircare.validation.walker import walk_resource


def find_issues(resource: Any, engine: str | None = None) -> list[Issue]:
    """Every problem found in ``resource`` (parsed JSON); empty if it is valid.

    ``engine`` names the structural engine (``engines.ENGINES``); None is the default one.
    """
    issues = IssueCollector()
    if not isinstance(resource, dict):
        issues.add("structure", "A resource must be a JSON object", "")
        return issues.issues
    resource_type = resource.get("resourceType")
    if resource_type is None:
        issues.add("required", "Missing required element 'resourceType'", "resourceType")
    elif not isinstance(resource_type, str) or resource_type not in RESOURCE_TYPES:
        issues.add("value", f"Unknown resource type {resource_type!r}", "resourceType")
    else:
        # The walk goes first: its messages are the more specific ones when both see a problem.
        walk_resource(resource, issues)
        engines.engine(engine or engines.DEFAULT_ENGINE)(resource, issues)
    return issues.issues


def validate_resource(resource: dict[str, Any], engine: str | None = None) -> None:
    """Raise ``FhirError`` (INVALID, HTTP 400) carrying every issue if ``resource`` is invalid."""
    with timing.measure("validate"):
        issues = find_issues(resource, engine)
    if issues:
        raise FhirError(Category.INVALID, issues)
