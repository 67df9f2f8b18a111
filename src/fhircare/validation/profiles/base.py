"""The base R4 definitions: every served resource type, datatype and Extension.

``data/base-r4.json`` is written by ``scripts/base_definitions.py`` from the official R4
StructureDefinitions. It holds each type's snapshot elements in their order, each with the
constraints the type itself defines: an inherited constraint (``ele-1``, ``ext-1``, ``dom-*``)
is listed once, on the type that defines it. Read once, on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import orjson

from fhircare.validation.profiles.facts import (
    Binding,
    Constraint,
    ElementFacts,
    TypeRef,
    read_slicing,
)

_DATA = "base-r4.json"
_BASE_URL = "http://hl7.org/fhir/StructureDefinition/"


@dataclass(frozen=True, slots=True)
class BaseType:
    """One R4 type: its kind (resource, complex-type, primitive-type) and snapshot elements."""

    name: str
    kind: str
    parent: str | None
    abstract: bool
    elements: tuple[ElementFacts, ...]


@cache
def _raw() -> dict[str, Any]:
    data = resources.files("fhircare.validation.profiles.data").joinpath(_DATA).read_bytes()
    raw: dict[str, Any] = orjson.loads(data)
    return raw


def _type_ref(item: str | Mapping[str, Any]) -> TypeRef:
    if isinstance(item, str):
        return TypeRef(item)
    return TypeRef(
        item["code"], tuple(item.get("profile", ())), tuple(item.get("targetProfile", ()))
    )


def _element(item: Mapping[str, Any]) -> ElementFacts:
    binding = item.get("binding")
    fixed = next(((k, v) for k, v in item.items() if k.startswith("fixed")), None)
    pattern = next(((k, v) for k, v in item.items() if k.startswith("pattern")), None)
    return ElementFacts(
        path=item["path"],
        id=item["path"],
        min=item.get("min", 0),
        max=item.get("max", "1"),
        types=tuple(_type_ref(t) for t in item.get("type", ())),
        binding=Binding(binding["strength"], binding.get("valueSet")) if binding else None,
        constraints=tuple(Constraint(*c) for c in item.get("constraint", ())),
        slicing=read_slicing(item.get("slicing"), _BASE_URL, item["path"]),
        fixed=fixed,
        pattern=pattern,
        must_support=False,
        content_reference=item.get("contentReference"),
    )


@cache
def base_type(name: str) -> BaseType | None:
    """The R4 definition of a type we have, or None."""
    entry = _raw().get(name)
    if entry is None:
        return None
    return BaseType(
        name=name,
        kind=entry["kind"],
        parent=entry.get("base"),
        abstract=bool(entry.get("abstract")),
        elements=tuple(_element(e) for e in entry["elements"]),
    )


@cache
def type_names() -> frozenset[str]:
    return frozenset(_raw())


@cache
def resource_types() -> frozenset[str]:
    """Concrete resource types (those with base data)."""
    return frozenset(
        name
        for name, entry in _raw().items()
        if entry["kind"] == "resource" and not entry.get("abstract")
    )


@cache
def base_constraints() -> frozenset[tuple[str, str]]:
    """(key, expression) of every invariant of the base R4 types: a profile's snapshot
    repeats them, and only the ones a profile adds are its own to evaluate."""
    return frozenset(
        (c[0], c[2])
        for entry in _raw().values()
        for element in entry["elements"]
        for c in element.get("constraint", ())
    )


def core_type_of(url: str) -> str | None:
    """``Patient`` for ``http://hl7.org/fhir/StructureDefinition/Patient`` (any |version)."""
    url = url.partition("|")[0]
    if not url.startswith(_BASE_URL):
        return None
    name = url[len(_BASE_URL) :]
    return name if name in type_names() else None


def is_primitive(code: str) -> bool:
    """A FHIR primitive type (``string``, ``dateTime``) or a FHIRPath system type."""
    if code.startswith("System."):
        return True
    found = base_type(code)
    return found is not None and found.kind == "primitive-type"
