"""fhircare's side: a running fhircare's ``$validate`` on each case, as HAPI's is asked.

https://hl7.org/fhir/R4/resource-operation-validate.html. ``fhircare serve`` loads
``profiles/`` into its store at start, so the server already holds the StructureDefinitions,
ValueSets and CodeSystems the cases name; ``$validate`` runs what a write would (the
structural rules and the profiles) and answers an OperationOutcome, read by the same verdict
rule as HAPI's: invalid when an issue is an error or fatal.
"""

from __future__ import annotations

import httpx

from tests.integration.validation.corpus import Case
from tests.integration.validation.verdict import Verdict, from_outcome

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


def fhircare_verdict(client: httpx.Client, base_url: str, case: Case) -> Verdict:
    """``POST [base]/[type]/$validate?profile=[url]`` with the case's resource."""
    resource_type = case.resource["resourceType"]
    response = client.post(
        f"{base_url}/{resource_type}/$validate",
        params={"profile": case.profile},
        json=case.resource,
        headers=FHIR_JSON,
    )
    if response.status_code != 200:
        raise RuntimeError(f"fhircare's $validate answered {response.status_code}: {response.text}")
    return from_outcome(response.json())
