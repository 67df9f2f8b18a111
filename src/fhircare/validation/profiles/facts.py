"""What one ElementDefinition states, read into frozen values.

https://hl7.org/fhir/R4/elementdefinition.html - only the parts a profile check uses:
cardinality, types, fixed and pattern values, binding, constraints, slicing, mustSupport and
contentReference. A field the definition leaves out is None, so a differential can be laid
over what it constrains.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fhircare.validation.profiles.errors import ProfileError

FHIRPATH_TYPES = "http://hl7.org/fhirpath/"
CORE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"
_MAX = re.compile(r"\*|[0-9]+")
_DISCRIMINATOR_TYPES = frozenset({"value", "pattern", "type", "profile", "exists"})
_SLICING_RULES = frozenset({"open", "closed", "openAtEnd"})
_STRENGTHS = frozenset({"required", "extensible", "preferred", "example"})


@dataclass(frozen=True, slots=True)
class TypeRef:
    """ElementDefinition.type: a type code with the profiles it must conform to."""

    code: str
    profiles: tuple[str, ...] = ()
    target_profiles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Binding:
    strength: str
    value_set: str | None


@dataclass(frozen=True, slots=True)
class Constraint:
    """An invariant: https://hl7.org/fhir/R4/conformance-rules.html#constraints"""

    key: str
    severity: str
    expression: str
    human: str


@dataclass(frozen=True, slots=True)
class Discriminator:
    kind: str  # value | pattern | type | profile | exists
    path: str


@dataclass(frozen=True, slots=True)
class Slicing:
    """https://hl7.org/fhir/R4/profiling.html#slicing"""

    discriminators: tuple[Discriminator, ...]
    rules: str = "open"
    ordered: bool = False


EXTENSION_SLICING = Slicing((Discriminator("value", "url"),))
"""Extensions are always sliced by (at least) url: https://hl7.org/fhir/R4/profiling.html#extensions"""


@dataclass(frozen=True, slots=True)
class ElementFacts:
    """One ElementDefinition; None (or empty) where it says nothing."""

    path: str
    id: str | None = None
    slice_name: str | None = None
    min: int | None = None
    max: str | None = None
    types: tuple[TypeRef, ...] | None = None
    binding: Binding | None = None
    constraints: tuple[Constraint, ...] = ()
    slicing: Slicing | None = None
    fixed: Any = None  # (JSON key, value), e.g. ("fixedUri", "http://...")
    pattern: Any = None  # (JSON key, value)
    must_support: bool | None = None
    content_reference: str | None = None


def type_code(code: str) -> str:
    """``http://hl7.org/fhirpath/System.String`` (the value of a primitive) as System.String."""
    return code[len(FHIRPATH_TYPES) :] if code.startswith(FHIRPATH_TYPES) else code


def _strings(value: Any, url: str, where: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(url, f"{name} must be a list of canonical urls", where)
    return tuple(value)


def read_types(value: Any, url: str, where: str) -> tuple[TypeRef, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ProfileError(url, "type must be a non-empty list", where)
    out = []
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("code"), str):
            raise ProfileError(url, "each type needs a code", where)
        out.append(
            TypeRef(
                type_code(item["code"]),
                _strings(item.get("profile"), url, where, "type.profile"),
                _strings(item.get("targetProfile"), url, where, "type.targetProfile"),
            )
        )
    return tuple(out)


def _binding(value: Any, url: str, where: str) -> Binding | None:
    if value is None:
        return None
    strength = value.get("strength") if isinstance(value, Mapping) else None
    if strength not in _STRENGTHS:
        raise ProfileError(url, f"binding strength {strength!r} is not a binding strength", where)
    value_set = value.get("valueSet")
    if value_set is not None and not isinstance(value_set, str):
        raise ProfileError(url, "binding.valueSet must be a canonical url", where)
    return Binding(strength, value_set)


def _constraints(value: Any, url: str, where: str) -> tuple[Constraint, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ProfileError(url, "constraint must be a list", where)
    out = []
    for item in value:
        key = item.get("key") if isinstance(item, Mapping) else None
        if not isinstance(key, str):
            raise ProfileError(url, "each constraint needs a key", where)
        severity = item.get("severity", "error")
        if severity not in ("error", "warning"):
            raise ProfileError(url, f"constraint {key}: severity {severity!r}", where)
        expression = item.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            raise ProfileError(url, f"constraint {key} has no FHIRPath expression", where)
        out.append(Constraint(key, severity, expression, str(item.get("human", ""))))
    return tuple(out)


def read_slicing(value: Any, url: str, where: str) -> Slicing | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ProfileError(url, "slicing must be an object", where)
    discriminators = []
    for item in value.get("discriminator") or ():
        kind = item.get("type") if isinstance(item, Mapping) else None
        path = item.get("path") if isinstance(item, Mapping) else None
        if kind not in _DISCRIMINATOR_TYPES or not isinstance(path, str):
            raise ProfileError(url, f"slicing discriminator {item!r}", where)
        discriminators.append(Discriminator(kind, path))
    rules = value.get("rules", "open")
    if rules not in _SLICING_RULES:
        raise ProfileError(url, f"slicing rules {rules!r}", where)
    return Slicing(tuple(discriminators), rules, bool(value.get("ordered", False)))


def _prefixed(element: Mapping[str, Any], prefix: str, url: str, where: str) -> Any:
    found = [(k, v) for k, v in element.items() if k.startswith(prefix) and k[len(prefix) :]]
    if len(found) > 1:
        raise ProfileError(url, f"more than one {prefix}[x]", where)
    return found[0] if found else None


def read_element(element: Any, url: str) -> ElementFacts:
    """The facts of one ElementDefinition JSON object of the StructureDefinition ``url``."""
    if not isinstance(element, Mapping) or not isinstance(element.get("path"), str):
        raise ProfileError(url, "an element has no path")
    path = element["path"]
    element_id = element.get("id")
    where: str = element_id if isinstance(element_id, str) else path
    minimum = element.get("min")
    if minimum is not None and (type(minimum) is not int or minimum < 0):
        raise ProfileError(url, f"min {minimum!r} is not a non-negative integer", where)
    maximum = element.get("max")
    if maximum is not None and (not isinstance(maximum, str) or not _MAX.fullmatch(maximum)):
        raise ProfileError(url, f"max {maximum!r} is not '*' or an integer", where)
    if minimum is not None and maximum is not None and maximum != "*" and minimum > int(maximum):
        raise ProfileError(url, f"min {minimum} is above max {maximum}", where)
    slice_name = element.get("sliceName")
    if slice_name is not None and (not isinstance(slice_name, str) or not slice_name):
        raise ProfileError(url, "sliceName must be a non-empty string", where)
    must_support = element.get("mustSupport")
    reference = element.get("contentReference")
    return ElementFacts(
        path=path,
        id=element_id if isinstance(element_id, str) else None,
        slice_name=slice_name,
        min=minimum,
        max=maximum,
        types=read_types(element.get("type"), url, where),
        binding=_binding(element.get("binding"), url, where),
        constraints=_constraints(element.get("constraint"), url, where),
        slicing=read_slicing(element.get("slicing"), url, where),
        fixed=_prefixed(element, "fixed", url, where),
        pattern=_prefixed(element, "pattern", url, where),
        must_support=must_support if isinstance(must_support, bool) else None,
        content_reference=reference if isinstance(reference, str) else None,
    )
