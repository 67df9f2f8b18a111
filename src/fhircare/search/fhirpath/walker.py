"""The fast path: an expression made of plain paths walked over the JSON directly.

It follows fhirpathpy's own rules (choice types and element types from the R4 model,
``_x`` primitive extensions, extension-only elements dropped, a union's duplicates
removed). A plain path is ``CarePlan.status``, ``Resource.meta.tag``, a bare
``Observation``, a choice as the last step (``Observation.effective``), optionally
followed by ``.ofType(X)`` on that choice, ``.where(resolve() is T)``, or
``.where(field = 'literal')`` on a string element and one more step (``Patient.telecom.
where(system='email')``, ``relatedArtifact.where(type='composed-of').resource``); a
parenthesised path followed by one step, ``(Observation.value.ofType(CodeableConcept))
.text``, is the same path. 616 of the 617 (type, parameter) pairs and every composite are
walked (only ``Patient.deceased.exists() and ...`` is not), about 15 times faster than
fhirpathpy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fhircare.search.fhirpath.model import R4_MODEL, is_a, kept
from fhircare.search.fhirpath.resolve import reference_target
from fhircare.search.fhirpath.rewrite import flatten, split_union

_RELATIVE = (
    r"(?P<steps>[a-z][A-Za-z0-9]*(?:\.[a-z][A-Za-z0-9]*)*)"
    r"(?:\.ofType\(\s*(?P<of_type>[A-Za-z]+)\s*\))?"
    r"(?:\.where\(\s*resolve\(\)\s+is\s+(?P<target>[A-Z][A-Za-z]*)\s*\))?"
    r"(?:\.where\(\s*(?P<field>[a-z][A-Za-z0-9]*)\s*=\s*'(?P<literal>[^'\\]*)'\s*\))?"
    r"(?:\.(?P<tail>[a-z][A-Za-z0-9]*))?"
)
_PLAIN_PATH = re.compile(r"^\s*(?P<root>[A-Z][A-Za-z]*)(?:\." + _RELATIVE + r")?\s*$")
_RELATIVE_PATH = re.compile(r"^\s*" + _RELATIVE + r"\s*$")
# The element types a ``where(field = 'literal')`` compares as plain strings in fhirpathpy.
_STRING_TYPES = frozenset(("code", "string", "uri", "url", "canonical", "id"))


class PathWalker:
    """A plain path walked over the JSON the way fhirpathpy walks it.

    ``Root.a.b`` (or a bare ``Root``), or relative to an element (``code``,
    ``value.ofType(Quantity)``: a composite's components). The last step may be a choice
    element, then optionally ``.ofType(X)``; then optionally ``.where(resolve() is T)``
    (kept: the references whose target type is a ``T``, as fhircare's resolve() tells it)
    or ``.where(field = 'literal')`` on a string element; then, when what was selected
    has one known type, one more step. Built only when the element types are known without
    looking at the data: no choice element before the last step, no step into a resource
    (``contained``).
    """

    def __init__(
        self,
        expression: str,
        root: str | None,
        steps: tuple[str, ...],
        last: tuple[tuple[str, str, bool], ...],
        element_type: str | None,
        target: str | None = None,
        where: tuple[str, str, str] | None = None,
        tail: PathWalker | None = None,
    ):
        self.expression = expression
        self.root = root  # None: relative, walked from given elements
        self.steps = steps
        self.target = target
        # The type of what the path selects, when it is one known type (no choice).
        self.element_type = element_type
        self._path = tuple((step, "_" + step) for step in steps[:-1])
        # (key, ``_`` key, kept): one for an element, one per type (in the model's order)
        # for a choice; ``kept`` False for the types an ``ofType`` leaves out.
        self._last = last
        self._where = where  # (field, ``_`` field, literal)
        self._tail = tail  # the step after the ``where``

    @classmethod
    def build(cls, expression: str) -> PathWalker | None:
        """The walker of a whole expression ``Root.steps...``, or None."""
        match = _PLAIN_PATH.match(expression)
        if match is None:
            return None
        root = match["root"]
        if not match["steps"]:
            return cls(expression, root, (), (), root)
        return cls._build(expression, root, root, match)

    @classmethod
    def relative(cls, type_path: str, expression: str) -> PathWalker | None:
        """The walker of ``expression`` evaluated on elements of ``type_path`` (a type name,
        or an element path like ``Observation.component``), or None."""
        match = _RELATIVE_PATH.match(expression)
        if match is None:
            return None
        return cls._build(expression, None, type_path, match)

    @classmethod
    def _build(
        cls, expression: str, root: str | None, path: str, match: re.Match[str]
    ) -> PathWalker | None:
        of_type, target = match["of_type"], match["target"]
        steps = tuple(match["steps"].split("."))
        # ``length`` of a non-object is its length in fhirpathpy: only a root is sure to be
        # an object.
        if steps[0] in _RESERVED or (root is None and steps[0] == "length"):
            return None
        if any(step in _NOT_AN_ELEMENT for step in steps[1:]):
            return None
        for step in steps[:-1]:
            child = f"{path}.{step}"
            child = R4_MODEL["pathsDefinedElsewhere"].get(child, child)
            if child in R4_MODEL["choiceTypePaths"]:
                return None
            path = R4_MODEL["path2Type"].get(child, child)
            if is_a(path, "Resource"):
                return None
        last_step = steps[-1]
        child = f"{path}.{last_step}"
        child = R4_MODEL["pathsDefinedElsewhere"].get(child, child)
        choices = R4_MODEL["choiceTypePaths"].get(child)
        element_type: str | None = None
        if choices is None:
            if of_type is not None:
                return None
            last: tuple[tuple[str, str, bool], ...] = ((last_step, "_" + last_step, True),)
            element_type = R4_MODEL["path2Type"].get(child, child)
        else:
            entries = []
            kinds = set()
            for choice in choices:
                kind = R4_MODEL["path2Type"].get(child + choice)
                if of_type is not None and (kind is None or "." in kind):
                    return None  # fhirpathpy would type it by its data
                kept = of_type is None or is_a(kind, of_type)
                if kept:
                    kinds.add(kind)
                entries.append((last_step + choice, f"_{last_step}{choice}", kept))
            last = tuple(entries)
            if of_type is not None and len(kinds) == 1:
                element_type = kinds.pop()
        if target is not None:
            if match["field"] or match["tail"]:
                return None
            element_type = None
        where = None
        if match["field"]:
            # The filter's field must be a plain string element of a known complex type.
            if element_type is None or "." in element_type:
                return None
            field = match["field"]
            field_path = f"{element_type}.{field}"
            if field_path in R4_MODEL["choiceTypePaths"] or field in _NOT_AN_ELEMENT:
                return None
            if R4_MODEL["path2Type"].get(field_path) not in _STRING_TYPES:
                return None
            where = (field, "_" + field, match["literal"])
        tail = None
        if match["tail"]:
            # One more step from elements of one known type (``length`` of a string is its
            # length in fhirpathpy: not a step).
            if element_type is None or match["tail"] in _NOT_AN_ELEMENT:
                return None
            tail = cls.relative(element_type, match["tail"])
            if tail is None or tail.element_type is None:
                return None
            element_type = tail.element_type
        return cls(expression, root, steps, last, element_type, target, where, tail)

    def __call__(self, resource: Mapping[str, Any]) -> list[Any]:
        return [v for v in self.collect(resource) if kept(v)]

    def collect(self, resource: Mapping[str, Any]) -> list[Any]:
        """The results before fhirpathpy's final filter (None and extension-only kept)."""
        if type(resource) is not dict or resource.get("resourceType") != self.root:
            return []
        if not self.steps:
            return [resource]
        return self.collect_from([resource], resource)

    def collect_from(self, nodes: list[Any], resource: Mapping[str, Any]) -> list[Any]:
        """The steps walked from ``nodes`` (elements of ``resource``), unfiltered."""
        for names in self._path:
            found: list[Any] = []
            for node in nodes:
                if type(node) is dict:
                    for name in names:  # the element, then its ``_`` part
                        value = node.get(name)
                        if value is not None:
                            if type(value) is list:
                                found.extend(value)
                            else:
                                found.append(value)
            if not found:
                return []
            nodes = found
        found = []
        for node in nodes:
            if type(node) is dict:
                # A choice: the first of its types present (value or ``_`` part) only.
                for key, extra, kept in self._last:
                    value, extension = node.get(key), node.get(extra)
                    if value is not None or extension is not None:
                        if kept:
                            _add(found, value)
                            _add(found, extension)
                        break
        if self.target is not None:
            target = self.target
            found = [v for v in found if _targets(v, resource, target)]
        if self._where is not None:
            field, extra, literal = self._where
            found = [v for v in found if _field_is(v, field, extra, literal)]
        if self._tail is not None:
            found = self._tail.collect_from(found, resource)
        return found


def _field_is(node: Any, field: str, extra: str, literal: str) -> bool:
    """fhirpathpy's ``where(field = 'literal')`` on one item: the field's values (with its
    ``_`` part) must be exactly that one string."""
    if type(node) is not dict:
        return False
    values: list[Any] = []
    _add(values, node.get(field))
    _add(values, node.get(extra))
    return values == [literal]


class UnionWalker:
    """``a | b | ...`` of walkable alternatives: fhirpathpy's union, which also removes
    duplicates (by their JSON) within each side."""

    def __init__(self, expression: str, walkers: Sequence[PathWalker]) -> None:
        self.expression = expression
        self.walkers = tuple(walkers)

    def __call__(self, resource: Mapping[str, Any]) -> list[Any]:
        found = [v for walker in self.walkers for v in walker.collect(resource)]
        return [v for v in distinct(found) if kept(v)]


def distinct(items: list[Any]) -> list[Any]:
    """fhirpathpy's ``uniq`` (items equal by their sorted JSON, else their ``str``, kept at
    the first one's place with the last one's value), computed only among the items that
    could be equal: dicts with the same keys, or non-dicts."""
    if len(items) < 2:
        return items
    buckets: dict[frozenset[str] | None, list[int]] = {}
    for index, item in enumerate(items):
        buckets.setdefault(frozenset(item) if type(item) is dict else None, []).append(index)
    if len(buckets) == len(items):
        return items
    out: list[Any] = list(items)
    dropped: set[int] = set()
    for indexes in buckets.values():
        if len(indexes) < 2:
            continue
        first: dict[str, int] = {}
        for index in indexes:
            key = _uniq_key(items[index])
            if key in first:
                out[first[key]] = items[index]
                dropped.add(index)
            else:
                first[key] = index
    return [item for index, item in enumerate(out) if index not in dropped]


def _uniq_key(item: Any) -> str:
    try:
        return json.dumps(item, sort_keys=True)
    except TypeError:
        return str(item)


def walker_for(expression: str) -> PathWalker | UnionWalker | None:
    """The walker of ``expression`` when every alternative of it is walkable, else None."""
    alternatives = split_union(expression)
    walkers = [PathWalker.build(flatten(alternative)) for alternative in alternatives]
    if not walkers or any(w is None for w in walkers):
        return None
    if len(walkers) == 1:
        return walkers[0]
    return UnionWalker(expression, [w for w in walkers if w is not None])


def _targets(reference: Any, resource: Mapping[str, Any], target: str) -> bool:
    """``reference.where(resolve() is target)`` for one item."""
    resolved = reference_target(reference, resource)
    return resolved is not None and is_a(resolved[0], target)


# Names the FHIRPath grammar reserves, and ``length``, which fhirpathpy answers for a
# string: such a "plain path" is left to fhirpathpy.
_RESERVED = frozenset({"as", "is", "div", "mod", "and", "or", "xor", "implies", "in", "contains"})
_NOT_AN_ELEMENT = _RESERVED | {"length"}


def _add(found: list[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        found.extend(value)
    else:
        found.append(value)
