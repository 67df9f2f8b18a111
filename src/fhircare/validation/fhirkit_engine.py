"""The ``fhirkit`` structural engine: fhirkit-rs (R4 4.0.1, in Rust), reported in our terms.

fhirkit reports every problem with a path of JSON names (``Observation.valueQuantity.value``,
``Observation.value[x]``) and a message. Each becomes an ``Issue`` with a FHIRPath
expression, following the rule tree as ``model_errors`` does for the models
(``Observation.value.ofType(Quantity).value``), and an issue code from
https://hl7.org/fhir/R4/valueset-issue-type.html read off the message: ``required`` for a
missing element, ``structure`` for an unknown element or a wrong JSON shape, ``value`` for a
bad primitive value.

fhirkit knows all 146 R4 types; we serve fewer. The rule walk already reports a contained or
Bundle entry resource of a type we do not serve, so nothing fhirkit says inside one is kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import fhirkit

from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.fhir.rule_tree import ElementKind, ElementRule, TypeNode, element_rules
from fhircare.validation.issues import IssueCollector

__all__ = ["check_fhirkit", "fhirkit_issues"]

_STEP = re.compile(r"(?P<name>[^.\[\]]+)(?:\[(?P<index>\d+)\])?")
_REQUIRED = "required element missing"
_UNKNOWN = "unknown element"
_NULL_PLACE = "null with no extension in its place"
_STRUCTURE_MESSAGES = (
    "expected an object",
    "expected an array",
    "only one type may be given",
    "null is not allowed",
    _NULL_PLACE,
    "an empty array is not allowed",
    "an empty object is not allowed",
    "the key appears more than once",
)
_PRIMITIVE_KINDS = (ElementKind.PRIMITIVE, ElementKind.CODE)


def check_fhirkit(resource: Mapping[str, Any], issues: IssueCollector) -> None:
    """Validate a resource of a served type with fhirkit; never raises for any JSON input."""
    for code, message, expression in fhirkit_issues(resource):
        issues.add(code, message, expression)


def fhirkit_issues(
    resource: Mapping[str, Any], body: bytes | None = None
) -> list[tuple[str, str, str]]:
    """(issue code, message, FHIRPath expression) of each error fhirkit finds.

    With ``body`` (``resource`` as JSON text) fhirkit reads the text instead of converting
    the dict, which is faster; it then also reports a key repeated in the text.
    """
    resource_type = resource["resourceType"]
    data: Any = body if body is not None else resource
    try:
        found = fhirkit.validate(data if isinstance(data, bytes | dict) else dict(data))
    except Exception as exc:  # NaN or a non-JSON value: report it, never a 500
        return [("structure", f"{resource_type}: Could not be validated ({exc})", resource_type)]
    out: list[tuple[str, str, str]] = []
    for issue in found:
        if issue.severity != "error":
            continue
        located = _locate(issue.path, element_rules(resource_type), resource)
        if located is None:
            continue
        converted = _convert(issue.message, located)
        if converted is not None:
            out.append(converted)
    # A value of the wrong shape is also "missing" to fhirkit: the shape is the problem.
    shaped = {expression for code, _, expression in out if code == "structure"}
    return [i for i in out if not (i[0] == "required" and i[2] in shaped)]


class _Located:
    """Where a fhirkit path points: its FHIRPath, its parent's, and the rules on the way."""

    __slots__ = ("data", "expression", "name", "parent", "parent_node", "rule")

    def __init__(
        self,
        expression: str,
        parent: str,
        name: str,
        parent_node: TypeNode | None,
        rule: ElementRule | None,
        data: Any,
    ) -> None:
        self.expression = expression
        self.parent = parent
        self.name = name
        self.parent_node = parent_node
        self.rule = rule
        self.data = data


def _locate(path: str, node: TypeNode, data: Any) -> _Located | None:
    """Follow a fhirkit path through the rule tree and the resource in parallel.

    None when the path leads into an inline resource of a type we do not serve (or into
    something that is not a resource at all): the walk reports that resource instead.
    """
    root, _, rest = path.partition(".")
    expression = parent = root
    current: TypeNode | None = node
    parent_node: TypeNode | None = node
    rule: ElementRule | None = None
    name = ""
    for step in rest.split(".") if rest else ():
        parent, parent_node = expression, current
        if step.endswith("[x]"):  # a choice element as a whole: value[x] is "value"
            name = step
            expression += "." + step[:-3]
            rule, current, data = None, None, None
            continue
        match = _STEP.fullmatch(step)
        if match is None:  # an odd key: keep it as written
            name = step
            expression += "." + step
            rule, current, data = None, None, None
            continue
        name, index = match["name"], match["index"]
        rule = current.elements.get(name) if current is not None else None
        expression += "." + (rule.path if rule is not None else name)
        data = data.get(name) if isinstance(data, dict) else None
        if index is not None:
            expression += f"[{index}]"
            position = int(index)
            data = data[position] if isinstance(data, list) and position < len(data) else None
        current = rule.child if rule is not None else None
        if rule is not None and rule.kind is ElementKind.RESOURCE:
            if rule.is_list and index is None:
                continue  # the array itself, as "contained" given an object
            resource_type = data.get("resourceType") if isinstance(data, dict) else None
            if not isinstance(resource_type, str) or resource_type not in RESOURCE_TYPES:
                return None
            current = element_rules(resource_type)
    return _Located(expression, parent, name, parent_node, rule, data)


def _convert(message: str, here: _Located) -> tuple[str, str, str] | None:
    expression = here.expression
    if message == _REQUIRED:
        return "required", f"{here.parent}: Missing required element '{here.name}'", expression
    if message == _UNKNOWN:
        if here.parent_node is not None and here.name in here.parent_node.elements:
            return None  # a second choice variant or a repeated key: reported as such
        return "structure", f"{here.parent}: Unknown element '{here.name}'", expression
    if message.startswith(_NULL_PLACE) and here.data is not None:
        return None  # an empty string in an array of primitives, reported as such
    text = message[:1].upper() + message[1:]
    if message.startswith("expected a single value"):
        primitive = here.rule is not None and here.rule.kind in _PRIMITIVE_KINDS
        return "value" if primitive else "structure", f"{expression}: {text}", expression
    if message.startswith(_STRUCTURE_MESSAGES) or "arrays must line up" in message:
        return "structure", f"{expression}: {text}", expression
    return "value", f"{expression}: {text}", expression
