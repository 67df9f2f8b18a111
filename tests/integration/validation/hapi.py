"""HAPI FHIR's side: the profiles stored in it, and its ``$validate`` on each case.

https://hl7.org/fhir/R4/resource-operation-validate.html. HAPI's JPA server validates with
the StructureDefinitions, ValueSets and CodeSystems it stores (generating a differential's
snapshot itself), so fhircare's are PUT to it first, by id; a PUT of unchanged content makes
no new version, so loading twice is harmless. Writes to HAPI are not validated (no request
validation is configured), only ``$validate`` is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from tests.integration.validation.corpus import Case
from tests.integration.validation.verdict import Verdict, from_outcome

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


def put_all(client: httpx.Client, base_url: str, resources: Iterable[dict[str, Any]]) -> None:
    """PUT each resource (definitions, reference targets) to HAPI under its own id."""
    for resource in resources:
        url = f"{base_url}/{resource['resourceType']}/{resource['id']}"
        response = client.put(url, json=resource, headers=FHIR_JSON)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"HAPI refused {url}: {response.status_code} {response.text[:500]}")


def hapi_verdict(client: httpx.Client, base_url: str, case: Case) -> Verdict:
    """``POST [base]/[type]/$validate?profile=[url]`` with the case's resource."""
    resource_type = case.resource["resourceType"]
    response = client.post(
        f"{base_url}/{resource_type}/$validate",
        params={"profile": case.profile},
        json=case.resource,
        headers=FHIR_JSON,
    )
    outcome = response.json()
    if outcome.get("resourceType") != "OperationOutcome":
        raise RuntimeError(f"$validate answered {response.status_code} without an OperationOutcome")
    return from_outcome(outcome)
