"""What ``PlanDefinition/[id]/$apply`` reads besides the protocol, over HTTP with the
examples loaded, on every store: its inputs (400 naming a bad one), the ActivityDefinitions
found by canonical URL and version (https://hl7.org/fhir/R4/references.html#canonical), and
the protocols it refuses (404, 410, 422) as OperationOutcomes
(https://hl7.org/fhir/R4/operationoutcome.html).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.bundle_helpers import FHIR_JSON, outcome_of
from tests.integration.care.test_apply import (
    EXAMPLE,
    HAROLD,
    HF,
    MARGARET,
    PRACTICE,
    applied,
    parameters,
    requests,
)


def issue_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    issue: dict[str, Any] = outcome_of(response)["issue"][0]
    return issue


async def test_bad_requests_are_400_naming_the_input(loaded: httpx.AsyncClient) -> None:
    path = f"/PlanDefinition/{HF}/$apply"

    async def get(**given: str) -> httpx.Response:
        return await loaded.get(path, params=given)

    issue = issue_of(await get(subject=HAROLD, persist="true"), 400)
    assert issue["expression"] == ["persist"] and "POST" in issue["diagnostics"]
    issue = issue_of(await get(subject="Practitioner/prac-gp"), 400)
    assert issue["expression"] == ["subject"] and "Patient" in issue["diagnostics"]
    issue = issue_of(await get(subject="Patient/nobody"), 400)
    assert (issue["code"], issue["expression"]) == ("not-found", ["subject"])
    issue = issue_of(await loaded.get(path), 400)
    assert issue["code"] == "required" and issue["expression"] == ["subject"]
    twice = await loaded.get(path, params=[("subject", HAROLD), ("subject", MARGARET)])
    assert issue_of(twice, 400)["expression"] == ["subject"]
    issue = issue_of(await get(subject=HAROLD, practitioner=PRACTICE), 400)
    assert issue["expression"] == ["practitioner"]
    issue = issue_of(await get(subject=HAROLD, organization="Organization/nowhere"), 400)
    assert issue["expression"] == ["organization"]
    others = await get(subject=HAROLD, encounter="Encounter/enc-copd-admission")
    issue = issue_of(others, 400)
    assert issue["expression"] == ["encounter"] and HAROLD in issue["diagnostics"]
    issue = issue_of(await get(subject=HAROLD, userType="nurse"), 400)
    assert issue["expression"] == ["userType"]
    as_text = {
        "resourceType": "Parameters",
        "parameter": [{"name": "subject", "valueString": HAROLD}],
    }
    issue = issue_of(await loaded.post(path, json=as_text, headers=FHIR_JSON), 400)
    assert issue["expression"] == ["Parameters.parameter[0].value[x]"]
    in_body = parameters(subject="Patient/nobody")
    issue = issue_of(await loaded.post(path, json=in_body, headers=FHIR_JSON), 400)
    assert issue["expression"] == ["Parameters.parameter[0].valueReference"]
    unknown = await loaded.get("/PlanDefinition/nowhere/$apply", params={"subject": HAROLD})
    assert issue_of(unknown, 404)["code"] == "not-found"


def protocol(id: str, *actions: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "PlanDefinition",
        "id": id,
        "url": f"http://example.org/PlanDefinition/{id}",
        "status": "active",
        "action": list(actions),
    }


async def put(client: httpx.AsyncClient, resource: dict[str, Any]) -> None:
    key = f"{resource['resourceType']}/{resource['id']}"
    answer = await client.put(f"/{key}", json=resource, headers=FHIR_JSON)
    assert answer.status_code in (200, 201), answer.text


async def test_protocols_that_cannot_be_applied(loaded: httpx.AsyncClient) -> None:
    missing = "http://example.org/ActivityDefinition/missing"
    await put(loaded, protocol("pd-missing", {"title": "a"}, {"definitionCanonical": missing}))
    answer = await loaded.get("/PlanDefinition/pd-missing/$apply", params={"subject": HAROLD})
    issue = issue_of(answer, 422)
    assert issue["expression"] == ["PlanDefinition.action[1].definitionCanonical"]
    assert missing in issue["diagnostics"]

    conditional = {"title": "a", "condition": [{"kind": "applicability"}]}
    await put(loaded, protocol("pd-conditional", conditional))
    answer = await loaded.get("/PlanDefinition/pd-conditional/$apply", params={"subject": HAROLD})
    assert issue_of(answer, 422)["expression"] == ["PlanDefinition.action[0].condition"]

    medication = {
        "resourceType": "ActivityDefinition",
        "id": "ad-medication",
        "url": "http://example.org/ActivityDefinition/medication",
        "status": "active",
        "kind": "MedicationRequest",
    }
    await put(loaded, medication)
    await put(loaded, protocol("pd-medication", {"definitionCanonical": medication["url"]}))
    answer = await loaded.get("/PlanDefinition/pd-medication/$apply", params={"subject": HAROLD})
    issue = issue_of(answer, 422)
    assert "MedicationRequest" in issue["diagnostics"]

    assert (await loaded.delete("/PlanDefinition/pd-missing")).status_code in (200, 204)
    answer = await loaded.get("/PlanDefinition/pd-missing/$apply", params={"subject": HAROLD})
    assert issue_of(answer, 410)["code"] == "deleted"


async def test_activity_definitions_are_found_by_canonical_url_and_version(
    loaded: httpx.AsyncClient,
) -> None:
    url = f"{EXAMPLE}/ActivityDefinition/hf-post-discharge-call"
    newer = {
        "resourceType": "ActivityDefinition",
        "id": "actdef-hf-post-discharge-call-v2",
        "url": url,
        "version": "2.0.0",
        "status": "active",
        "date": "2026-06-01",
        "kind": "Task",
        "code": {"text": "Video follow-up"},
    }
    retired = {**newer, "id": "actdef-hf-call-v3", "version": "3.0.0", "status": "retired"}
    retired["date"] = "2026-09-01"
    for resource in (newer, retired):
        await put(loaded, resource)
    pinned = {"definitionCanonical": f"{url}|1.0.0"}
    await put(loaded, protocol("pd-versions", {"definitionCanonical": url}, pinned))
    body, _ = await applied(loaded, "pd-versions", subject=HAROLD)
    latest, first = requests(body)
    assert latest["instantiatesCanonical"] == f"{url}|2.0.0"  # the latest not retired
    assert latest["code"] == {"text": "Video follow-up"}
    assert first["instantiatesCanonical"] == f"{url}|1.0.0"
    assert first["code"] == {"text": "Post-discharge telephone follow-up"}
    await put(loaded, protocol("pd-retired", {"definitionCanonical": f"{url}|3.0.0"}))
    answer = await loaded.get("/PlanDefinition/pd-retired/$apply", params={"subject": HAROLD})
    assert issue_of(answer, 422)["expression"] == ["PlanDefinition.action[0].definitionCanonical"]
