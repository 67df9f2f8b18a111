"""The input parameters of an operation, from the query and a ``Parameters`` body.

https://hl7.org/fhir/R4/operations.html#request: ``GET`` carries the inputs in the query
(primitive types only); ``POST`` in a ``Parameters`` resource, where the query may add
more. Each operation declares its inputs (``Input``: name, FHIR type, cardinality, a line
of documentation) once; the same declaration checks a request here, describes the operation
in the OpenAPI document and is held to its OperationDefinition in ``profiles/`` by a test.

A value of the wrong type, a required input missing, a single one given twice, or an
unknown one is 400 with the parameter named in ``expression`` (the query name, or
``Parameters.parameter[i].value[x]``). ``_format``, ``_pretty`` and ``_cursor`` belong to
the response and the paging, and are never unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fhircare.fhir import errors, jsonio
from fhircare.fhir.errors import FhirError
from fhircare.interactions.paging import CURSOR
from fhircare.interactions.request import Context, FhirRequest
from fhircare.interactions.resource_body import check_resource
from fhircare.search.normalize import date_range

IGNORED = ("_format", "_pretty", CURSOR)
TEXT_TYPES = ("string", "code", "uri", "canonical", "id", "markdown")
INTEGER_TYPES = {"integer": -(2**31), "unsignedInt": 0, "positiveInt": 1}
DATE_TYPES = ("date", "dateTime", "instant")
VALUE_KINDS: dict[str, tuple[str, ...]] = {
    "string": ("valueString",),
    "code": ("valueCode", "valueString"),
    "uri": ("valueUri", "valueString"),
    "canonical": ("valueCanonical", "valueUri"),
    "id": ("valueId", "valueString"),
    "markdown": ("valueMarkdown", "valueString"),
    "boolean": ("valueBoolean",),
    "integer": ("valueInteger", "valuePositiveInt", "valueUnsignedInt"),
    "unsignedInt": ("valueUnsignedInt", "valueInteger", "valuePositiveInt"),
    "positiveInt": ("valuePositiveInt", "valueInteger", "valueUnsignedInt"),
    "date": ("valueDate", "valueDateTime"),
    "dateTime": ("valueDateTime", "valueDate", "valueInstant"),
    "instant": ("valueInstant", "valueDateTime"),
    "Reference": ("valueReference",),
    "Resource": ("resource",),
}
"""The ``value[x]`` elements a Parameters body may give each input type in."""


@dataclass(frozen=True)
class Input:
    """One input parameter as its OperationDefinition declares it."""

    name: str
    type: str
    documentation: str
    min: int = 0
    max: str = "1"

    @property
    def repeats(self) -> bool:
        return self.max != "1"


@dataclass(frozen=True)
class Given:
    """A value as the operation uses it (``str``, ``int``, ``bool``, a reference as
    ``Type/id`` text, a resource as a dict) and where it was given, for an error."""

    value: Any
    where: str


class Inputs:
    """The values given for each declared input."""

    def __init__(self, values: dict[str, list[Given]]) -> None:
        self._values = values

    def all(self, name: str) -> list[Given]:
        return self._values.get(name, [])

    def one(self, name: str) -> Given | None:
        values = self._values.get(name)
        return values[0] if values else None

    def value(self, name: str, default: Any = None) -> Any:
        given = self.one(name)
        return default if given is None else given.value


def parse_inputs(
    context: Context, request: FhirRequest, declared: Sequence[Input], operation: str
) -> Inputs:
    """The request's inputs for ``operation`` (its name, for messages), checked against
    ``declared``."""
    by_name = {d.name: d for d in declared}
    values: dict[str, list[Given]] = {}
    for name, text in request.query:
        if name in IGNORED:
            continue
        spec = _known(by_name, name, name, operation)
        _add(values, spec, Given(_from_text(spec, text, name), name))
    if request.method == "POST" and request.body.strip():
        resource = check_resource(jsonio.loads(request.body), "Parameters", context.limits)
        for index, parameter in enumerate(resource.get("parameter") or ()):
            where = f"Parameters.parameter[{index}]"
            spec = _known(by_name, str(parameter.get("name")), where, operation)
            _add(values, spec, _from_body(spec, parameter, where))
    for spec in declared:
        if spec.min > 0 and not values.get(spec.name):
            raise errors.invalid(
                f"{operation} needs {spec.name} ({spec.documentation})", spec.name, code="required"
            )
    return Inputs(values)


def _known(by_name: dict[str, Input], name: str, where: str, operation: str) -> Input:
    spec = by_name.get(name)
    if spec is None:
        known = ", ".join(sorted(by_name)) or "none"
        raise errors.invalid(
            f"Unknown parameter '{name[:40]}' for {operation} (it takes: {known})",
            where,
            code="not-supported",
        )
    return spec


def _add(values: dict[str, list[Given]], spec: Input, given: Given) -> None:
    found = values.setdefault(spec.name, [])
    if found and not spec.repeats:
        raise errors.invalid(f"{spec.name} may be given only once", given.where)
    found.append(given)


def _from_text(spec: Input, text: str, where: str) -> Any:
    """A query value as the input's type."""
    if spec.type == "Resource":
        raise errors.invalid(f"{spec.name} is a resource: send it in a Parameters body", where)
    if spec.type == "Reference":
        return _reference(text, spec, where)
    return _typed(spec, text, where)


def _from_body(spec: Input, parameter: dict[str, Any], where: str) -> Given:
    """A ``Parameters.parameter`` as the input's type."""
    allowed = VALUE_KINDS.get(spec.type, ("valueString",))
    kinds = [k for k in parameter if k.startswith("value") or k in ("resource", "part")]
    if len(kinds) != 1 or kinds[0] not in allowed:
        raise errors.invalid(
            f"{where}: {spec.name} takes {' or '.join(allowed)}", f"{where}.value[x]"
        )
    kind = kinds[0]
    value, at = parameter[kind], f"{where}.{kind}"
    if spec.type == "Resource":
        if not isinstance(value, dict):
            raise errors.invalid(f"{spec.name} must be a resource", at)
        return Given(value, at)
    if spec.type == "Reference":
        text = value.get("reference") if isinstance(value, dict) else None
        if not isinstance(text, str):
            raise errors.invalid(f"{spec.name} needs a reference (Type/id)", f"{at}.reference")
        return Given(_reference(text, spec, f"{at}.reference"), at)
    if spec.type == "boolean":
        return Given(bool(value), at)
    return Given(_typed(spec, str(value), at), at)


def _typed(spec: Input, text: str, where: str) -> Any:
    if spec.type == "boolean":
        if text not in ("true", "false"):
            raise errors.invalid(f"{spec.name} '{text[:40]}' is not true or false", where)
        return text == "true"
    if spec.type in INTEGER_TYPES:
        lowest = INTEGER_TYPES[spec.type]
        if not text.lstrip("-").isdigit() or len(text) > 11 or not lowest <= int(text) < 2**31:
            raise errors.invalid(
                f"{spec.name} '{text[:40]}' is not an integer of at least {lowest}", where
            )
        return int(text)
    if spec.type in DATE_TYPES:
        try:
            date_range(text)
        except FhirError:
            raise errors.invalid(f"{spec.name} '{text[:40]}' is not a {spec.type}", where) from None
        return text
    if not text and spec.type in TEXT_TYPES:
        raise errors.invalid(f"{spec.name} is empty", where)
    return text


def _reference(text: str, spec: Input, where: str) -> str:
    """``Type/id`` from a relative reference (an absolute one keeps its last two segments
    when they are a type and an id)."""
    parts = text.rstrip("/").split("/")
    if len(parts) < 2 or not parts[-2][:1].isupper() or not parts[-1]:
        raise errors.invalid(f"{spec.name} '{text[:60]}' is not a reference (Type/id)", where)
    return f"{parts[-2]}/{parts[-1]}"
