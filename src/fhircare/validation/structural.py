"""Structural checks: the R4B model, plus what pydantic lets through.

pydantic validates datatypes and formats, but (being lax and name-tolerant) also accepts
``"active": "yes"``, ``birthDate__ext`` or ``fhir_comments`` keys, ``null``, ``[]`` and ``{}``,
and stops checking cardinality and choices of an element once any field in it fails. The
per-object checks here close those gaps: https://hl7.org/fhir/R4/json.html
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fhircare.fhir.jsonio import JsonInteger
from fhircare.fhir.model_errors import structural_errors
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.fhir.rule_tree import ElementKind, ElementRule, TypeNode
from fhircare.validation.issues import IssueCollector

_JSON_TYPE_NAMES = {bool: "boolean", int: "number", float: "number", str: "string"}
_JSON_TYPE_NAMES.update({dict: "object", list: "array", type(None): "null"})
_PRIMITIVE_KINDS = (ElementKind.PRIMITIVE, ElementKind.CODE)


def check_model(resource: Mapping[str, Any], issues: IssueCollector) -> None:
    """Validate the whole resource (contained ones included) against its R4B model."""
    for expression, code, message in structural_errors(resource):
        issues.add(code, message, expression)


def check_object(
    node: TypeNode, obj: Mapping[str, Any], expression: str, issues: IssueCollector
) -> None:
    """Mandatory elements present, and at most one variant of each choice[x]."""
    for name in node.required:
        if name not in obj and "_" + name not in obj:
            where = f"{expression}.{node.elements[name].path}"
            issues.add("required", f"{expression}: Missing required element {name!r}", where)
    for group in node.choices:
        present = group.keys & obj.keys()
        if len(present) > 1 and len({k.lstrip("_") for k in present}) > 1:
            where = f"{expression}.{group.name}"
            names = ", ".join(v for v in group.variants if v in present or "_" + v in present)
            issues.add("structure", f"{where}: Only one of {names} is allowed", where)
        elif group.required and not present:
            where = f"{expression}.{group.name}"
            message = f"{expression}: Missing required element '{group.name}[x]'"
            issues.add("required", message, where)


def check_unknown(node: TypeNode, key: str, expression: str, issues: IssueCollector) -> None:
    """A property the type does not define (``resourceType`` is fine on resources)."""
    if not (key == "resourceType" and node.is_resource):
        issues.add("structure", f"{expression}: Unknown element {key!r}", f"{expression}.{key}")


def check_empty(rule: ElementRule, value: Any, expression: str, issues: IssueCollector) -> bool:
    """null, [], {} and "" are not FHIR values (ele-1); True if ``value`` is one of them.

    https://hl7.org/fhir/R4/json.html and https://hl7.org/fhir/R4/element.html#invs; a
    primitive's string has at least one character (https://hl7.org/fhir/R4/datatypes.html).
    """
    if type(value) is str:
        return value == "" and check_empty_string(rule, f"{expression}.{rule.path}", issues)
    if value is None:
        where = f"{expression}.{rule.path}"
        issues.add("structure", f"{where}: null is not allowed; omit the element", where)
        return True
    if not value and type(value) in (list, dict):
        where = f"{expression}.{rule.path}"
        issues.add("structure", f"{where}: Empty objects and arrays are not allowed", where)
        return True
    return False


def check_empty_string(rule: ElementRule, expression: str, issues: IssueCollector) -> bool:
    """An empty string where a primitive's value goes; True if reported (a string
    primitive: other types report a wrong JSON type, complex ones a wrong shape)."""
    if rule.kind not in _PRIMITIVE_KINDS or str not in rule.json_types:
        return False
    issues.add(
        "value", f"{expression}: Empty strings are not allowed; omit the element", expression
    )
    return True


def check_primitive_type(
    rule: ElementRule, value: Any, expression: str, issues: IssueCollector
) -> bool:
    """JSON type of a primitive (true/false, number or string); False if wrong."""
    # JSON decimals arrive as Decimal subclasses that keep their text (fhir.jsonio), and
    # so does the integer -0 (JsonInteger)
    if isinstance(value, JsonInteger):
        kind: type = int
    else:
        kind = Decimal if isinstance(value, Decimal) else type(value)
    if not rule.json_types or kind in rule.json_types:
        return True
    wanted = (
        "boolean" if bool in rule.json_types else "number" if int in rule.json_types else "string"
    )
    got = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    shown = f" {value!r}" if isinstance(value, str | int | float) and len(repr(value)) <= 64 else ""
    issues.add("value", f"{expression}: Expected a JSON {wanted}, got {got}{shown}", expression)
    return False


def check_inline_resource(value: Any, expression: str, issues: IssueCollector) -> str | None:
    """The type of a contained or Bundle entry resource, or None after reporting why not."""
    if not isinstance(value, dict):
        issues.add("structure", f"{expression}: Expected a resource (JSON object)", expression)
        return None
    resource_type = value.get("resourceType")
    where = f"{expression}.resourceType"
    if resource_type is None:
        issues.add("required", f"{expression}: Missing required element 'resourceType'", where)
    elif not isinstance(resource_type, str) or resource_type not in RESOURCE_TYPES:
        issues.add("value", f"{expression}: Unknown resource type {resource_type!r}", where)
    else:
        return resource_type
    return None
