"""Base R4 element definitions from the official FHIR R4 StructureDefinitions (CC0);
written by scripts/base_definitions.py, read by ``profiles.base``."""
