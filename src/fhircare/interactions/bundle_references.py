"""References inside bundle entries: placeholders (``urn:uuid:``) and conditional ones.

https://hl7.org/fhir/R4/http.html#trules and #cond-refs. In a transaction, an entry's
``fullUrl`` may be a placeholder that other entries refer to; once the server knows the
resource's ``Type/id``, every value equal to that fullUrl (a Reference.reference, a
canonical, a uri) becomes ``Type/id``. A conditional reference (``Patient?identifier=…``)
becomes the one resource its search finds: 404 when none, 412 when several.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from fhircare.fhir import errors
from fhircare.fhir.errors import Category, FhirError, Issue
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.interactions.conditional import matching, parse_condition
from fhircare.interactions.request import Context

PLACEHOLDERS = ("urn:uuid:", "urn:oid:")
_CONDITIONAL = re.compile(r"(?P<type>[A-Z][A-Za-z]+)\?(?P<query>.+)")


def is_placeholder(url: str | None) -> bool:
    return url is not None and url.startswith(PLACEHOLDERS)


def rewrite(value: Any, mapping: Mapping[str, str]) -> Any:
    """``value`` with every string equal to a key of ``mapping`` replaced by its value."""
    if not mapping:
        return value
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        return {key: rewrite(item, mapping) for key, item in value.items()}
    if isinstance(value, list):
        return [rewrite(item, mapping) for item in value]
    return value


def references(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """``(path, reference)`` for every string ``reference`` element under ``value``, the
    path in FHIRPath form (``Task.basedOn[0].reference``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield f"{path}.reference", item
            else:
                yield from references(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from references(item, f"{path}[{index}]")


def check_no_placeholders(resource: dict[str, Any]) -> None:
    """400 when a reference is still a placeholder: no entry of the transaction has it as
    its fullUrl, so it would point nowhere once stored."""
    for path, reference in references(resource, resource["resourceType"]):
        if is_placeholder(reference):
            raise errors.invalid(
                f"{path}: '{reference[:100]}' is not the fullUrl of any entry", path
            )


async def resolve_conditional_references(
    context: Context,
    resource: dict[str, Any],
    base_url: str,
    resolved: MutableMapping[str, str] | None = None,
) -> dict[str, Any]:
    """``resource`` with each conditional reference replaced by ``Type/id`` of its only
    match; ``resolved`` caches answers across the entries of one bundle."""
    resolved = {} if resolved is None else resolved
    found: dict[str, str] = {}
    for path, reference in references(resource, resource["resourceType"]):
        match = _CONDITIONAL.fullmatch(reference)
        if match is None or match.group("type") not in RESOURCE_TYPES:
            continue
        if reference not in resolved:
            resolved[reference] = await _resolve(context, match, path, base_url)
        found[reference] = resolved[reference]
    return rewrite(resource, found)


async def _resolve(context: Context, match: re.Match[str], path: str, base_url: str) -> str:
    resource_type, reference = match.group("type"), match.group(0)
    try:
        parsed = parse_condition(context, resource_type, match.group("query"))
    except FhirError as error:
        raise FhirError(
            error.category,
            [Issue(i.code, i.diagnostics, i.severity, (path,)) for i in error.issues],
        ) from None
    found = await matching(context, parsed, base_url)
    if not found:
        message = f"{path}: no {resource_type} matches the conditional reference '{reference}'"
        raise FhirError(Category.NOT_FOUND, [Issue("not-found", message, expression=(path,))])
    if len(found) > 1:
        message = (
            f"{path}: the conditional reference '{reference}' matches more than one {resource_type}"
        )
        raise FhirError(
            Category.PRECONDITION, [Issue("multiple-matches", message, expression=(path,))]
        )
    return f"{resource_type}/{found[0].id}"
