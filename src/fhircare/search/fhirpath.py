"""Compiled FHIRPath for search parameters: fhirpathpy, plus a direct walker for plain paths.

An ``Evaluator`` takes one resource (plain JSON, as ``fhir.jsonio`` parses it: decimals
are ``JsonNumber`` and stay so) and returns the expression's results as plain JSON
fragments of that resource: dicts, lists' items, strings, numbers, booleans, never
fhirpathpy's internal nodes, never None. As in fhirpathpy, the ``_x`` part of a primitive
comes along when it holds more than extensions (``_birthDate: {"id": "b"}`` gives a dict
beside the date): extractors ignore a dict where they expect a primitive. An evaluator
does not copy its input; the registry makes sure nothing it returns is shared with the
caller's resource.

Two ways to evaluate, the same answers (a differential test over every example resource,
corner cases, and every supported parameter holds them to that):

- ``PathWalker``/``UnionWalker``: an expression made of plain paths is walked over the JSON
  directly, following fhirpathpy's own rules (choice types and element types from the R4
  model, ``_x`` primitive extensions, extension-only elements dropped, a union's
  duplicates removed). A plain path is ``CarePlan.status``, ``Resource.meta.tag``, a bare
  ``Observation``, a choice as the last step (``Observation.effective``), optionally
  followed by ``.ofType(X)`` on that choice, ``.where(resolve() is T)``, or
  ``.where(field = 'literal')`` on a string element and one more step (``Patient.telecom.
  where(system='email')``, ``relatedArtifact.where(type='composed-of').resource``); a
  parenthesised path followed by one step, ``(Observation.value.ofType(CodeableConcept))
  .text``, is the same path. 616 of the 617 (type, parameter) pairs and every composite are
  walked (only ``Patient.deceased.exists() and ...`` is not), about 15 times faster than
  fhirpathpy.
- ``FhirPathEvaluator``: everything else, compiled once with ``fhirpathpy.compile`` and the
  R4 model (so ``value.as(Quantity)``, ``ofType(dateTime)`` and choice types work).

Three rewrites make the official expressions evaluate the way FHIR means them:

- ``Resource.meta.tag`` / ``DomainResource.text``: fhirpathpy only matches the root type
  name exactly (``Resource.id`` on a Patient gives nothing), so a leading ``Resource`` or
  ``DomainResource`` is replaced by the concrete type being indexed (``prepare``).
- ``value.ofType(DateTime)`` (R4's ``Observation-code-value-date`` component) names the
  FHIRPath system type, which no FHIR element is in fhirpathpy; it becomes the FHIR
  primitive ``dateTime`` (``prepare``; likewise String, Boolean, Date, ...).
- ``resolve()``: fhirpathpy has no resolve(). fhircare registers its own, which fetches
  nothing: for a Reference it yields a stand-in resource ``{"resourceType": T, "id": id}``
  whose type ``T`` is read from the reference string (``Patient/1``, an absolute
  ``http://x/fhir/Patient/1``, ``.../_history/2``), from ``#id`` (the contained resource of
  that id), or from ``Reference.type`` when the string says nothing. So
  ``subject.where(resolve() is Patient)`` keeps exactly the references to a Patient, and a
  reference whose type cannot be told (``urn:uuid:``, a logical reference without
  ``type``) is left out of such a filter.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import fhirpathpy
from antlr4 import CommonTokenStream, InputStream
from antlr4.error.ErrorListener import ErrorListener
from fhirpathpy.engine.nodes import FP_Type, ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

R4_MODEL: dict[str, Any] = models["r4"]
COMMON_ROOTS = ("Resource", "DomainResource")

Evaluator = Callable[[Mapping[str, Any]], list[Any]]

# The resource being evaluated, so resolve() can find a contained resource for ``#id``.
_CURRENT: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "fhircare_fhirpath_resource", default=None
)

_REFERENCE = re.compile(
    r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)
_TYPE_URL = re.compile(r"^(?:http://hl7\.org/fhir/StructureDefinition/)?(?P<type>[A-Z][A-Za-z]+)$")


def reference_target(
    reference: Any, container: Mapping[str, Any] | None = None
) -> tuple[str, str | None] | None:
    """``(type, id)`` that a Reference (or a reference string) points at, when it says;
    ``container`` is the resource holding it (for ``#id``, its contained resources)."""
    text: Any = reference
    declared: Any = None
    if isinstance(reference, Mapping):
        text = reference.get("reference")
        declared = reference.get("type")
    if isinstance(text, str):
        if text.startswith("#"):
            target: Any = None
            if container is None:
                pass
            elif text == "#":
                target = container
            else:
                for contained in container.get("contained") or ():
                    if isinstance(contained, Mapping) and contained.get("id") == text[1:]:
                        target = contained
                        break
            if isinstance(target, Mapping) and isinstance(target.get("resourceType"), str):
                return target["resourceType"], target.get("id")
        else:
            match = _REFERENCE.search(text)
            if match:
                return match["type"], match["id"]
    if isinstance(declared, str):
        match = _TYPE_URL.match(declared)
        if match:
            return match["type"], None
    return None


def _resolve(inputs: list[Any]) -> list[ResourceNode]:
    out = []
    container = _CURRENT.get()
    for item in inputs:
        target = reference_target(item, container)
        if target is not None:
            stand_in = {"resourceType": target[0]}
            if target[1] is not None:
                stand_in["id"] = target[1]
            out.append(ResourceNode.create_node(stand_in))
    return out


_OPTIONS: dict[str, Any] = {
    "returnRawData": True,
    "userInvocationTable": {"resolve": {"fn": _resolve, "arity": {0: []}}},
}


_SYSTEM_TYPES = {
    "Boolean": "boolean",
    "String": "string",
    "Integer": "integer",
    "Decimal": "decimal",
    "Date": "date",
    "DateTime": "dateTime",
    "Time": "time",
}
_TYPE_TEST = re.compile(
    r"\b(?P<op>ofType|as|is)(?P<open>\s*\(\s*|\s+)(?:System\.)?"
    r"(?P<name>Boolean|String|Integer|Decimal|Date|DateTime|Time)\b"
)


def prepare(expression: str, resource_type: str | None = None) -> str:
    """An official expression made to evaluate on fhirpathpy as FHIR means it.

    - A leading ``Resource``/``DomainResource`` root becomes ``resource_type`` (fhirpathpy
      matches a root type name exactly).
    - A type test on a FHIRPath system type (``value.ofType(DateTime)``, in R4's
      ``code-value-date``) tests the FHIR primitive of that name (``dateTime``): the
      elements are FHIR primitives, and fhirpathpy's ``System.DateTime`` never matches one.
    """
    if resource_type is not None:
        expression = re.sub(
            r"^(\(*\s*)(?:Resource|DomainResource)\b",
            lambda m: m[1] + resource_type,
            expression,
        )
    return _TYPE_TEST.sub(lambda m: m["op"] + m["open"] + _SYSTEM_TYPES[m["name"]], expression)


def _plain(value: Any) -> Any:
    """One fhirpathpy raw result as a plain JSON fragment (None when it is nothing)."""
    if isinstance(value, ResourceNode):
        value = value.data
    if isinstance(value, FP_Type):
        return str(value)
    return value


def _kept(value: Any) -> bool:
    """fhirpathpy's own rule (an element holding only extensions is not a value), and None."""
    if value is None:
        return False
    return not (isinstance(value, dict) and list(value) == ["extension"])


class FhirPathSyntaxError(ValueError):
    """An expression that is not FHIRPath."""


class _Raise(ErrorListener):
    def syntaxError(  # ANTLR's name
        self, recognizer: Any, offending: Any, line: int, column: int, msg: str, e: Any
    ) -> None:
        raise FhirPathSyntaxError(f"column {column + 1}: {msg}")


def check_syntax(expression: str) -> None:
    """Raise ``FhirPathSyntaxError`` unless ``expression`` is one whole FHIRPath expression.

    fhirpathpy's own parse recovers from syntax errors silently (``Patient.name.(((``
    and ``Patient.name where`` both compile, as ``Patient.name``), so this parses with the
    grammar's ``entireExpression`` rule and an error listener that raises.
    """
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raise())
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(_Raise())
    parser.entireExpression()


class FhirPathEvaluator:
    """A fhirpathpy expression compiled once, with the R4 model and fhircare's resolve().

    ``FhirPathSyntaxError`` when the expression is not FHIRPath.
    """

    def __init__(self, expression: str) -> None:
        check_syntax(expression)
        self.expression = expression
        self._compiled = fhirpathpy.compile(expression, R4_MODEL, _OPTIONS)

    def __call__(self, resource: Mapping[str, Any]) -> list[Any]:
        return [v for v in map(_plain, self._raw(resource, resource)) if _kept(v)]

    def nodes(self, resource: Mapping[str, Any]) -> list[ResourceNode]:
        """The results as fhirpathpy nodes, which keep their element path: the roots a
        composite's components are evaluated on."""
        return [n for n in self._raw(resource, resource) if isinstance(n, ResourceNode)]

    def values_at(self, node: ResourceNode, resource: Mapping[str, Any]) -> list[Any]:
        """The results with ``node`` (a result of ``nodes``) as the context, ``resource``
        being the resource it is part of."""
        return [v for v in map(_plain, self._raw(node, resource)) if _kept(v)]

    def _raw(self, focus: Any, resource: Mapping[str, Any]) -> list[Any]:
        token = _CURRENT.set(resource)
        try:
            return list(self._compiled(focus, None))
        finally:
            _CURRENT.reset(token)


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


def split_union(expression: str) -> list[str]:
    """The alternatives of ``expression``: split on ``|`` outside parentheses, brackets,
    braces, string literals and back-quoted names, each stripped."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    start = 0
    index = 0
    while index < len(expression):
        char = expression[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'`\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(expression[start:index].strip())
            start = index + 1
        index += 1
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


def _flatten(expression: str) -> str:
    """``(a.b).c`` as ``a.b.c`` (the same in FHIRPath), after ``_unwrap``."""
    expression = _unwrap(expression)
    if not expression.startswith("("):
        return expression
    depth = 0
    for index, char in enumerate(expression):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            rest = expression[index + 1 :]
            if re.fullmatch(r"\.[a-z][A-Za-z0-9]*", rest):
                return _unwrap(expression[: index + 1]) + rest
            return expression
    return expression


def _unwrap(expression: str) -> str:
    """``expression`` without the parentheses around the whole of it."""
    expression = expression.strip()
    while expression.startswith("(") and expression.endswith(")"):
        depth = 0
        for index, char in enumerate(expression):
            depth += char == "("
            depth -= char == ")"
            if depth == 0 and index != len(expression) - 1:
                return expression  # the first "(" closes before the end: (a).b
        expression = expression[1:-1].strip()
    return expression


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
            if _is_a(path, "Resource"):
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
                kept = of_type is None or _is_a(kind, of_type)
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
        return [v for v in self.collect(resource) if _kept(v)]

    def collect(self, resource: Mapping[str, Any]) -> list[Any]:
        """The results before fhirpathpy's final filter (None and extension-only kept)."""
        if type(resource) is not dict or resource.get("resourceType") != self.root:
            return []
        if not self.steps:
            return [resource]
        return self.collect_from([resource], resource)

    def collect_from(self, nodes: list[Any], resource: Mapping[str, Any]) -> list[Any]:
        """The steps walked from ``nodes`` (elements of ``resource``), unfiltered."""
        for key, extra in self._path:
            found: list[Any] = []
            for node in nodes:
                if type(node) is dict:
                    value = node.get(key)
                    if value is not None:
                        if type(value) is list:
                            found.extend(value)
                        else:
                            found.append(value)
                    value = node.get(extra)
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
        return [v for v in distinct(found) if _kept(v)]


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
    walkers = [PathWalker.build(_flatten(alternative)) for alternative in alternatives]
    if not walkers or any(w is None for w in walkers):
        return None
    if len(walkers) == 1:
        return walkers[0]
    return UnionWalker(expression, [w for w in walkers if w is not None])


CompositeValues = list[tuple[list[Any], ...]]
"""One tuple per result of a composite's expression: each component's values on it."""


class WalkedComposite:
    """A composite whose expression and components are all walkable: per root alternative,
    the components walked relative to that root's element type."""

    def __init__(self, roots: Sequence[tuple[PathWalker, Sequence[Sequence[PathWalker]]]]) -> None:
        self.roots = tuple(roots)

    def __call__(self, resource: Mapping[str, Any]) -> CompositeValues:
        out: CompositeValues = []
        seen: set[int] = set()
        for root, components in self.roots:
            for node in root.collect(resource):
                if not _kept(node) or id(node) in seen:
                    continue
                seen.add(id(node))
                out.append(tuple(_relative(parts, node, resource) for parts in components))
        return out


def _relative(parts: Sequence[PathWalker], node: Any, resource: Mapping[str, Any]) -> list[Any]:
    if len(parts) == 1:
        return [v for v in parts[0].collect_from([node], resource) if _kept(v)]
    found = [v for part in parts for v in part.collect_from([node], resource)]
    return [v for v in distinct(found) if _kept(v)]


class FhirPathComposite:
    """A composite on fhirpathpy: each root alternative on its own (fhirpathpy's union
    drops the element path of its right side's results, which the components need to tell
    choice types apart), the components evaluated on each root result."""

    def __init__(
        self, roots: Sequence[FhirPathEvaluator], components: Sequence[FhirPathEvaluator]
    ) -> None:
        self.roots = tuple(roots)
        self.components = tuple(components)

    def __call__(self, resource: Mapping[str, Any]) -> CompositeValues:
        out: CompositeValues = []
        seen: set[int] = set()
        for root in self.roots:
            for node in root.nodes(resource):
                if not _kept(node.data) or id(node.data) in seen:
                    continue
                seen.add(id(node.data))
                out.append(tuple(part.values_at(node, resource) for part in self.components))
        return out


def compile_composite(
    expression: str, resource_type: str, components: Sequence[str], *, fast: bool = True
) -> WalkedComposite | FhirPathComposite:
    """A composite parameter's evaluator: its per-type ``expression`` and its components'
    expressions (relative to each result); ``fast`` allows the walker."""
    alternatives = [_unwrap(a) for a in split_union(prepare(expression, resource_type))]
    relative = [[_unwrap(a) for a in split_union(prepare(c))] for c in components]
    if fast:
        roots = []
        for alternative in alternatives:
            root = PathWalker.build(_flatten(alternative))
            if root is None or root.target or root.element_type is None:
                break
            element_type = root.element_type
            parts = [
                [PathWalker.relative(element_type, _flatten(a)) for a in alts] for alts in relative
            ]
            if any(p is None for alts in parts for p in alts):
                break
            roots.append((root, [[p for p in alts if p is not None] for alts in parts]))
        else:
            return WalkedComposite(roots)
    return FhirPathComposite(
        [FhirPathEvaluator(a) for a in alternatives],
        [FhirPathEvaluator(prepare(c)) for c in components],
    )


def _targets(reference: Any, resource: Mapping[str, Any], target: str) -> bool:
    """``reference.where(resolve() is target)`` for one item."""
    resolved = reference_target(reference, resource)
    return resolved is not None and _is_a(resolved[0], target)


# Names the FHIRPath grammar reserves, and ``length``, which fhirpathpy answers for a
# string: such a "plain path" is left to fhirpathpy.
_RESERVED = frozenset({"as", "is", "div", "mod", "and", "or", "xor", "implies", "in", "contains"})
_NOT_AN_ELEMENT = _RESERVED | {"length"}


def _is_a(type_name: str | None, super_type: str) -> bool:
    """fhirpathpy's ``TypeInfo.is_type``: the type, its parents, its element types."""
    seen = set()
    while type_name and type_name not in seen:
        if type_name == super_type:
            return True
        seen.add(type_name)
        type_name = R4_MODEL["type2Parent"].get(type_name) or R4_MODEL["path2Type"].get(type_name)
    return False


def _add(found: list[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        found.extend(value)
    else:
        found.append(value)


def compile_expression(expression: str, resource_type: str, *, fast: bool = True) -> Evaluator:
    """The evaluator of one per-type expression; ``fast`` allows the plain-path walker."""
    expression = prepare(expression, resource_type)
    if fast:
        walker = walker_for(expression)
        if walker is not None:
            return walker
    return FhirPathEvaluator(expression)


def copy_json(value: Any) -> Any:
    """A deep copy of plain JSON (dicts, lists, scalars; tuples stay tuples), much faster
    than ``copy.deepcopy``; any Mapping becomes a dict. Scalars (``JsonNumber`` decimals
    too) are shared: they are immutable."""
    kind = type(value)
    if kind is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if kind is list:
        return [copy_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(copy_json(v) for v in value)
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value
