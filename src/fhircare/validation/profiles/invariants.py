"""Invariants a profile adds: FHIRPath constraints, compiled once with fhirpathpy.

https://hl7.org/fhir/R4/conformance-rules.html#constraints - each is evaluated on every
occurrence of its element, typed by the element's R4 path (so ``value.ofType(Quantity)``
works), with ``%resource`` and ``%rootResource`` set to the resource. The result must be
``true``: as in the reference validator, an empty result fails. A constraint of severity
*warning* gives a warning. fhirpathpy gets copies, as everywhere in fhircare: of the element,
or of the whole resource made once per check.

Not evaluated: the invariants of the base R4 types (``ele-1``, ``dom-*``, ``cpl-3``...), which
the structural engine and the rule walk cover (fhirpathpy 2.2 could not run 8 of the 237
anyway: ``hasValue()`` in ele-1, age-1, bdl-10, cnt-3 and per-1, ``resolve()`` in ctm-1,
``htmlChecks()`` in txt-1 and txt-2). A profile's invariant using one of those functions is
reported as not evaluated, a warning. fhirpathpy knows ``$this`` only inside a function's
argument, so an expression using it is evaluated as ``select(...)``, which gives the same
answer on one element; ``trace()`` prints nothing.
"""

from __future__ import annotations

from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from fhircare.fhir.fhirpath_syntax import check_syntax
from fhircare.fhir.jsoncopy import copy_json
from fhircare.validation.profiles.errors import ProfileError
from fhircare.validation.profiles.facts import Constraint
from fhircare.validation.profiles.nodes import Run

_R4 = models["r4"]


def _quiet_trace(label: Any, value: Any) -> None:
    """trace() is for debugging; a server does not print what it finds."""


_OPTIONS = {"traceFn": _quiet_trace}


def _passed(result: list[Any]) -> bool:
    if len(result) == 1 and isinstance(result[0], bool):
        return result[0]
    return bool(result)


class InvariantCheck:
    """One constraint on one element, compiled."""

    __slots__ = ("_compiled", "constraint", "type_path", "uses_resource")

    def __init__(self, constraint: Constraint, type_path: str, url: str, where: str) -> None:
        expression = constraint.expression
        try:
            check_syntax(expression)
        except ValueError as exc:
            raise ProfileError(url, f"constraint {constraint.key}: {exc}", where) from None
        if "$this" in expression:
            expression = f"select({expression})"
        self.constraint = constraint
        self.type_path = type_path  # the R4 path or type that types the focus
        self.uses_resource = "%resource" in expression or "%rootResource" in expression
        self._compiled = fhirpathpy.compile(expression, _R4, _OPTIONS)

    def __call__(self, value: Any, ext: Any, expression: str, run: Run) -> None:
        constraint = self.constraint
        data = run.resource_copy() if value is run.resource else copy_json(value)
        focus = ResourceNode.create_node(data, self.type_path, copy_json(ext))
        variables = {}
        if self.uses_resource:
            resource = run.resource_copy()
            variables = {"resource": resource, "rootResource": resource}
        try:
            passed = _passed(self._compiled(focus, variables))
        except Exception as exc:  # fhirpathpy raises anything; never a 500 for it
            message = f"{expression}: Constraint {constraint.key} could not be evaluated ({exc})"
            run.issue("exception", message, expression, "warning", key=constraint.key)
            return
        if not passed:
            message = f"{expression}: Constraint failed: {constraint.key}: '{constraint.human}'"
            run.issue("invariant", message, expression, constraint.severity, key=constraint.key)
