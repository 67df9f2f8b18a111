"""FHIR search: parameter registry, index extraction at write time, the SearchRequest IR."""
