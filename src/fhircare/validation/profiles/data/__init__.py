"""Data from the official FHIR R4 definitions (CC0): base element definitions
(``base-r4.json``, written by scripts/base_definitions.py, read by ``profiles.base``) and the
core extension definitions, ValueSets and CodeSystems (``core-r4.json``, written by
scripts/core_definitions.py, read by ``profiles.core``)."""
