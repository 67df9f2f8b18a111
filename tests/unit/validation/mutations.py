"""A deterministic corpus of invalid (and valid) variants of valid resources.

Each mutation breaks one rule of https://hl7.org/fhir/R4/json.html or
https://hl7.org/fhir/R4/datatypes.html at one place: the first element of the kind it needs,
found by walking the resource with the rule tree, or one it adds at the root (``id``,
``meta``, ``implicitRules``, ``extension``) so that every base gets it. Each valid variant
changes a value to another valid one of the same type (a 64-character id, a leap day, a
decimal with an exponent, a null lined up with an extension).

Every variant goes through JSON text and ``jsonio.loads``, as a request body would.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fhircare.fhir import jsonio
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.fhir.rule_tree import ElementKind, ElementRule, TypeNode, element_rules

Path = tuple[str | int, ...]

_PRIMITIVES = (ElementKind.PRIMITIVE, ElementKind.CODE)
_OBJECTS = (ElementKind.COMPLEX, ElementKind.REFERENCE, ElementKind.EXTENSION)
_EXTENSION = {"url": "http://example.org/fhir/StructureDefinition/note", "valueString": "x"}


@dataclass(frozen=True)
class Site:
    """One value in a resource: where it is, its rule, the rules of the object holding it."""

    path: Path
    rule: ElementRule
    owner: TypeNode
    value: Any

    @property
    def primitive(self) -> str | None:
        return self.rule.primitive if self.rule.kind in _PRIMITIVES else None


@dataclass(frozen=True)
class Variant:
    base: str  # e.g. "examples/04-care-plans.json#3 CarePlan"
    family: str  # the group of mutations, e.g. "bad values"
    kind: str  # the mutation, e.g. "date: '2023-02-30'"
    resource: dict[str, Any]
    valid: bool

    def __str__(self) -> str:
        return f"{self.base}: {self.kind}"


def sites(resource: dict[str, Any]) -> list[Site]:
    """Every element value in ``resource`` (contained resources included), in JSON order."""
    out: list[Site] = []
    _collect(element_rules(resource["resourceType"]), resource, (), out)
    return out


def _collect(node: TypeNode, obj: dict[str, Any], path: Path, out: list[Site]) -> None:
    for key, value in obj.items():
        rule = node.elements.get(key)
        if rule is None or rule.kind is ElementKind.PRIMITIVE_EXTENSION:
            continue
        items = (
            list(enumerate(value)) if rule.is_list and isinstance(value, list) else [(-1, value)]
        )
        for index, item in items:
            where = (*path, key) if index < 0 else (*path, key, index)
            out.append(Site(where, rule, node, item))
            if rule.kind in _OBJECTS and isinstance(item, dict) and rule.child is not None:
                _collect(rule.child, item, where, out)
            elif rule.kind is ElementKind.RESOURCE and _served(item):
                _collect(element_rules(item["resourceType"]), item, where, out)


def _served(item: Any) -> bool:
    return isinstance(item, dict) and item.get("resourceType") in RESOURCE_TYPES


def _set(resource: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def _delete(resource: dict[str, Any], path: Path) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return out


def _parent(resource: dict[str, Any], path: Path) -> Any:
    target: Any = resource
    for step in path[:-1]:
        target = target[step]
    return target


Mutation = Callable[[dict[str, Any], list[Site]], Iterator[tuple[str, dict[str, Any]]]]

# Replacement values by FHIR primitive type: (label, value).
_BAD_VALUES: dict[str, list[Any]] = {
    "date": ["2023-02-30", "2023-13-01", "0000", "23-01-01", "2023-1-1", "2023-01-01T10:00:00Z"],
    "dateTime": [
        "2023-01-01T10:00",
        "2023-01-01T10:00:00",
        "2023-02-30T10:00:00Z",
        "2023-01-01T25:00:00Z",
        "2023-01-01 10:00:00Z",
        "0000-01-01",
    ],
    "instant": ["2023-01-01", "2023-01-01T10:00:00", "2023-04-31T10:00:00Z", "2023"],
    "time": ["25:00:00", "10:00", "10:00:00Z"],
    "id": ["a" * 65, "a b", "a_b", "a/b"],
    "code": [" x", "x ", "a  b"],
    "uri": ["http://example.org/a b", "urn:x y", " http://example.org"],
    "url": ["http://example.org/a b"],
    "canonical": ["http://example.org/a b|1.0"],
    "integer": [2147483648, -2147483649, jsonio.JsonNumber("1.5"), jsonio.JsonNumber("1.0"), "1"],
    "positiveInt": [0, -1, jsonio.JsonNumber("1.5"), 2147483648],
    "unsignedInt": [-1, jsonio.JsonNumber("2.5"), 2147483648],
    "decimal": ["72.5", True],
    "boolean": ["true", 1, "yes"],
    "base64Binary": ["not base64!"],
    "oid": ["1.2.3", "urn:oid:1.2 .3"],
    "uuid": ["urn:uuid:not-a-uuid"],
    "string": [5, True, ""],
    "markdown": [5, ""],
}
_GOOD_VALUES: dict[str, list[Any]] = {
    "date": ["2024-02-29", "2023", "2023-02", "0001-01-01"],
    "dateTime": ["2023-01-01T10:00:00+01:00", "2023-01", "2024-02-29T23:59:59.999Z"],
    "instant": ["2023-01-01T10:00:00.123+01:00", "2023-01-01T10:00:00Z"],
    "id": ["a" * 64, "A-1.b"],
    "uri": ["urn:uuid:c757873d-ec9a-4326-a141-556f43239520", "relative/path"],
    "integer": [2147483647, -2147483648, jsonio.JsonInteger("-0")],
    "positiveInt": [1, 2147483647],
    "unsignedInt": [0],
    "decimal": [jsonio.JsonNumber("1.50"), jsonio.JsonNumber("1e2"), 3],
    "string": ["  spaced  out  ", "line\nbreak"],
}
_SAME_JSON = {"url": "uri", "canonical": "uri", "markdown": "string", "oid": "uri", "uuid": "uri"}


def _name(site: Site) -> str:
    return str(site.path[-1] if isinstance(site.path[-1], str) else site.path[-2])


def _first(all_sites: list[Site], primitive: str, limit: int = 1) -> list[Site]:
    """The first ``limit`` sites of a primitive type, one per element name; not ids or
    references, whose values other rules constrain (a contained id is referred to)."""
    found: list[Site] = []
    names: set[str] = set()
    for site in all_sites:
        name = _name(site)
        if name in ("id", "reference"):
            continue
        if site.primitive == primitive and name not in names and len(found) < limit:
            found.append(site)
            names.add(name)
    return found


def _values(
    resource: dict[str, Any], all_sites: list[Site], table: dict[str, list[Any]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    for primitive, values in table.items():
        for site in _first(all_sites, primitive):
            for value in values:
                yield f"{primitive}: {value!r}"[:60], _set(resource, site.path, value)


def _bad_values(
    resource: dict[str, Any], all_sites: list[Site]
) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from _values(resource, all_sites, _BAD_VALUES)


def _root_values(resource: dict[str, Any], _: list[Site]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Elements every resource may have, each given a bad value."""
    for value in ("a" * 65, "a b", "", 5):
        yield f"root id: {value!r}"[:60], {**resource, "id": value}
    meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
    for key, value in (
        ("lastUpdated", "2023-01-01T10:00:00"),
        ("lastUpdated", "2023-02-29T10:00:00Z"),
        ("versionId", "1 2"),
        ("versionId", "v" * 65),
        ("source", "http://example.org/a b"),
        ("profile", ["http://example.org/a b"]),
        ("tag", [{"system": "http://example.org", "code": "a  b"}]),
        ("security", [{"system": "http://a b", "code": "x"}]),
    ):
        yield f"meta.{key}: {value!r}"[:60], {**resource, "meta": {**meta, key: value}}
    yield "implicitRules with a space", {**resource, "implicitRules": "http://example.org/a b"}
    yield "language as a number", {**resource, "language": 5}


def _structure(
    resource: dict[str, Any], all_sites: list[Site]
) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "unknown element at the root", {**resource, "foo": 1}
    yield "unknown element _foo at the root", {**resource, "_foo": {"id": "x"}}
    yield "python name resource_type", {**resource, "resource_type": "x"}
    objects = [s for s in all_sites if s.rule.kind in _OBJECTS and isinstance(s.value, dict)]
    for site in objects[:2]:
        name = _name(site)
        yield f"unknown element in {name}", _set(resource, (*site.path, "bar"), True)
        yield f"{name} as a string", _set(resource, site.path, "text")
        yield f"{name} as {{}}", _set(resource, site.path, {})
        yield f"{name} as null", _set(resource, site.path, None)
    lists = [s for s in all_sites if s.rule.is_list and isinstance(s.path[-1], int)]
    for site in lists[:2]:
        holder = site.path[:-1]
        yield f"{holder[-1]} as []", _set(resource, holder, [])
        yield f"{holder[-1]} as a single item", _set(resource, holder, site.value)
        if site.rule.kind in _OBJECTS:
            yield f"{holder[-1]} with {{}}", _set(resource, holder, [site.value, {}])
            yield f"{holder[-1]} with null", _set(resource, holder, [site.value, None])
    singles = [s for s in all_sites if not s.rule.is_list and s.rule.kind in _OBJECTS]
    for site in singles[:2]:
        yield f"{site.path[-1]} as an array", _set(resource, site.path, [site.value])
    for site in [s for s in all_sites if s.primitive and not s.rule.is_list][:2]:
        yield f"{site.path[-1]} as null", _set(resource, site.path, None)
        yield f"{site.path[-1]} as an array", _set(resource, site.path, [site.value])
        yield f"{site.path[-1]} as an object", _set(resource, site.path, {"value": site.value})
    for site in [s for s in all_sites if s.primitive and isinstance(s.path[-1], int)][:2]:
        holder = site.path[:-1]
        yield f"{holder[-1]} with an unaligned null", _set(resource, holder, [site.value, None])
        yield f"{holder[-1]} as a single value", _set(resource, holder, site.value)
        values = _parent(resource, site.path)
        longer = [None] * len(values) + [{"extension": [_EXTENSION]}]
        yield (
            f"_{holder[-1]} longer than {holder[-1]}",
            _set(resource, (*holder[:-1], f"_{holder[-1]}"), longer),
        )
        only = _delete(resource, holder)
        yield f"_{holder[-1]} of nulls alone", _set(only, (*holder[:-1], f"_{holder[-1]}"), [None])


def _required(
    resource: dict[str, Any], all_sites: list[Site]
) -> Iterator[tuple[str, dict[str, Any]]]:
    node = element_rules(resource["resourceType"])
    for name in node.required:
        if name in resource and f"_{name}" not in resource:
            yield f"missing {name}", _delete(resource, (name,))
    for group in node.choices:
        present = [v for v in group.variants if v in resource]
        if group.required and present:
            yield f"missing {group.name}[x]", _delete(resource, (present[0],))
    nested = [
        s
        for s in all_sites
        if len(s.path) > 1 and s.path[-1] in s.owner.required and s.owner is not node
    ]
    for site in nested[:2]:
        if f"_{site.path[-1]}" not in _parent(resource, site.path):
            yield f"missing nested {site.path[-1]}", _delete(resource, site.path)
    yield "extension without url", {**resource, "extension": [{"valueString": "x"}]}
    yield "modifierExtension without url", {**resource, "modifierExtension": [{"valueCode": "a"}]}
    yield "extension url with a space", {**resource, "extension": [{**_EXTENSION, "url": "a b"}]}
    bad_value = {"url": _EXTENSION["url"], "valueDecimal": "1.5"}
    yield "extension decimal as a string", {**resource, "extension": [bad_value]}
    bad_date = {"url": _EXTENSION["url"], "valueDate": "2023-02-30"}
    yield "extension with a bad date", {**resource, "extension": [bad_date]}


def _choices(
    resource: dict[str, Any], all_sites: list[Site]
) -> Iterator[tuple[str, dict[str, Any]]]:
    seen: set[str] = set()
    for site in all_sites:
        choice = site.rule.choice
        if choice is None or choice in seen or isinstance(site.path[-1], int):
            continue
        seen.add(choice)
        group = next(g for g in site.owner.choices if g.name == choice)
        for variant in group.variants:
            rule = site.owner.elements[variant]
            if variant == site.path[-1] or rule.primitive not in ("string", "boolean", "dateTime"):
                continue
            value = {"string": "x", "boolean": True, "dateTime": "2023-01-01"}[rule.primitive]
            yield f"{choice}[x] twice", _set(resource, (*site.path[:-1], variant), value)
            break
        if len(seen) >= 2:
            return
    extension = {**_EXTENSION, "valueBoolean": True}
    yield "extension value[x] twice", {**resource, "extension": [extension]}


def _good(resource: dict[str, Any], all_sites: list[Site]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from _values(resource, all_sites, _GOOD_VALUES)
    for value in ("a" * 64, "A-1.b"):
        yield f"root id: {value!r}"[:60], {**resource, "id": value}
    meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
    good_meta = {"lastUpdated": "2024-02-29T23:59:59.1234+14:00", "versionId": "v" * 64}
    yield "meta", {**resource, "meta": {**meta, **good_meta}}
    yield "extension", {**resource, "extension": [_EXTENSION]}
    nested = {"url": _EXTENSION["url"], "extension": [_EXTENSION]}
    yield "nested extension", {**resource, "extension": [nested]}
    yield "implicitRules", {**resource, "implicitRules": "http://example.org/rules"}
    for site in [s for s in all_sites if s.primitive and isinstance(s.path[-1], int)][:1]:
        holder = site.path[:-1]
        aligned = _set(resource, holder, [site.value, None])
        _parent(aligned, holder)[f"_{holder[-1]}"] = [None, {"extension": [_EXTENSION]}]
        yield f"{holder[-1]} with a null lined up with an extension", aligned
    extensible = [
        s
        for s in all_sites
        if s.primitive and not s.rule.is_list and _name(s) != "id" and not _extension_url(s)
    ]
    for site in extensible[:1]:
        with_extension = copy.deepcopy(resource)
        _parent(with_extension, site.path)[f"_{site.path[-1]}"] = {"extension": [_EXTENSION]}
        yield f"_{site.path[-1]} extension", with_extension


def _extension_url(site: Site) -> bool:
    """A value inside an extension: its ``url`` is an attribute in XML, which takes no
    extension of its own, and its ``value[x]`` is left to the extension variants above."""
    return any(step in ("extension", "modifierExtension") for step in site.path)


INVALID: dict[str, Mutation] = {
    "bad primitive values": _bad_values,
    "bad values of root elements": _root_values,
    "wrong shapes and unknown elements": _structure,
    "missing required elements": _required,
    "choices": _choices,
}
FAMILIES = (*INVALID, "valid variants")


def _round_trip(resource: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = jsonio.loads(jsonio.dumps(resource))
    return parsed


def variants(label: str, resource: dict[str, Any]) -> Iterator[Variant]:
    """The invalid and valid variants of one valid resource."""
    all_sites = sites(resource)
    for family, mutation in INVALID.items():
        for kind, changed in mutation(resource, all_sites):
            if changed != resource:
                yield Variant(label, family, kind, _round_trip(changed), valid=False)
    for kind, changed in _good(resource, all_sites):
        yield Variant(label, "valid variants", kind, _round_trip(changed), valid=True)
