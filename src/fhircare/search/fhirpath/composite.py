"""Composite parameters: a root expression, and components evaluated on each of its results.

Walked when the root and every component are plain paths, else on fhirpathpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fhircare.search.fhirpath.evaluator import FhirPathEvaluator
from fhircare.search.fhirpath.model import kept
from fhircare.search.fhirpath.rewrite import flatten, prepare, split_union, unwrap
from fhircare.search.fhirpath.walker import PathWalker, distinct

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
                if not kept(node) or id(node) in seen:
                    continue
                seen.add(id(node))
                out.append(tuple(_relative(parts, node, resource) for parts in components))
        return out


def _relative(parts: Sequence[PathWalker], node: Any, resource: Mapping[str, Any]) -> list[Any]:
    if len(parts) == 1:
        return [v for v in parts[0].collect_from([node], resource) if kept(v)]
    found = [v for part in parts for v in part.collect_from([node], resource)]
    return [v for v in distinct(found) if kept(v)]


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
                if not kept(node.data) or id(node.data) in seen:
                    continue
                seen.add(id(node.data))
                out.append(tuple(part.values_at(node, resource) for part in self.components))
        return out


def compile_composite(
    expression: str, resource_type: str, components: Sequence[str], *, fast: bool = True
) -> WalkedComposite | FhirPathComposite:
    """A composite parameter's evaluator: its per-type ``expression`` and its components'
    expressions (relative to each result); ``fast`` allows the walker."""
    alternatives = [unwrap(a) for a in split_union(prepare(expression, resource_type))]
    relative = [[unwrap(a) for a in split_union(prepare(c))] for c in components]
    if fast:
        roots = []
        for alternative in alternatives:
            root = PathWalker.build(flatten(alternative))
            if root is None or root.target or root.element_type is None:
                break
            element_type = root.element_type
            parts = [
                [PathWalker.relative(element_type, flatten(a)) for a in alts] for alts in relative
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
