"""Checks of a resource against StructureDefinition constraint profiles, with no I/O.

https://hl7.org/fhir/R4/profiling.html - a ``ProfileSet`` builds each profile's snapshot from
its differential over the base R4 definitions (``data/base-r4.json``) and compiles it once,
over the core R4 extension definitions, ValueSets and CodeSystems (``data/core-r4.json``);
``check_profile`` walks a resource over the compiled elements: cardinality, types and
reference targets, fixed and pattern values, bindings, slicing, extensions and invariants.
"""

from fhircare.validation.profiles.check import check_profile
from fhircare.validation.profiles.errors import ProfileError
from fhircare.validation.profiles.profile import Profile
from fhircare.validation.profiles.profileset import ProfileSet

__all__ = ["Profile", "ProfileError", "ProfileSet", "check_profile"]
