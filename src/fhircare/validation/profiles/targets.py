"""Reference targets a profile narrows: https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.type.targetProfile

Without fetching anything, only the target's type can be checked: the one a literal
reference names (``Patient/1``, an absolute URL ending so, ``#id`` of a contained
resource) or else ``Reference.type``. A reference whose type cannot be told (``urn:uuid:``,
a logical reference) is not checked; neither is whether the target conforms to the
target profile itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhircare.validation.profiles.nodes import Run
from fhircare.validation.references import reference_type


def target_type(value: Mapping[str, Any], run: Run) -> str | None:
    """The resource type a Reference points at, when it says."""
    reference = value.get("reference")
    target: str | None = None
    if isinstance(reference, str):
        if reference.startswith("#"):
            target = run.contained_type(reference[1:])
        else:
            target = reference_type(reference)[1]
    if target is None and isinstance(value.get("type"), str):
        declared = value["type"]
        target = declared.rpartition("/")[2] if declared else None
    return target


class AllowedTypes:
    """A check that allows resource types ``allowed``, shown in messages as ``shown``."""

    __slots__ = ("allowed", "shown")

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed
        self.shown = " | ".join(sorted(allowed))


class TargetCheck(AllowedTypes):
    """The target of a Reference must be one of ``allowed`` (resource types)."""

    __slots__ = ()

    def __call__(self, value: Any, ext: Any, expression: str, run: Run) -> None:
        if not isinstance(value, Mapping):
            return
        target = target_type(value, run)
        if target is None or target in self.allowed:
            return
        where = f"{expression}.reference" if "reference" in value else f"{expression}.type"
        message = (
            f"{where}: A reference to {target} is not allowed by the profile "
            f"(allowed: {self.shown})"
        )
        run.issue("value", message, where, key="target")
