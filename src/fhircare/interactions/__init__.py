"""One FHIR interaction per module; none knows the web framework."""
