"""Expression text rewritten before it is compiled or walked.

Two rewrites make the official expressions evaluate the way FHIR means them (``prepare``):

- ``Resource.meta.tag`` / ``DomainResource.text``: fhirpathpy only matches the root type
  name exactly (``Resource.id`` on a Patient gives nothing), so a leading ``Resource`` or
  ``DomainResource`` is replaced by the concrete type being indexed.
- ``value.ofType(DateTime)`` (R4's ``Observation-code-value-date`` component) names the
  FHIRPath system type, which no FHIR element is in fhirpathpy; it becomes the FHIR
  primitive ``dateTime`` (likewise String, Boolean, Date, ...).

And a union is split into its alternatives, each unparenthesised where that is the same
expression (``split_union``, ``unwrap``, ``flatten``), so each can be walked.
"""

from __future__ import annotations

import re

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


def flatten(expression: str) -> str:
    """``(a.b).c`` as ``a.b.c`` (the same in FHIRPath), after ``unwrap``."""
    expression = unwrap(expression)
    if not expression.startswith("("):
        return expression
    depth = 0
    for index, char in enumerate(expression):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            rest = expression[index + 1 :]
            if re.fullmatch(r"\.[a-z][A-Za-z0-9]*", rest):
                return unwrap(expression[: index + 1]) + rest
            return expression
    return expression


def unwrap(expression: str) -> str:
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
