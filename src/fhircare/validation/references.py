"""Literal references: syntax and allowed target types.

https://hl7.org/fhir/R4/references.html#literal - a reference is relative (``Type/id``,
optionally ``/_history/vid``), absolute (a URL), a ``urn:uuid:``/``urn:oid:`` (resolved in a
Bundle) or ``#id`` for a contained resource (``#`` alone is the container).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.fhir.rule_tree import ElementRule
from fhircare.validation.issues import IssueCollector

_ID = r"[A-Za-z0-9\-.]{1,64}"  # https://hl7.org/fhir/R4/datatypes.html#id
_RELATIVE = re.compile(rf"(?P<type>[A-Za-z]+)/{_ID}(?:/_history/{_ID})?")
_URL_TAIL = re.compile(rf"/(?P<type>[A-Z][A-Za-z]+)/{_ID}(?:/_history/{_ID})?")
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*")
_UUID = re.compile(r"urn:uuid:[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_OID = re.compile(r"urn:oid:[0-2](?:\.(?:0|[1-9][0-9]*))+")

_FORMS = "Type/id, an absolute http(s) URL, urn:uuid:, urn:oid: or #id"


def reference_type(reference: str) -> tuple[bool, str | None]:
    """(well formed, target resource type if the reference names one)."""
    relative = _RELATIVE.fullmatch(reference)
    if relative:
        target = relative.group("type")
        return target in RESOURCE_TYPES, target
    if _URL.fullmatch(reference):
        tail = _URL_TAIL.search(reference)
        target = tail.group("type") if tail and tail.end() == len(reference) else None
        return True, target if target in RESOURCE_TYPES else None
    return bool(_UUID.fullmatch(reference) or _OID.fullmatch(reference)), None


def check_reference(
    rule: ElementRule,
    value: Mapping[str, Any],
    expression: str,
    contained_ids: frozenset[str],
    issues: IssueCollector,
) -> None:
    """Check ``value['reference']`` of a Reference found at ``expression``."""
    reference = value.get("reference")
    if not isinstance(reference, str):
        return  # absent (a logical reference) or not a string (a structural error)
    where = f"{expression}.reference"
    if reference.startswith("#"):
        if len(reference) > 1 and reference[1:] not in contained_ids:
            issues.add("value", f"{where}: No contained resource has id {reference[1:]!r}", where)
        return
    well_formed, target = reference_type(reference)
    if not well_formed:
        if target is not None:
            message = f"{where}: {target!r} is not a known resource type in {reference!r}"
        else:
            message = f"{where}: {reference!r} is not a valid reference (expected {_FORMS})"
        issues.add("value", message, where)
    elif target is not None and rule.allowed and target not in rule.allowed:
        issues.add(
            "value",
            f"{where}: A reference to {target} is not allowed here "
            f"(allowed: {' | '.join(rule.values)})",
            where,
        )
