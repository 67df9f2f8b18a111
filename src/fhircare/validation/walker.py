"""One pass over resource JSON, driven by the precomputed rule tree.

Every object is checked structurally; codes, references and inline resources are handed to
their own modules. The walk never assumes the JSON is well shaped: anything not matching the
rules is skipped here because ``structural.check_model`` reports it. Primitives, the bulk of
any resource, are checked inline and get an expression string only when they fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhircare.fhir.rule_tree import ElementKind, ElementRule, TypeNode, element_rules
from fhircare.validation import bindings, references, structural
from fhircare.validation.issues import IssueCollector

_PRIMITIVE = ElementKind.PRIMITIVE
_CODE = ElementKind.CODE
_COMPLEX = ElementKind.COMPLEX
_REFERENCE = ElementKind.REFERENCE
_RESOURCE = ElementKind.RESOURCE


class _Walk:
    __slots__ = ("contained_ids", "issues")

    def __init__(self, issues: IssueCollector, resource: Mapping[str, Any]) -> None:
        self.issues = issues
        self.contained_ids = contained_ids(resource)

    def object(self, node: TypeNode, obj: Mapping[str, Any], expression: str) -> None:
        structural.check_object(node, obj, expression, self.issues)
        elements = node.elements
        for key, value in obj.items():
            rule = elements.get(key)
            if rule is None:
                structural.check_unknown(node, key, expression, self.issues)
                continue
            if not value and structural.check_empty(rule, value, expression, self.issues):
                continue
            kind = rule.kind
            if kind is _PRIMITIVE:
                json_types = rule.json_types
                if not json_types:
                    continue
                if not rule.is_list:
                    if type(value) not in json_types and type(value) is not list:
                        self.bad_type(rule, value, f"{expression}.{rule.path}")
                elif type(value) is list:
                    for index, item in enumerate(value):
                        if item is not None and type(item) not in json_types:
                            self.bad_type(rule, item, f"{expression}.{rule.path}[{index}]")
            elif kind is _CODE or kind is _COMPLEX or kind is _REFERENCE or kind is _RESOURCE:
                if rule.is_list:
                    if type(value) is list:
                        path = f"{expression}.{rule.path}"
                        for index, item in enumerate(value):
                            if item is not None:  # nulls align primitives with _name siblings
                                self.value(rule, item, f"{path}[{index}]")
                elif type(value) is not list:
                    self.value(rule, value, f"{expression}.{rule.path}")
            # EXTENSION and PRIMITIVE_EXTENSION: pydantic's job

    def bad_type(self, rule: ElementRule, value: Any, expression: str) -> None:
        structural.check_primitive_type(rule, value, expression, self.issues)

    def value(self, rule: ElementRule, value: Any, expression: str) -> None:
        kind = rule.kind
        if kind is _CODE:
            if structural.check_primitive_type(rule, value, expression, self.issues):
                bindings.check_code(rule, value, expression, self.issues)
        elif kind is _RESOURCE:
            resource_type = structural.check_inline_resource(value, expression, self.issues)
            if resource_type is not None:
                # Contained resources resolve "#id" among their siblings; a Bundle entry's
                # resource is a container of its own.
                walk = self if rule.name == "contained" else _Walk(self.issues, value)
                walk.object(element_rules(resource_type), value, expression)
        elif type(value) is not dict or rule.child is None:
            return
        elif kind is _COMPLEX:
            self.object(rule.child, value, expression)
        else:
            references.check_reference(rule, value, expression, self.contained_ids, self.issues)
            self.object(rule.child, value, expression)


def contained_ids(resource: Mapping[str, Any]) -> frozenset[str]:
    contained = resource.get("contained")
    if not isinstance(contained, list):
        return frozenset()
    return frozenset(
        c["id"] for c in contained if isinstance(c, dict) and isinstance(c.get("id"), str)
    )


def walk_resource(resource: Mapping[str, Any], issues: IssueCollector) -> None:
    """Check bindings, references and JSON structure of a resource of a served type."""
    resource_type = resource["resourceType"]
    _Walk(issues, resource).object(element_rules(resource_type), resource, resource_type)
