"""The general evaluator: an expression compiled once with fhirpathpy and the R4 model
(so ``value.as(Quantity)``, ``ofType(dateTime)`` and choice types work), for everything
the walker cannot walk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import FP_Type, ResourceNode

from fhircare.fhir.fhirpath_syntax import check_syntax
from fhircare.search.fhirpath.model import R4_MODEL, kept
from fhircare.search.fhirpath.resolve import CURRENT_RESOURCE, OPTIONS


def _plain(value: Any) -> Any:
    """One fhirpathpy raw result as a plain JSON fragment (None when it is nothing)."""
    if isinstance(value, ResourceNode):
        value = value.data
    if isinstance(value, FP_Type):
        return str(value)
    return value


class FhirPathEvaluator:
    """A fhirpathpy expression compiled once, with the R4 model and fhircare's resolve().

    ``FhirPathSyntaxError`` when the expression is not FHIRPath.
    """

    def __init__(self, expression: str) -> None:
        check_syntax(expression)
        self.expression = expression
        self._compiled = fhirpathpy.compile(expression, R4_MODEL, OPTIONS)

    def __call__(self, resource: Mapping[str, Any]) -> list[Any]:
        return [v for v in map(_plain, self._raw(resource, resource)) if kept(v)]

    def nodes(self, resource: Mapping[str, Any]) -> list[ResourceNode]:
        """The results as fhirpathpy nodes, which keep their element path: the roots a
        composite's components are evaluated on."""
        return [n for n in self._raw(resource, resource) if isinstance(n, ResourceNode)]

    def values_at(self, node: ResourceNode, resource: Mapping[str, Any]) -> list[Any]:
        """The results with ``node`` (a result of ``nodes``) as the context, ``resource``
        being the resource it is part of."""
        return [v for v in map(_plain, self._raw(node, resource)) if kept(v)]

    def _raw(self, focus: Any, resource: Mapping[str, Any]) -> list[Any]:
        token = CURRENT_RESOURCE.set(resource)
        try:
            return list(self._compiled(focus, None))
        finally:
            CURRENT_RESOURCE.reset(token)
