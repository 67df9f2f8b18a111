"""Search-parameter data from the official FHIR R4 definitions (CC0); see registry.py."""
