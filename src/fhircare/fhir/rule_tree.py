"""The rule tree: what ``fhircare.validation`` checks that the R4B models do not.

The models leave required bindings, reference syntax and targets, JSON types of primitives
and keys pydantic accepts by Python name unchecked. ``element_rules`` precomputes, per
resource type, a tree of ``TypeNode``/``ElementRule`` from the models' field metadata, which
the validator walks once per write. ``summary_elements`` and ``mandatory_elements`` read the
same metadata for ``_summary`` and ``_elements``.
"""

from __future__ import annotations

import decimal
import threading
import types
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any

from pydantic import BaseModel

from fhircare.fhir.models import fhirtype_model, fhirtype_path, model_class
from fhircare.fhir.value_sets import allowed_codes

__all__ = [
    "ChoiceGroup",
    "ElementKind",
    "ElementRule",
    "TypeNode",
    "element_rules",
    "mandatory_elements",
    "summary_elements",
]


class ElementKind(Enum):
    """How ``fhircare.validation`` treats an element while walking resource JSON."""

    PRIMITIVE = "primitive"  # JSON type checked; its value format mostly the engine's job
    CODE = "code"  # primitive code with a required binding we enforce (``values``)
    COMPLEX = "complex"  # datatype or backbone element: walk ``child``
    REFERENCE = "reference"  # Reference: check ``reference``, targets in ``values``; walk child
    RESOURCE = "resource"  # inline resource (contained, Bundle.entry.resource): by resourceType
    EXTENSION = "extension"  # Extension: walked like COMPLEX (``child``), kept apart for callers
    PRIMITIVE_EXTENSION = "primitive-extension"  # ``_name`` sibling of a primitive


@dataclass(slots=True, eq=False)
class ElementRule:
    """One JSON property of a FHIR type.

    ``values`` holds the allowed codes (CODE) or allowed reference target types (REFERENCE,
    empty means any); ``allowed`` is the same as a set for O(1) membership tests.
    """

    name: str  # JSON property name, e.g. "valueQuantity" or "_status"
    path: str  # FHIRPath step, e.g. "value.ofType(Quantity)" or "status"
    kind: ElementKind
    is_list: bool
    values: tuple[str, ...] = ()
    allowed: frozenset[str] = frozenset()
    child: TypeNode | None = None
    json_types: tuple[type, ...] = ()  # accepted Python types of a primitive's JSON value
    choice: str | None = None  # "value" for value[x] variants
    primitive: str | None = None  # FHIR primitive type of a PRIMITIVE or CODE, e.g. "dateTime"


@dataclass(frozen=True, slots=True)
class ChoiceGroup:
    """A choice element ``name[x]``: at most one variant may appear; maybe one must.

    https://hl7.org/fhir/R4/formats.html#choice
    """

    name: str  # FHIRPath name, e.g. "value"
    variants: tuple[str, ...]  # JSON names, e.g. ("valueQuantity", "valueString", ...)
    required: bool
    keys: frozenset[str] = frozenset()  # variants and their "_name" siblings


@dataclass(slots=True, eq=False)
class TypeNode:
    """The rules for one model class; nodes reference each other and may form cycles."""

    type_name: str
    is_resource: bool
    elements: dict[str, ElementRule] = field(default_factory=dict)
    required: tuple[str, ...] = ()  # JSON names with min cardinality >= 1 (not choices)
    choices: tuple[ChoiceGroup, ...] = ()
    python_names: dict[str, str] = field(default_factory=dict)  # "class_fhir" -> "class"

    def __repr__(self) -> str:  # the default would recurse through cycles
        return f"TypeNode({self.type_name!r}, {len(self.elements)} elements)"


# Primitive metadata class (fhir_core.types) -> FHIR primitive type name.
_PRIMITIVE_NAMES = {
    "String": "string",
    "Code": "code",
    "Id": "id",
    "Uri": "uri",
    "Url": "url",
    "Canonical": "canonical",
    "Oid": "oid",
    "Uuid": "uuid",
    "Markdown": "markdown",
    "Xhtml": "xhtml",
    "Base64Binary": "base64Binary",
    "Date": "date",
    "DateTime": "dateTime",
    "Instant": "instant",
    "Time": "time",
    "Integer": "integer",
    "UnsignedInt": "unsignedInt",
    "PositiveInt": "positiveInt",
    "Integer64": "integer64",
    "Decimal": "decimal",
}
_FHIR_PRIMITIVES = frozenset(_PRIMITIVE_NAMES.values()) | {"boolean"}

# JSON representation of primitives: https://hl7.org/fhir/R4/json.html#primitive
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "unsignedInt": (int,),
    "positiveInt": (int,),
    "decimal": (int, float, decimal.Decimal),
}
_JSON_STRING: tuple[type, ...] = (str,)


def _unwrap(annotation: Any) -> tuple[Any, bool, tuple[Any, ...]]:
    """Strip Optional/List/Annotated: (inner type, is_list, Annotated metadata)."""
    is_list = False
    metadata: tuple[Any, ...] = ()
    tp = annotation
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Union or origin is types.UnionType:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, is_list, metadata
            tp = args[0]
        elif origin is list:
            is_list = True
            tp = typing.get_args(tp)[0]
        elif origin is typing.Annotated:
            metadata = tuple(tp.__metadata__)
            tp = typing.get_args(tp)[0]
        else:
            return tp, is_list, metadata


def _primitive_name(tp: Any, metadata: tuple[Any, ...]) -> str | None:
    for meta in metadata:
        name = _PRIMITIVE_NAMES.get(type(meta).__name__)
        if name:
            return name
    if tp is bool:
        return "boolean"
    if tp is uuid.UUID:  # fhir_core types uuid as Annotated[UUID, UuidVersion(4)]
        return "uuid"
    return _PRIMITIVE_NAMES.get(getattr(tp, "__name__", ""))


def _choice_path(prefix: str, json_name: str) -> str:
    """FHIRPath for a choice variant: valueQuantity -> value.ofType(Quantity)."""
    suffix = json_name[len(prefix) :]
    lowered = suffix[:1].lower() + suffix[1:]
    return f"{prefix}.ofType({lowered if lowered in _FHIR_PRIMITIVES else suffix})"


# Elements the R4B models have in types we serve but FHIR R4 (4.0.1) does not: subject[x]
# gained a canonical, and choices of any type gained R4B's CodeableReference and RatioRange
# (https://hl7.org/fhir/R4B/diff.html). Left out of the tree, they are unknown elements.
_NOT_IN_R4: dict[str, frozenset[str]] = {
    "ActivityDefinition": frozenset({"subjectCanonical"}),
    "PlanDefinition": frozenset({"subjectCanonical"}),
    "PlanDefinitionAction": frozenset({"subjectCanonical"}),
    "Extension": frozenset({"valueCodeableReference", "valueRatioRange"}),
    "ElementDefinitionExample": frozenset({"valueCodeableReference", "valueRatioRange"}),
    "ElementDefinition": frozenset(
        f"{prefix}{suffix}"
        for prefix in ("defaultValue", "fixed", "pattern")
        for suffix in ("CodeableReference", "RatioRange")
    ),
}

_BUILD_LOCK = threading.RLock()
_NODES: dict[type[BaseModel], TypeNode] = {}


def _node_for(cls: type[BaseModel]) -> TypeNode:
    """Rules for a model class, memoized per class (which also breaks reference cycles)."""
    node = _NODES.get(cls)
    if node is not None:
        return node
    node = TypeNode(
        type_name=getattr(cls, "__resource_type__", cls.__name__),
        is_resource=bool(getattr(cls, "has_resource_base", lambda: False)()),
    )
    _NODES[cls] = node  # before filling: children may point back here
    required: list[str] = []
    choices: dict[str, tuple[list[str], bool]] = {}
    ext_fields: list[tuple[str, str, Any]] = []
    not_in_r4 = _NOT_IN_R4.get(node.type_name, frozenset())
    for py_name, info in cls.model_fields.items():
        json_name = info.alias or py_name
        if py_name == "fhir_comments" or json_name.lstrip("_") in not_in_r4:
            continue
        if py_name.endswith("__ext"):
            ext_fields.append((py_name, json_name, info.annotation))
            continue
        if py_name != json_name:
            node.python_names[py_name] = json_name
        extra: Mapping[str, Any] = info.json_schema_extra or {}  # type: ignore[assignment]
        rule = _rule_for(node.type_name, json_name, info.annotation, extra)
        prefix = extra.get("one_of_many")
        if isinstance(prefix, str):
            rule.path = _choice_path(prefix, json_name)
            rule.choice = prefix
            variants, _ = choices.setdefault(prefix, ([], False))
            choices[prefix] = (variants, bool(extra.get("one_of_many_required")))
            variants.append(json_name)
        elif info.is_required() or extra.get("element_required"):
            required.append(json_name)
        node.elements[json_name] = rule
    for py_name, json_name, annotation in ext_fields:
        base = node.elements.get(json_name[1:])
        node.python_names[py_name] = json_name
        node.elements[json_name] = ElementRule(
            name=json_name,
            path=base.path if base else json_name[1:],
            kind=ElementKind.PRIMITIVE_EXTENSION,
            is_list=_unwrap(annotation)[1],
            choice=base.choice if base else None,
        )
    node.required = tuple(required)
    node.choices = tuple(
        ChoiceGroup(name, tuple(variants), req, frozenset(variants) | {f"_{v}" for v in variants})
        for name, (variants, req) in choices.items()
    )
    return node


def _rule_for(owner: str, json_name: str, annotation: Any, extra: Mapping[str, Any]) -> ElementRule:
    tp, is_list, metadata = _unwrap(annotation)
    dotted = fhirtype_path(tp)
    if dotted is None:
        primitive = _primitive_name(tp, metadata)
        json_types = _JSON_TYPES.get(primitive or "", _JSON_STRING) if primitive else ()
        codes = (
            allowed_codes(owner, json_name, extra.get("enum_values")) if primitive == "code" else ()
        )
        return ElementRule(
            name=json_name,
            path=json_name,
            kind=ElementKind.CODE if codes else ElementKind.PRIMITIVE,
            is_list=is_list,
            values=codes,
            allowed=frozenset(codes),
            json_types=json_types,
            primitive=primitive,
        )
    class_name = dotted.rpartition(".")[2]
    if class_name == "Extension":
        # ``child`` lets the validator look inside (JSON types, formats, bindings of value[x])
        child = _node_for(fhirtype_model(tp))
        return ElementRule(json_name, json_name, ElementKind.EXTENSION, is_list, child=child)
    if class_name in ("Resource", "DomainResource"):
        return ElementRule(json_name, json_name, ElementKind.RESOURCE, is_list)
    child = _node_for(fhirtype_model(tp))
    targets = tuple(t for t in extra.get("enum_reference_types", ()) if isinstance(t, str))
    if "Resource" in targets:
        targets = ()  # any resource type
    if class_name == "Reference":
        return ElementRule(
            json_name,
            json_name,
            ElementKind.REFERENCE,
            is_list,
            values=targets,
            allowed=frozenset(targets),
            child=child,
        )
    if class_name == "CodeableReference" and targets:
        child = _with_reference_targets(child, targets)
    return ElementRule(json_name, json_name, ElementKind.COMPLEX, is_list, child=child)


def _with_reference_targets(node: TypeNode, targets: tuple[str, ...]) -> TypeNode:
    """A copy of a CodeableReference node whose ``reference`` carries the field's targets."""
    copy = TypeNode(
        node.type_name,
        node.is_resource,
        dict(node.elements),
        node.required,
        node.choices,
        node.python_names,
    )
    ref = copy.elements["reference"]
    copy.elements["reference"] = ElementRule(
        ref.name,
        ref.path,
        ElementKind.REFERENCE,
        ref.is_list,
        values=targets,
        allowed=frozenset(targets),
        child=ref.child,
    )
    return copy


@cache
def element_rules(resource_type: str) -> TypeNode:
    """The rule tree of a resource type (``KeyError`` if not served); built once, then shared.

    Nodes are memoized per model class, so CarePlan and Goal share the Reference node, and
    recursive types (Identifier.assigner -> Reference -> Identifier) form cycles, not loops.
    """
    cls = model_class(resource_type)
    with _BUILD_LOCK:
        return _node_for(cls)


def _with_extension_siblings(node: TypeNode, names: set[str]) -> frozenset[str]:
    """Add ``_name`` for each primitive: its extensions are part of the same element."""
    return frozenset(names | {f"_{n}" for n in names if f"_{n}" in node.elements})


@cache
def summary_elements(resource_type: str) -> frozenset[str]:
    """Top-level JSON names returned for ``_summary=true`` (with ``_x`` siblings).

    The caller adds ``resourceType`` and the SUBSETTED tag:
    https://hl7.org/fhir/R4/search.html#summary
    """
    node = element_rules(resource_type)
    names = {"id", "meta", "implicitRules"}
    for py_name, info in model_class(resource_type).model_fields.items():
        extra: Mapping[str, Any] = info.json_schema_extra or {}  # type: ignore[assignment]
        if extra.get("summary_element_property") and not py_name.endswith("__ext"):
            names.add(info.alias or py_name)
    return _with_extension_siblings(node, names)


@cache
def mandatory_elements(resource_type: str) -> frozenset[str]:
    """Top-level JSON names with min cardinality >= 1, which ``_elements`` must keep.

    Required choices contribute every variant. https://hl7.org/fhir/R4/search.html#elements
    """
    node = element_rules(resource_type)
    names = set(node.required)
    for group in node.choices:
        if group.required:
            names.update(group.variants)
    return _with_extension_siblings(node, names)
