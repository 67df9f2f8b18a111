"""Validation of resources on write: structure, required bindings and references."""

from fhircare.validation.validator import find_issues, validate_resource

__all__ = ["find_issues", "validate_resource"]
