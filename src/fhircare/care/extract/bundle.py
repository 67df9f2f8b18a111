"""The extracted resources completed from the response and put in a transaction Bundle.

What no item fills, fhircare takes from the response (https://hl7.org/fhir/R4/questionnaireresponse.html):

- every resource: ``subject`` the response's subject;
- Condition: ``clinicalStatus`` active and ``verificationStatus`` provisional unless an
  answer gave them, ``recordedDate`` the response's ``authored``, ``recorder`` its
  ``author`` and ``asserter`` its ``source`` (the person who answered);
- Goal: ``lifecycleStatus`` proposed, ``expressedBy`` the response's ``source``;
- CarePlan: ``status`` draft, ``intent`` plan, ``created`` the response's ``authored``,
  ``author`` its ``author``, ``addresses`` every extracted Condition, ``goal`` every
  extracted Goal and ``supportingInfo`` the response itself when it is stored.

A reference whose type the element does not allow is left out. Each resource is validated
as a write would be; one that is not valid R4 is 422 naming the response item it came from.
The Bundle's entries POST each resource under a ``urn:uuid`` fullUrl, which the others'
references use (https://hl7.org/fhir/R4/http.html#trules).
"""

from __future__ import annotations

import uuid
from typing import Any

from fhircare.care.extract.answers import Draft
from fhircare.fhir.errors import Category, FhirError, Issue
from fhircare.validation.references import reference_type
from fhircare.validation.validator import find_issues

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
PEOPLE = ("Patient", "Practitioner", "PractitionerRole", "RelatedPerson")
PLAN_AUTHORS = (*PEOPLE, "Device", "Organization", "CareTeam")

ORDER = {
    "Condition": (
        "clinicalStatus verificationStatus category severity code bodySite subject onset "
        "recordedDate recorder asserter note"
    ),
    "Goal": ("lifecycleStatus category priority description subject start target expressedBy note"),
    "CarePlan": (
        "status intent category title description subject created author addresses "
        "supportingInfo goal note"
    ),
}
"""The R4 order of the elements each extracted resource may have, for readable output."""


def transaction_bundle(
    drafts: list[Draft], response: dict[str, Any], response_reference: str | None, engine: str
) -> dict[str, Any]:
    """The ``transaction`` Bundle creating ``drafts``, completed and validated."""
    full_urls = [f"urn:uuid:{uuid.uuid4()}" for _ in drafts]
    by_type: dict[str, list[dict[str, str]]] = {}
    for draft, full_url in zip(drafts, full_urls, strict=True):
        by_type.setdefault(draft.resource_type, []).append({"reference": full_url})
    entries = []
    for draft, full_url in zip(drafts, full_urls, strict=True):
        resource = _completed(draft, response, response_reference, by_type)
        _check(draft, resource, engine)
        entries.append(
            {
                "fullUrl": full_url,
                "resource": resource,
                "request": {"method": "POST", "url": draft.resource_type},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _completed(
    draft: Draft,
    response: dict[str, Any],
    response_reference: str | None,
    extracted: dict[str, list[dict[str, str]]],
) -> dict[str, Any]:
    resource = dict(draft.resource)
    resource["subject"] = dict(response["subject"])
    author, source = response.get("author"), response.get("source")
    if draft.resource_type == "Condition":
        resource.setdefault("clinicalStatus", _concept(CLINICAL, "active", "Active"))
        resource.setdefault(
            "verificationStatus", _concept(VERIFICATION, "provisional", "Provisional")
        )
        _copy(resource, "recordedDate", response.get("authored"))
        _copy(resource, "recorder", _allowed(author, PEOPLE))
        _copy(resource, "asserter", _allowed(source, PEOPLE))
    elif draft.resource_type == "Goal":
        resource["lifecycleStatus"] = "proposed"
        _copy(resource, "expressedBy", _allowed(source, PEOPLE))
    elif draft.resource_type == "CarePlan":
        resource.update(status="draft", intent="plan")
        _copy(resource, "created", response.get("authored"))
        _copy(resource, "author", _allowed(author, PLAN_AUTHORS))
        _copy(resource, "addresses", extracted.get("Condition"))
        if response_reference is not None:
            resource["supportingInfo"] = [{"reference": response_reference}]
        _copy(resource, "goal", extracted.get("Goal"))
    return _ordered(resource)


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _copy(resource: dict[str, Any], name: str, value: Any) -> None:
    if value:
        resource[name] = value


def _allowed(reference: Any, types: tuple[str, ...]) -> dict[str, Any] | None:
    """A copy of ``reference`` when it names one of ``types``; otherwise None."""
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return None
    _, target = reference_type(reference["reference"])
    return dict(reference) if target in types else None


def _ordered(resource: dict[str, Any]) -> dict[str, Any]:
    names = ORDER[resource["resourceType"]].split()

    def rank(key: str) -> int:
        for index, name in enumerate(names):
            if key == name or (key.startswith(name) and key[len(name) : len(name) + 1].isupper()):
                return index
        return -1 if key == "resourceType" else len(names)

    return {key: resource[key] for key in sorted(resource, key=rank)}


def _check(draft: Draft, resource: dict[str, Any], engine: str) -> None:
    """422 naming the response item when the resource would not be a valid write."""
    issues = find_issues(resource, engine)
    if issues:
        raise FhirError(
            Category.PROCESSING,
            [
                Issue(
                    issue.code,
                    f"{draft.where}: the {draft.resource_type} it makes is not valid: "
                    f"{issue.diagnostics}",
                    expression=(draft.where,),
                )
                for issue in issues
            ],
        )
