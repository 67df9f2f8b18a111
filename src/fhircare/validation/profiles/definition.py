"""The snapshot as a tree of element definitions, grown from the base R4 types on demand.

A profile's snapshot (https://hl7.org/fhir/R4/profiling.html#snapshot) lists every element
of the type; a tree holds the same, with each datatype element's children expanded from its
type only when a differential reaches into them (``CarePlan.category.coding.system``), and
each element's slices beside its children. Every node remembers the R4 definition it comes
from (``origin``), so the compiler can tell what the profile adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhircare.validation.profiles.base import base_type
from fhircare.validation.profiles.facts import (
    Binding,
    Constraint,
    ElementFacts,
    Slicing,
    TypeRef,
)

_INLINE = frozenset({"BackboneElement", "Element"})  # children listed in the owning type


class ExpansionError(Exception):
    """An element's children cannot be known (a choice of types, an inline resource)."""


@dataclass(slots=True, eq=False)
class Definition:
    """One element of a snapshot being built; mutable until compiled."""

    path: str  # e.g. "Observation.value[x]", "CarePlan.category.coding"
    id: str  # the path with slice names, e.g. "Observation.category:vital.coding"
    origin: ElementFacts  # the base R4 element this one constrains
    min: int
    max: str
    types: tuple[TypeRef, ...]
    slice_name: str | None = None
    binding: Binding | None = None
    constraints: tuple[Constraint, ...] = ()
    slicing: Slicing | None = None
    fixed: Any = None
    pattern: Any = None
    must_support: bool = False
    content_reference: str | None = None
    children: list[Definition] | None = None  # None: not expanded yet
    slices: list[Definition] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def is_choice(self) -> bool:
        return self.path.endswith("[x]")

    def child(self, name: str) -> Definition | None:
        for child in expand(self):
            if child.name == name:
                return child
        return None

    def slice(self, name: str) -> Definition | None:
        for found in self.slices:
            if found.slice_name == name:
                return found
        return None


def _from_facts(facts: ElementFacts, path: str, element_id: str) -> Definition:
    return Definition(
        path=path,
        id=element_id,
        origin=facts,
        min=facts.min or 0,
        max=facts.max or "1",
        types=facts.types or (),
        binding=facts.binding,
        constraints=facts.constraints,
        slicing=facts.slicing,
        fixed=facts.fixed,
        pattern=facts.pattern,
        content_reference=facts.content_reference,
    )


def type_tree(type_name: str, path: str | None = None, element_id: str | None = None) -> Definition:
    """A fresh tree of the base R4 type ``type_name``, rooted at ``path`` (default: the type)."""
    found = base_type(type_name)
    if found is None:
        raise ExpansionError(f"no base definition for type {type_name!r}")
    path = path or type_name
    element_id = element_id or path
    nodes: dict[str, Definition] = {}
    root: Definition | None = None
    for facts in found.elements:
        suffix = facts.path[len(type_name) :]
        node = _from_facts(facts, path + suffix, element_id + suffix)
        if root is None:
            root = node
        else:
            parent = nodes[facts.path.rpartition(".")[0]]
            if parent.children is None:
                parent.children = []
            parent.children.append(node)
        nodes[facts.path] = node
    assert root is not None
    return root


def _find_path(root: Definition, path: str) -> Definition | None:
    node: Definition | None = root
    for step in path.split(".")[1:]:
        node = node.child(step) if node is not None else None
    return node


def expand(node: Definition) -> list[Definition]:
    """The children of ``node``, from its type (or its contentReference) on first use."""
    if node.children is not None:
        return node.children
    if node.content_reference:
        # "#Questionnaire.item": the same children as that element, re-rooted here.
        target_path = node.content_reference.partition("#")[2]
        target = _find_path(type_tree(target_path.partition(".")[0]), target_path)
        if target is None:
            raise ExpansionError(f"contentReference {node.content_reference} not found")
        node.children = [_rerooted(c, target, node) for c in expand(target)]
        return node.children
    codes = {t.code for t in node.types}
    if len(codes) != 1:
        raise ExpansionError(
            f"{node.id} has {len(codes)} types ({', '.join(sorted(codes))}): name one"
        )
    (code,) = codes
    if code.startswith("System."):
        node.children = []
        return node.children
    if code in _INLINE and "." in node.origin.path:
        # A slice of a backbone element: the children its R4 definition lists inline.
        origin_path = node.origin.path
        target = _find_path(type_tree(origin_path.partition(".")[0]), origin_path)
        if target is None:
            raise ExpansionError(f"{origin_path} not found")
        node.children = [_rerooted(c, target, node) for c in expand(target)]
        return node.children
    found = base_type(code)
    if found is None or found.kind == "resource":
        raise ExpansionError(f"{node.id} is a {code}: its elements are not known here")
    node.children = type_tree(code, node.path, node.id).children or []
    return node.children


def _rerooted(node: Definition, old: Definition, new: Definition) -> Definition:
    copy = copy_tree(node)
    _rename(copy, old.path, new.path, old.id, new.id)
    return copy


def _rename(node: Definition, old_path: str, new_path: str, old_id: str, new_id: str) -> None:
    node.path = new_path + node.path[len(old_path) :]
    node.id = new_id + node.id[len(old_id) :]
    for child in node.children or ():
        _rename(child, old_path, new_path, old_id, new_id)
    for item in node.slices:
        _rename(item, old_path, new_path, old_id, new_id)


def copy_tree(node: Definition) -> Definition:
    """A deep copy: a derived profile grows its own tree from its base profile's."""
    return Definition(
        path=node.path,
        id=node.id,
        origin=node.origin,
        min=node.min,
        max=node.max,
        types=node.types,
        slice_name=node.slice_name,
        binding=node.binding,
        constraints=node.constraints,
        slicing=node.slicing,
        fixed=node.fixed,
        pattern=node.pattern,
        must_support=node.must_support,
        content_reference=node.content_reference,
        children=None if node.children is None else [copy_tree(c) for c in node.children],
        slices=[copy_tree(s) for s in node.slices],
    )


def new_slice(
    element: Definition, name: str, types: tuple[TypeRef, ...] | None = None
) -> Definition:
    """A slice of ``element``: its R4 definition with min 0, children from its type."""
    origin = element.origin
    created = Definition(
        path=element.path,
        id=f"{element.id}:{name}",
        origin=origin,
        min=0,
        max=element.max,
        types=types if types is not None else element.types,
        slice_name=name,
        binding=origin.binding,
        content_reference=element.content_reference,
    )
    element.slices.append(created)
    return created
