"""Types a profile narrows: the profiles a value must conform to, and inline resource types.

https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.type.profile:
a value conforms to at least one of its type's profiles (an extension to its definition).
A profile this server does not hold is named in an information issue, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhircare.validation.profiles.nodes import Run
from fhircare.validation.profiles.profile import ProfileRef
from fhircare.validation.profiles.targets import AllowedTypes


class ProfileCheck:
    """The value must conform to one of the profiles."""

    __slots__ = ("refs", "shown")

    def __init__(self, refs: tuple[ProfileRef, ...]) -> None:
        self.refs = refs
        self.shown = " | ".join(r.url for r in refs)

    def __call__(self, value: Any, ext: Any, expression: str, run: Run) -> None:
        known = [r.profile for r in self.refs if r.profile is not None]
        if len(known) == 1 and len(self.refs) == 1:
            run.item(known[0].root, value, ext, expression)
            return
        if any(run.conforms(p.root, value, ext, expression) for p in known):
            return
        if known:
            message = f"{expression}: The value conforms to none of the profiles {self.shown}"
            run.issue("structure", message, expression, key="profile")
        else:
            message = f"{expression}: Profile {self.shown} is not known here, so not checked"
            run.issue("informational", message, expression, "information", key="profile")


class ResourceTypeCheck(AllowedTypes):
    """An inline resource (contained, Bundle.entry.resource) must be of one of ``allowed``."""

    __slots__ = ()

    def __call__(self, value: Any, ext: Any, expression: str, run: Run) -> None:
        if not isinstance(value, Mapping):
            return
        found = value.get("resourceType")
        if isinstance(found, str) and found not in self.allowed:
            message = (
                f"{expression}: A {found} is not allowed here by the profile "
                f"(allowed: {self.shown})"
            )
            run.issue("structure", message, expression, key="type")
