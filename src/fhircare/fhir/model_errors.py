"""Structural validation by the R4B models, reported in FHIR terms.

pydantic reports errors at a ``loc`` of Python field names and list indexes, in its own
wording. ``structural_errors`` runs the model and turns each error into a FHIRPath
expression, an OperationOutcome issue code and a message, following the rule tree so that
``valueQuantity`` reads ``value.ofType(Quantity)`` and ``birthDate__ext`` reads ``birthDate``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fhircare.fhir.models import RESOURCE_TYPES, pydantic_errors
from fhircare.fhir.rule_tree import ElementKind, ElementRule, TypeNode, element_rules

__all__ = ["structural_errors"]

_MISSING_TYPES = frozenset({"missing", "model_field_validation.missing"})
_SHAPE_TYPES = frozenset(
    {"json_invalid", "model_type", "dict_type", "model_attributes_type", "list_type"}
)
_CHOICE_FIELDS = re.compile(r"\[([^\]]*)\]")


def structural_errors(resource: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Validate against the R4B model: (FHIRPath expression, issue code, message) per error.

    Issue codes are from https://hl7.org/fhir/R4/valueset-issue-type.html: ``required`` for a
    missing element, ``structure`` for an unknown element or wrong JSON shape, ``value`` for
    a bad primitive value. Never raises for any JSON input.
    """
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or resource_type not in RESOURCE_TYPES:
        return [("resourceType", "value", f"Unknown resource type {resource_type!r}")]
    out: list[tuple[str, str, str]] = []
    data: Mapping[str, Any] = resource
    contained = resource.get("contained")
    if isinstance(contained, list) and not all(_is_served_resource(c) for c in contained):
        # fhir_core raises KeyError on unknown contained types: validate the container
        # without them and each servable contained resource on its own.
        data = {k: v for k, v in resource.items() if k != "contained"}
        for index, item in enumerate(contained):
            expr = f"{resource_type}.contained[{index}]"
            problem = _inline_resource_problem(item, expr)
            if problem:
                out.append(problem)
            else:
                out.extend(_validate(item, expr))
    out.extend(_validate(data, resource_type))
    return out


def _is_served_resource(item: Any) -> bool:
    resource_type = item.get("resourceType") if isinstance(item, dict) else None
    return isinstance(resource_type, str) and resource_type in RESOURCE_TYPES


def _inline_resource_problem(item: Any, expr: str) -> tuple[str, str, str] | None:
    """Why an inline resource cannot be validated, or None."""
    if not isinstance(item, dict):
        return expr, "structure", f"{expr}: Expected a resource (JSON object)"
    resource_type = item.get("resourceType")
    if resource_type is None:
        where = f"{expr}.resourceType"
        return where, "required", f"{expr}: Missing required element 'resourceType'"
    if not isinstance(resource_type, str) or resource_type not in RESOURCE_TYPES:
        return f"{expr}.resourceType", "value", f"{expr}: Unknown resource type {resource_type!r}"
    return None


def _validate(data: Mapping[str, Any], root: str) -> list[tuple[str, str, str]]:
    resource_type = data["resourceType"]
    node = element_rules(resource_type)
    try:
        errors = pydantic_errors(resource_type, data)
    except KeyError:  # fhir_core looks up inline resource types unguarded (Bundle entries)
        return [(root, "structure", f"{root}: Contains a resource of an unknown type")]
    except Exception as exc:  # never let a model bug turn into a 500
        return [(root, "structure", f"{root}: Could not be validated ({type(exc).__name__})")]
    return [_convert(err, root, node, data) for err in errors]


@dataclass(frozen=True, slots=True)
class _Located:
    """Where a pydantic ``loc`` points: FHIRPath, the rules there, the input there."""

    expression: str
    node: TypeNode | None  # rules of the object at loc (None if unknown)
    data: Any
    rule: ElementRule | None  # rule of the last named step


def _locate(root: str, node: TypeNode, data: Any, loc: tuple[Any, ...]) -> _Located:
    """Follow a pydantic ``loc`` through the rule tree and the input in parallel."""
    parts = [root]
    current: TypeNode | None = node
    rule: ElementRule | None = None
    for key in loc:
        if isinstance(key, int):
            parts.append(f"[{key}]")
            data = data[key] if isinstance(data, list) and -len(data) <= key < len(data) else None
        elif key != "root":  # fhir_core's wrapper validator adds this step
            rule = None
            if current is not None:
                rule = current.elements.get(key) or current.elements.get(
                    current.python_names.get(key, "")
                )
            parts.append("." + (rule.path if rule else str(key)))
            data = data.get(key) if isinstance(data, dict) else None
            current = rule.child if rule else None
        if rule is not None and rule.kind is ElementKind.RESOURCE:
            current = element_rules(data["resourceType"]) if _is_served_resource(data) else None
    return _Located("".join(parts), current, data, rule)


def _convert(err: Mapping[str, Any], root: str, node: TypeNode, data: Any) -> tuple[str, str, str]:
    loc: tuple[Any, ...] = tuple(k for k in err.get("loc", ()) if k != "root")
    kind: str = err.get("type", "")
    message: str = err.get("msg", "").removeprefix("Value error, ")
    last = loc[-1] if loc else None
    if last == "resource_type":  # "resourceType" inside a non-resource element
        parent = _locate(root, node, data, loc[:-1]).expression
        return f"{parent}.resourceType", "structure", f"{parent}: Unknown element 'resourceType'"
    here = _locate(root, node, data, loc)
    expr = here.expression
    if kind in _MISSING_TYPES and isinstance(last, str):
        parent = _locate(root, node, data, loc[:-1]).expression
        name = here.rule.name if here.rule else last
        return expr, "required", f"{parent}: Missing required element '{name}'"
    if kind == "extra_forbidden" and isinstance(last, str):
        parent = _locate(root, node, data, loc[:-1]).expression
        return expr, "structure", f"{parent}: Unknown element '{last}'"
    if kind == "value_error" and "one field value is expected" in message:
        return _choice_issue(here, message, multiple=True)
    if kind == "value_error" and "Expect any of field value" in message:
        return _choice_issue(here, message, multiple=False)
    if kind == "list_type" and message.startswith("None is not allowed"):
        return expr, "structure", f"{expr}: null is not allowed in an array of elements"
    if kind in _SHAPE_TYPES:
        wanted = "a JSON array" if kind == "list_type" else "a JSON object"
        return expr, "structure", f"{expr}: Expected {wanted}"
    if kind == "model_validation_format" and message.startswith("Value is expected from"):
        return expr, "structure", f"{expr}: Expected a JSON object"
    value = err.get("input")
    if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 64):
        message = f"{message} (got {value!r})"
    return expr, "value", f"{expr}: {message}"


def _choice_issue(here: _Located, message: str, *, multiple: bool) -> tuple[str, str, str]:
    """Map fhir_core's one-of-many errors onto the choice element, e.g. Observation.value."""
    found = _CHOICE_FIELDS.search(message)
    names = [n.strip(" '\"") for n in found.group(1).split(",")] if found else []
    rule = here.node.elements.get(names[0]) if here.node and names else None
    choice = rule.choice if rule and rule.choice else _choice_prefix(names)
    expr = here.expression
    if not choice:
        return expr, "value", f"{expr}: {message}"
    target = f"{expr}.{choice}"
    if multiple:
        obj = here.data
        present = [n for n in names if isinstance(obj, dict) and n in obj]
        return target, "structure", f"{target}: Only one of {', '.join(present)} is allowed"
    return target, "required", f"{expr}: Missing required element '{choice}[x]'"


def _choice_prefix(names: list[str]) -> str:
    """'value' from ['valueAddress', 'valueAge', ...]: the shared stem before a type name."""
    prefix = min(names, key=len) if names else ""
    while prefix and not all(n.startswith(prefix) for n in names):
        prefix = prefix[:-1]
    while prefix and not all(len(n) > len(prefix) and n[len(prefix)].isupper() for n in names):
        prefix = prefix[:-1]
    return prefix
