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

- ``PathWalker``/``UnionWalker`` (``walker.py``): an expression made of plain paths is
  walked over the JSON directly, following fhirpathpy's own rules.
- ``FhirPathEvaluator`` (``evaluator.py``): everything else, compiled once with
  ``fhirpathpy.compile`` and the R4 model.

``rewrite.py`` makes the official expressions evaluate the way FHIR means them,
``resolve.py`` is the resolve() that fetches nothing, ``syntax.py`` refuses what is not
FHIRPath, and ``composite.py`` evaluates composite parameters.
"""

from __future__ import annotations

from fhircare.fhir.fhirpath_syntax import FhirPathSyntaxError, check_syntax
from fhircare.fhir.jsoncopy import copy_json
from fhircare.search.fhirpath.composite import (
    CompositeValues,
    FhirPathComposite,
    WalkedComposite,
    compile_composite,
)
from fhircare.search.fhirpath.evaluator import FhirPathEvaluator
from fhircare.search.fhirpath.model import COMMON_ROOTS, R4_MODEL, Evaluator
from fhircare.search.fhirpath.resolve import reference_target
from fhircare.search.fhirpath.rewrite import prepare, split_union
from fhircare.search.fhirpath.walker import PathWalker, UnionWalker, distinct, walker_for

__all__ = [
    "COMMON_ROOTS",
    "R4_MODEL",
    "CompositeValues",
    "Evaluator",
    "FhirPathComposite",
    "FhirPathEvaluator",
    "FhirPathSyntaxError",
    "PathWalker",
    "UnionWalker",
    "WalkedComposite",
    "check_syntax",
    "compile_composite",
    "compile_expression",
    "copy_json",
    "distinct",
    "prepare",
    "reference_target",
    "split_union",
    "walker_for",
]


def compile_expression(expression: str, resource_type: str, *, fast: bool = True) -> Evaluator:
    """The evaluator of one per-type expression; ``fast`` allows the plain-path walker."""
    expression = prepare(expression, resource_type)
    if fast:
        walker = walker_for(expression)
        if walker is not None:
            return walker
    return FhirPathEvaluator(expression)
