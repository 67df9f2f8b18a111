"""fhircare: a FHIR R4 care-coordination server on MongoDB."""

__version__ = "0.1.0"
