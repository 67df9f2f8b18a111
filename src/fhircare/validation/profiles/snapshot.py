"""Lay a profile's differential over its base: the snapshot, as a ``Definition`` tree.

https://hl7.org/fhir/R4/profiling.html#snapshot and https://hl7.org/fhir/R4/elementdefinition.html#id:
each differential element is found by its id (``CarePlan.category:careCoordination.coding``),
or by its path where it has none, and narrows what it finds. Slices are created where a
``sliceName`` first appears; a renamed choice (``Observation.valueQuantity``, or the slice
``Observation.value[x]:valueQuantity``) constrains that type of the choice, and the renamed
form alone restricts the choice to the types it names. A derived profile can only narrow:
a lower min, a higher max or a type its base does not allow is a ``ProfileError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from fhircare.validation.profiles.base import resource_types
from fhircare.validation.profiles.definition import (
    Definition,
    ExpansionError,
    new_slice,
)
from fhircare.validation.profiles.errors import ProfileError
from fhircare.validation.profiles.facts import (
    EXTENSION_SLICING,
    Binding,
    ElementFacts,
    TypeRef,
    read_element,
)

_ANY_RESOURCE = frozenset({"Resource", "DomainResource"})


class _Builder:
    """Applies the elements of one StructureDefinition, in order, to a tree."""

    def __init__(self, root: Definition, url: str) -> None:
        self.root = root
        self.url = url
        self.renamed: dict[int, tuple[Definition, list[TypeRef]]] = {}
        self.sliced: list[tuple[str, str]] = []  # (path, id) of earlier slices, for ids

    def apply(self, raw: Any) -> None:
        facts = read_element(raw, self.url)
        element_id = facts.id or self._derived_id(facts)
        if facts.slice_name is not None:
            self.sliced.append((facts.path, element_id))
        try:
            node = self._locate(element_id)
        except ExpansionError as exc:
            raise ProfileError(self.url, str(exc), element_id) from None
        constrain(node, facts, self.url, element_id)

    def finish(self) -> Definition:
        """Restrict each choice reached by a renamed path to the types so named."""
        for choice, types in self.renamed.values():
            if choice.slicing is None:
                choice.types = tuple(types)
        return self.root

    def _derived_id(self, facts: ElementFacts) -> str:
        """The id of an element that has none: inside the latest slice its path falls in."""
        path = facts.path
        element_id = path
        for slice_path, slice_id in reversed(self.sliced):
            if path.startswith(slice_path + "."):
                element_id = slice_id + path[len(slice_path) :]
                break
        if facts.slice_name is not None:
            element_id += ":" + facts.slice_name
        return element_id

    def _locate(self, element_id: str) -> Definition:
        steps = element_id.split(".")
        if steps[0] != self.root.path:
            raise ProfileError(self.url, f"does not start with {self.root.path}", element_id)
        node = self.root
        for step in steps[1:]:
            name, _, slice_name = step.partition(":")
            node = self._step(node, name, slice_name or None, element_id)
        return node

    def _step(self, node: Definition, name: str, slice_name: str | None, where: str) -> Definition:
        child = node.child(name)
        if child is None:
            choice, ref = _renamed_choice(node, name)
            if choice is None or ref is None:
                raise ProfileError(self.url, f"{node.id} has no element {name!r}", where)
            named = self.renamed.setdefault(id(choice), (choice, []))[1]
            if ref not in named:
                named.append(ref)
            child = _type_slice(choice, name, ref)
        if slice_name is None:
            return child
        if child.is_choice:
            ref = _choice_type(child, slice_name)
            if ref is None:
                raise ProfileError(self.url, f"{slice_name!r} is no type of {child.id}", where)
            return _type_slice(child, slice_name, ref)
        return _slice(child, slice_name, self.url, where)


def _capitalized(code: str) -> str:
    return code[:1].upper() + code[1:]


def _choice_type(choice: Definition, renamed: str) -> TypeRef | None:
    """The type of ``choice`` that ``renamed`` (``valueQuantity``) names."""
    prefix = choice.name[:-3]
    if not renamed.startswith(prefix):
        return None
    suffix = renamed[len(prefix) :]
    return next((t for t in choice.types if _capitalized(t.code) == suffix), None)


def _renamed_choice(node: Definition, name: str) -> tuple[Definition | None, TypeRef | None]:
    for child in node.children or ():
        if child.is_choice:
            ref = _choice_type(child, name)
            if ref is not None:
                return child, ref
    return None, None


def _type_slice(choice: Definition, renamed: str, ref: TypeRef) -> Definition:
    found = choice.slice(renamed)
    return found if found is not None else new_slice(choice, renamed, (ref,))


def _slice(element: Definition, name: str, url: str, where: str) -> Definition:
    found = element.slice(name)
    if found is not None:
        return found
    if "/" in name:
        raise ProfileError(url, "re-slicing (slice/reslice) is not supported", where)
    if element.slicing is None:
        if {t.code for t in element.types} != {"Extension"}:
            raise ProfileError(url, f"slice {name!r} of {element.id}, which is not sliced", where)
        element.slicing = EXTENSION_SLICING
    return new_slice(element, name)


def _allowed_type(code: str, allowed: set[str]) -> bool:
    if code in allowed:
        return True
    if allowed & _ANY_RESOURCE:
        return code in resource_types()
    return any(a.startswith("System.") for a in allowed)  # the value of a primitive


def _maximum(value: str) -> float:
    return float("inf") if value == "*" else int(value)


def constrain(node: Definition, facts: ElementFacts, url: str, where: str) -> None:
    """Narrow ``node`` by what ``facts`` says."""
    if facts.min is not None:
        if facts.min < node.min and node.slice_name is None:
            raise ProfileError(url, f"min {facts.min} is below the base min {node.min}", where)
        node.min = facts.min
    if facts.max is not None:
        if _maximum(facts.max) > _maximum(node.max):
            raise ProfileError(url, f"max {facts.max} is above the base max {node.max}", where)
        node.max = facts.max
    if node.min > _maximum(node.max):
        raise ProfileError(url, f"min {node.min} is above max {node.max}", where)
    if facts.types is not None:
        allowed = {t.code for t in node.types}
        for ref in facts.types:
            if not _allowed_type(ref.code, allowed):
                listed = ", ".join(sorted(allowed))
                raise ProfileError(url, f"type {ref.code} is not one of {listed}", where)
        node.types = facts.types
    if facts.binding is not None:
        value_set = facts.binding.value_set
        if value_set is None and node.binding is not None:
            value_set = node.binding.value_set
        node.binding = Binding(facts.binding.strength, value_set)
    if facts.constraints:
        keys = {c.key for c in node.constraints}
        node.constraints += tuple(c for c in facts.constraints if c.key not in keys)
    if facts.slicing is not None:
        previous = node.slicing
        if previous is not None and not facts.slicing.discriminators:
            # restating rules or order only: the discriminators stay
            node.slicing = replace(facts.slicing, discriminators=previous.discriminators)
        else:
            node.slicing = facts.slicing
    if facts.fixed is not None:
        node.fixed = facts.fixed
    if facts.pattern is not None:
        node.pattern = facts.pattern
    if facts.must_support is not None:
        node.must_support = facts.must_support


def apply_elements(root: Definition, elements: Iterable[Any], url: str) -> Definition:
    """``root`` narrowed by each element (of a differential, or of a whole snapshot)."""
    builder = _Builder(root, url)
    for raw in elements:
        builder.apply(raw)
    return builder.finish()


def element_list(definition: Mapping[str, Any], part: str, url: str) -> list[Any] | None:
    """``differential.element`` or ``snapshot.element``; None if the definition has none."""
    section = definition.get(part)
    if section is None:
        return None
    elements = section.get("element") if isinstance(section, Mapping) else None
    if not isinstance(elements, list):
        raise ProfileError(url, f"{part}.element must be a list")
    return elements
