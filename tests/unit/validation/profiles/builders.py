"""Small StructureDefinitions, ValueSets and CodeSystems for the profile engine's tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhircare.validation.issues import IssueCollector
from fhircare.validation.profiles import ProfileSet, check_profile

BASE = "http://example.org/fhir"
CORE = "http://hl7.org/fhir/StructureDefinition/"


def element(element_id: str, **facts: Any) -> dict[str, Any]:
    """An ElementDefinition whose path is its id without slice names."""
    path = ".".join(step.partition(":")[0] for step in element_id.split("."))
    facts = {k.replace("slice_name", "sliceName"): v for k, v in facts.items()}
    return {"id": element_id, "path": path, **facts}


def profile(
    type_name: str,
    *elements: dict[str, Any],
    name: str = "test",
    base: str | None = None,
    kind: str = "resource",
    **extra: Any,
) -> dict[str, Any]:
    """A constraint profile of ``type_name`` with a differential of ``elements``."""
    return {
        "resourceType": "StructureDefinition",
        "url": f"{BASE}/StructureDefinition/{name}",
        "name": name,
        "type": type_name,
        "kind": kind,
        "derivation": "constraint",
        "baseDefinition": base or CORE + type_name,
        "differential": {"element": [element(type_name), *elements]},
        **extra,
    }


def extension(name: str, *elements: dict[str, Any], value: str | None = "string") -> dict[str, Any]:
    """A simple extension definition (one value of type ``value``) or, with ``value=None``,
    a complex one whose ``elements`` say what it holds."""
    url = f"{BASE}/StructureDefinition/{name}"
    own: list[dict[str, Any]] = [element("Extension.url", fixedUri=url)]
    if value is not None:
        own += [
            element("Extension.extension", max="0"),
            element("Extension.value[x]", min=1, type=[{"code": value}]),
        ]
    else:
        own.append(element("Extension.value[x]", max="0"))
    return profile("Extension", *own, *elements, name=name, kind="complex-type")


def code_system(name: str, *codes: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "url": f"{BASE}/CodeSystem/{name}",
        "content": "complete",
        "concept": [{"code": c} for c in codes],
        **extra,
    }


def value_set(name: str, compose: Mapping[str, Any]) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": f"{BASE}/ValueSet/{name}", "compose": compose}


def url(name: str) -> str:
    return f"{BASE}/StructureDefinition/{name}"


def found(
    resource: Mapping[str, Any],
    *resources: Mapping[str, Any],
    name: str = "test",
    must_support: bool = False,
) -> list[tuple[str, str, str]]:
    """(severity, code, expression) of each issue ``resource`` has against the profile
    ``name``, in a ProfileSet of ``resources``."""
    return [
        (i.severity, i.code, i.expression[0])
        for i in issues(resource, *resources, name=name, must_support=must_support)
    ]


def issues(
    resource: Mapping[str, Any],
    *resources: Mapping[str, Any],
    name: str = "test",
    must_support: bool = False,
) -> list[Any]:
    profiles = ProfileSet.build(resources)
    compiled = profiles.profile(url(name))
    assert compiled is not None
    collector = IssueCollector()
    check_profile(resource, compiled, profiles, collector, report_must_support=must_support)
    return collector.issues


def errors(
    resource: Mapping[str, Any], *resources: Mapping[str, Any], name: str = "test"
) -> list[str]:
    """The expressions of the error issues."""
    return [e for s, _, e in found(resource, *resources, name=name) if s == "error"]


def care_plan(**elements: Any) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
        **elements,
    }


def observation(**elements: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "a measurement"},
        **elements,
    }
