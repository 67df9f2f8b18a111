"""``_summary`` and ``_elements``: return part of a resource, tagged SUBSETTED.

https://hl7.org/fhir/R4/search.html#summary and #elements. Both act on top-level
elements; ``id``, ``meta`` and the mandatory elements are always kept.
"""

from __future__ import annotations

from typing import Any

from fhircare.fhir import errors
from fhircare.fhir.models import mandatory_elements, summary_elements

SUMMARY_MODES = ("true", "text", "data", "count", "false")
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "Resource encoded in summary mode",
}
_ALWAYS = ("resourceType", "id", "meta")


def parse_summary(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in SUMMARY_MODES:
        raise errors.invalid(f"_summary must be one of {', '.join(SUMMARY_MODES)}", "_summary")
    return None if value == "false" else value


def parse_elements(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    for name in names:
        if "." in name:
            name = name.split(".", 1)[1]
        if not name.replace("_", "").isalnum():
            raise errors.invalid(f"_elements: '{name[:40]}' is not an element name", "_elements")
    return [name.split(".", 1)[-1] for name in names]


def subset(
    resource: dict[str, Any], summary: str | None, elements: list[str] | None
) -> dict[str, Any]:
    """The subset of ``resource`` that ``_summary``/``_elements`` ask for."""
    resource_type = str(resource.get("resourceType"))
    if summary in ("true", "count"):
        keep = set(summary_elements(resource_type))
    elif summary == "text":
        keep = {"text", *mandatory_elements(resource_type)}
    elif summary == "data":
        keep = {name for name in resource if name != "text"}
    elif elements is not None:
        keep = {*elements, *mandatory_elements(resource_type)}
    else:
        return resource
    keep.update(_ALWAYS)
    chosen = {k: v for k, v in resource.items() if k in keep or k.lstrip("_") in keep}
    meta = dict(chosen.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    chosen["meta"] = meta
    return chosen
