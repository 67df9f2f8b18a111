"""Spec-level FHIR helpers with no I/O."""
