"""A resource's index entries, computed once at write time.

https://hl7.org/fhir/R4/search.html#ptypes. Every search parameter of the resource's type is
evaluated (by a callable the registry provides, so this module does not depend on it) and its
values go to the extractor for the parameter's type (``extract/<type>.py``). The entries are
deduplicated and checked to be storable as they are (``entries.py``). Nothing here raises for
a value: an unindexable value is a warning on ``fhircare.search``, never a failed write.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from fhircare.search.entries import Entry
from fhircare.search.extract import composite, date, number, quantity, reference, string, token, uri
from fhircare.search.extract.context import LOG, ExtractContext, skip

__all__ = [
    "EXTRACTORS",
    "Evaluate",
    "EvaluateComposite",
    "ExtractContext",
    "Indexer",
    "RegistryLike",
    "SearchParamLike",
    "component_values",
    "dedupe",
    "index_resource",
    "storable",
]


class SearchParamLike(Protocol):
    """What indexing needs of a SearchParameter (the registry's ``SearchParam`` is one).

    ``components`` is empty except for a composite: one ``(code, expression)`` per
    component, in order, where ``code`` names the component's own parameter (of the same
    resource type, which gives its type) and ``expression`` is FHIRPath relative to each
    fragment the composite's own expression selects.
    """

    @property
    def code(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def components(self) -> tuple[tuple[str, str], ...]: ...


class RegistryLike(Protocol):
    """What ``Indexer`` needs of the search parameter registry (``search/registry.py``)."""

    def params_for(self, resource_type: str) -> Mapping[str, SearchParamLike]: ...

    def evaluate(self, resource_type: str, code: str, resource: Mapping[str, Any]) -> list[Any]: ...

    def evaluate_all(
        self, resource_type: str, resource: Mapping[str, Any]
    ) -> dict[str, list[Any]]: ...

    def evaluate_composite(
        self, resource_type: str, code: str, resource: Mapping[str, Any]
    ) -> list[tuple[list[Any], ...]]: ...


Evaluate = Callable[[str, dict[str, Any]], list[Any]]
"""``(code, resource) → values``: the parameter's expression evaluated on the resource."""

EvaluateComposite = Callable[[str, dict[str, Any]], Sequence[Sequence[list[Any]]]]
"""``(code, resource) → one item per fragment``: each component's values in that fragment."""

Extractor = Callable[[str, list[Any], ExtractContext], list[Entry]]

EXTRACTORS: dict[str, Extractor] = {
    "string": string.extract,
    "token": token.extract,
    "date": date.extract,
    "number": number.extract,
    "quantity": quantity.extract,
    "reference": reference.extract,
    "uri": uri.extract,
}

_INT64 = 2**63


class Indexer:
    """Index entries from a registry: what storage writes and ``_include`` re-reads."""

    def __init__(self, registry: RegistryLike, base_url: str | None = None) -> None:
        self.registry = registry
        self.base_url = base_url

    def entries(self, resource: dict[str, Any]) -> list[Entry]:
        """Every entry of ``resource`` (its expressions evaluated on one copy)."""
        kind = str(resource.get("resourceType"))
        values = self.registry.evaluate_all(kind, resource)
        return index_resource(
            resource,
            self.registry.params_for(kind),
            lambda code, _: values.get(code, []),
            ExtractContext(kind, self.base_url),
            self._composite(kind),
        )

    def entries_of(self, resource: dict[str, Any], code: str) -> list[Entry]:
        """The entries of parameter ``code`` alone ([] when the type has no such parameter)."""
        kind = str(resource.get("resourceType"))
        params = self.registry.params_for(kind)
        if code not in params:
            return []
        return index_resource(
            resource,
            {code: params[code]},
            lambda c, r: self.registry.evaluate(kind, c, r),
            ExtractContext(kind, self.base_url),
            self._composite(kind),
            types={c: p.type for c, p in params.items()},
        )

    def _composite(self, kind: str) -> EvaluateComposite:
        return lambda code, resource: self.registry.evaluate_composite(kind, code, resource)


def index_resource(
    resource: dict[str, Any],
    params: Mapping[str, SearchParamLike],
    evaluate: Evaluate,
    context: ExtractContext,
    evaluate_composite: EvaluateComposite | None = None,
    types: Mapping[str, str] | None = None,
) -> list[Entry]:
    """The deduplicated entries of every parameter in ``params`` (those of the resource's type).

    A composite is evaluated by ``evaluate_composite`` when given, else by ``evaluate`` for
    its fragments and ``component_values`` (the simple paths R4's composites use) for its
    components; a component's type is that of its parameter in ``types`` (default: the
    types in ``params``). ``special`` parameters are not indexed.
    """
    context = _completed(context, resource)
    types = types if types is not None else {c: p.type for c, p in params.items()}
    entries: list[Entry] = []
    for param in params.values():
        if param.type == "special":
            continue
        try:
            if param.type == "composite":
                entries += _composite(param, resource, evaluate, evaluate_composite, types, context)
                continue
            values = list(evaluate(param.code, resource))
            extractor = EXTRACTORS.get(param.type)
            if extractor is None:
                skip(param.code, param.type, "no extractor for this parameter type")
                continue
            entries += extractor(param.code, values, context)
        except Exception:
            LOG.exception("search parameter %s: indexing failed", param.code)
    kept = []
    for entry in entries:
        if storable(entry):
            kept.append(entry)
        else:
            skip(entry.get("p", "?"), entry, "the entry cannot be stored as it is")
    return dedupe(kept)


def _composite(
    param: SearchParamLike,
    resource: dict[str, Any],
    evaluate: Evaluate,
    evaluate_composite: EvaluateComposite | None,
    types: Mapping[str, str],
    context: ExtractContext,
) -> list[Entry]:
    components = [(code, types.get(code, "")) for code, _ in param.components]
    missing = [code for code, kind in components if not kind]
    if missing or not components:
        skip(param.code, missing, "composite components that are not parameters of the type")
        return []
    if evaluate_composite is not None:
        fragments = [list(f) for f in evaluate_composite(param.code, resource)]
    else:
        fragments = [
            [component_values(expression, fragment, resource) for _, expression in param.components]
            for fragment in evaluate(param.code, resource)
            if isinstance(fragment, dict)
        ]
    return composite.extract(param.code, fragments, context, components)


_STEP = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?:ofType|as)\((?P<type>[A-Za-z]+)\)")


def component_values(
    expression: str, fragment: Mapping[str, Any], resource: Mapping[str, Any]
) -> list[Any]:
    """Evaluate the simple FHIRPath of R4's composite components on one fragment.

    Paths of element names, ``ofType(T)``/``as(T)`` on a choice element, ``|`` unions and a
    leading ``%resource`` (``value.ofType(Quantity) | value.ofType(Range)``,
    ``%resource.referenceSeq.chromosome``). Anything else raises ``ValueError``.
    """
    results: list[Any] = []
    for term in expression.split("|"):
        steps = term.strip().split(".")
        nodes: list[Any] = [fragment]
        if steps[0] == "%resource":
            nodes, steps = [resource], steps[1:]
        path: list[tuple[str, str | None]] = []
        for step in steps:
            match = _STEP.fullmatch(step.strip())
            if match is None:
                raise ValueError(f"unsupported component expression {expression!r}")
            if match["type"] is None:
                path.append((match["name"], None))
            elif path and path[-1][1] is None:
                path[-1] = (path[-1][0], match["type"])
            else:
                raise ValueError(f"unsupported component expression {expression!r}")
        for name, kind in path:
            nodes = [child for node in nodes for child in _children(node, name, kind)]
        results += nodes
    return results


def _children(node: Any, name: str, kind: str | None) -> list[Any]:
    if not isinstance(node, Mapping):
        return []
    if kind is not None:
        keys = [name + kind[:1].upper() + kind[1:]]
    elif name in node:
        keys = [name]
    else:
        keys = [k for k in node if k.startswith(name) and k[len(name) : len(name) + 1].isupper()]
    found: list[Any] = []
    for key in keys:
        value = node.get(key)
        if isinstance(value, list):
            found += value
        elif value is not None:
            found.append(value)
    return found


def storable(value: Any) -> bool:
    """True when FerretDB and MongoDB store ``value`` as it is: no ``$``/dotted keys, no NUL,
    no nested arrays, no NaN/Infinity, ints within int64 (ARCHITECTURE.md, FerretDB)."""
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and k and not k.startswith("$") and "." not in k and "\x00" not in k
            for k in value
        ) and all(storable(v) for v in value.values())
    if isinstance(value, list):
        return all(not isinstance(v, list) and storable(v) for v in value)
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, bool) or value is None or isinstance(value, datetime):
        return True
    if isinstance(value, int):
        return -_INT64 <= value < _INT64
    if isinstance(value, float):
        return math.isfinite(value)
    return False


def dedupe(entries: Sequence[Entry]) -> list[Entry]:
    """Entries without repeats, in their first order."""
    seen: set[Any] = set()
    kept: list[Entry] = []
    for entry in entries:
        key = _frozen(entry)
        if key not in seen:
            seen.add(key)
            kept.append(entry)
    return kept


def _frozen(value: Any) -> Any:
    """A hashable equivalent of an entry (a composite's ``q`` holds sub-entries)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _completed(context: ExtractContext, resource: dict[str, Any]) -> ExtractContext:
    """``context`` with the types of the resource's contained resources filled in."""
    contained = resource.get("contained")
    types = dict(context.contained)
    for item in contained if isinstance(contained, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            kind = item.get("resourceType")
            if isinstance(kind, str):
                types.setdefault(item["id"], kind)
    return replace(context, contained=types)
