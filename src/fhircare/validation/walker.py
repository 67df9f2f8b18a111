"""One pass over resource JSON, driven by the precomputed rule tree.

Every object is checked structurally; codes, references and inline resources are handed to
their own modules, and a few primitive formats to ``formats``. The walk never assumes the
JSON is well shaped: anything not matching the rules is skipped here because the structural
engine reports it. Primitives, the bulk of any resource, are checked inline and get an
expression string only when they fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhircare.fhir.rule_tree import ElementKind, ElementRule, TypeNode, element_rules
from fhircare.validation import bindings, formats, references, structural
from fhircare.validation.issues import IssueCollector

_PRIMITIVE = ElementKind.PRIMITIVE
_CODE = ElementKind.CODE
_COMPLEX = ElementKind.COMPLEX
_REFERENCE = ElementKind.REFERENCE
_RESOURCE = ElementKind.RESOURCE
_EXTENSION = ElementKind.EXTENSION
_PRIMITIVE_EXTENSION = ElementKind.PRIMITIVE_EXTENSION
_FORMATS = formats.CHECKS


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
                check = _FORMATS.get(rule.primitive)
                if not rule.is_list:
                    if type(value) not in json_types:
                        if type(value) is not list:
                            self.bad_type(rule, value, f"{expression}.{rule.path}")
                    elif check is not None and not check(value):
                        where = f"{expression}.{rule.path}"
                        formats.report(rule.primitive, value, where, self.issues)
                elif type(value) is list:
                    for index, item in enumerate(value):
                        if item is None:
                            self.null_item(obj, rule, index, expression)
                        elif item == "":
                            where = f"{expression}.{rule.path}[{index}]"
                            structural.check_empty_string(rule, where, self.issues)
                        elif type(item) not in json_types:
                            self.bad_type(rule, item, f"{expression}.{rule.path}[{index}]")
                        elif check is not None and not check(item):
                            where = f"{expression}.{rule.path}[{index}]"
                            formats.report(rule.primitive, item, where, self.issues)
            elif kind is not _PRIMITIVE_EXTENSION:
                if rule.is_list:
                    if type(value) is list:
                        path = f"{expression}.{rule.path}"
                        for index, item in enumerate(value):
                            if item is None:
                                if kind is _CODE:
                                    self.null_item(obj, rule, index, expression)
                            elif item == "" and kind is _CODE:
                                where = f"{path}[{index}]"
                                structural.check_empty_string(rule, where, self.issues)
                            elif item or type(item) is not dict or kind is _RESOURCE:
                                self.value(rule, item, f"{path}[{index}]")
                            else:
                                self.empty_item(f"{path}[{index}]")
                elif type(value) is not list:
                    self.value(rule, value, f"{expression}.{rule.path}")
            elif rule.is_list and type(value) is list:  # "_name" of a repeating primitive
                self.lined_up(obj, rule, value, expression)
            # the content of "_name": the engine's

    def bad_type(self, rule: ElementRule, value: Any, expression: str) -> None:
        structural.check_primitive_type(rule, value, expression, self.issues)

    def null_item(self, obj: Mapping[str, Any], rule: ElementRule, index: int, path: str) -> None:
        """A null in an array of primitives only holds the place of an extension in the
        ``_name`` array: https://hl7.org/fhir/R4/json.html#primitive"""
        siblings = obj.get("_" + rule.name)
        if type(siblings) is list and index < len(siblings) and siblings[index] is not None:
            return
        where = f"{path}.{rule.path}[{index}]"
        message = f"{where}: null is only allowed where _{rule.name} has an extension"
        self.issues.add("structure", message, where)

    def lined_up(
        self, obj: Mapping[str, Any], rule: ElementRule, extensions: list[Any], path: str
    ) -> None:
        """``_name`` holds the ids and extensions of ``name``'s values position by position,
        so both arrays have one entry per value: https://hl7.org/fhir/R4/json.html#primitive"""
        name = rule.name[1:]
        values = obj.get(name)
        if values is not None and type(values) is not list:
            return  # a wrong shape, reported with name
        if values is not None and len(values) != len(extensions):
            where = f"{path}.{rule.path}"
            message = (
                f"{where}: {rule.name} has {len(extensions)} entries and {name} "
                f"{len(values)}; the two arrays must line up"
            )
            self.issues.add("structure", message, where)
            return
        for index, item in enumerate(extensions):
            if item is None and (values is None or values[index] is None):
                where = f"{path}.{rule.path}[{index}]"
                message = f"{where}: null in both {name} and {rule.name}: the entry is empty"
                self.issues.add("structure", message, where)

    def empty_item(self, expression: str) -> None:
        """ele-1: an element has a value or children, so ``{}`` is none."""
        message = f"{expression}: Empty objects and arrays are not allowed"
        self.issues.add("structure", message, expression)

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
        elif kind is _COMPLEX or kind is _EXTENSION:
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
