"""Profiles on write: a resource that fails a profile it claims (or its type requires) is
refused with 422 and one issue per problem; nothing of it is stored.

https://hl7.org/fhir/R4/http.html#create, #update and #transaction: create (``POST``),
update (``PUT``) and a transaction's entries are checked alike; the 422 names each problem
with the same severity, code and expression ``$validate`` gives (in a transaction, from the
entry: ``Bundle.entry[0].resource...``). Warnings do not refuse. The profiles are the
stored StructureDefinitions over the core R4 ones: one that cannot be built is refused, one
stored at run time applies to the next write, and one deleted no longer does; one stored
with the canonical url of a core definition takes its place.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fhircare.settings import Settings
from fhircare.storage.protocol import ResourceStore
from tests.integration.validation.checks import (
    CARE_PLAN_PROFILE,
    CHECKS,
    DESCRIBED,
    MESSAGE,
    TASK,
    UNKNOWN_PROFILE,
    Check,
    check_id,
    valid_plan,
)
from tests.integration.validation.corpus import COMMUNICATION_CATEGORY, PERTAINS_TO_GOAL
from tests.integration.validation.served import (
    EMBEDDED_STORES,
    FHIR_JSON,
    IssueFacts,
    count,
    issues_of,
    profiled_client,
    unclaimed,
)


def _in_entry(issues: list[IssueFacts], resource_type: str) -> list[IssueFacts]:
    """The issues as a transaction reports them for its first entry."""
    prefix = "Bundle.entry[0].resource"
    return [
        (severity, code, prefix + expression[len(resource_type) :])
        for severity, code, expression in issues
    ]


def _transaction(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:0a7c1d7e-3f4b-4c55-9a0e-5d1f6a2b8c90",
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        ],
    }


async def _refused(response: httpx.Response) -> list[IssueFacts]:
    assert response.status_code == 422, response.text
    return issues_of(response.json())


@EMBEDDED_STORES
@pytest.mark.parametrize("check", CHECKS, ids=check_id)
async def test_each_check_refuses_a_write_or_lets_it_through(
    profiled: httpx.AsyncClient, check: Check
) -> None:
    resource = check.case.resource
    resource_type = resource["resourceType"]
    url = f"/{resource_type}/{resource['id']}"
    post = await profiled.post(f"/{resource_type}", json=resource, headers=FHIR_JSON)
    put = await profiled.put(url, json=resource, headers=FHIR_JSON)
    transaction = await profiled.post("/", json=_transaction(resource), headers=FHIR_JSON)
    if not check.refused:
        assert (post.status_code, put.status_code) == (201, 201), post.text
        assert transaction.status_code == 200, transaction.text
        assert transaction.json()["entry"][0]["response"]["status"].startswith("201")
        assert await count(profiled, resource_type) == 3
        return
    assert await _refused(post) == check.errors
    assert await _refused(put) == check.errors
    assert await _refused(transaction) == _in_entry(check.errors, resource_type)
    assert await count(profiled, resource_type) == 0
    assert (await profiled.get(url)).status_code == 404


async def test_an_update_is_checked_against_the_profile_too(profiled: httpx.AsyncClient) -> None:
    """A stored plan that claims no profile, updated to claim one it does not meet."""
    plan = valid_plan()
    bare = unclaimed(plan)
    del bare["careTeam"]
    url = f"/CarePlan/{plan['id']}"
    assert (await profiled.put(url, json=bare, headers=FHIR_JSON)).status_code == 201
    claimed = {**bare, "meta": {"profile": [CARE_PLAN_PROFILE]}}
    refused = await profiled.put(url, json=claimed, headers=FHIR_JSON)
    assert await _refused(refused) == [("error", "required", "CarePlan.careTeam")]
    patch = [{"op": "add", "path": "/meta/profile", "value": [CARE_PLAN_PROFILE]}]
    patched = await profiled.patch(
        url, json=patch, headers={"Content-Type": "application/json-patch+json"}
    )
    assert await _refused(patched) == [("error", "required", "CarePlan.careTeam")]
    current = (await profiled.get(url)).json()
    assert current["meta"]["versionId"] == "1" and "profile" not in current["meta"]


async def test_a_profile_that_cannot_be_built_is_refused(profiled: httpx.AsyncClient) -> None:
    broken_base = {**DESCRIBED, "id": "broken-base", "url": "http://example.org/fhir/b1"}
    broken_base["baseDefinition"] = "http://example.org/fhir/StructureDefinition/nowhere"
    broken_path = {**DESCRIBED, "id": "broken-path", "url": "http://example.org/fhir/b2"}
    broken_path["differential"] = {
        "element": [{"id": "CarePlan.nothing", "path": "CarePlan.nothing", "min": 1}]
    }
    for broken in (broken_base, broken_path):
        posted = await profiled.post("/StructureDefinition", json=broken, headers=FHIR_JSON)
        assert await _refused(posted) == [("error", "processing", "StructureDefinition")]
        put = await profiled.put(
            f"/StructureDefinition/{broken['id']}", json=broken, headers=FHIR_JSON
        )
        assert await _refused(put) == [("error", "processing", "StructureDefinition")]
    found = await profiled.get("/StructureDefinition", params={"url": "http://example.org/fhir/b1"})
    assert found.json().get("total") == 0
    # the profiles in use are untouched: a valid plan is still checked and stored
    assert (
        await profiled.post("/CarePlan", json=valid_plan(), headers=FHIR_JSON)
    ).status_code == 201


async def test_a_profile_stored_at_run_time_applies_until_deleted(
    profiled: httpx.AsyncClient,
) -> None:
    plan = {**valid_plan(), "meta": {"profile": [DESCRIBED["url"]]}}
    del plan["description"]
    before = await profiled.post("/CarePlan", json=plan, headers=FHIR_JSON)
    assert before.status_code == 201  # the profile is not known yet: a warning

    url = f"/StructureDefinition/{DESCRIBED['id']}"
    assert (await profiled.put(url, json=DESCRIBED, headers=FHIR_JSON)).status_code == 201
    refused = await profiled.post("/CarePlan", json=plan, headers=FHIR_JSON)
    assert await _refused(refused) == [("error", "required", "CarePlan.description")]
    described = await profiled.post(
        "/CarePlan", json={**plan, "description": "Weekly walks"}, headers=FHIR_JSON
    )
    assert described.status_code == 201  # its mustSupport note is absent: not enforced

    loosened = {**DESCRIBED, "differential": {"element": DESCRIBED["differential"]["element"][1:]}}
    assert (await profiled.put(url, json=loosened, headers=FHIR_JSON)).status_code == 200
    assert (await profiled.post("/CarePlan", json=plan, headers=FHIR_JSON)).status_code == 201
    assert (await profiled.put(url, json=DESCRIBED, headers=FHIR_JSON)).status_code == 200
    assert (await profiled.post("/CarePlan", json=plan, headers=FHIR_JSON)).status_code == 422

    assert (await profiled.delete(url)).status_code in (200, 204)
    after = await profiled.post("/CarePlan", json=plan, headers=FHIR_JSON)
    assert after.status_code == 201
    assert await count(profiled, "CarePlan") == 4


async def test_an_unknown_profile_is_stored_or_refused_as_the_settings_say(
    store: ResourceStore,
) -> None:
    plan = valid_plan()
    plan["meta"]["profile"].append(UNKNOWN_PROFILE)
    async with profiled_client(store) as client:
        assert (await client.post("/CarePlan", json=plan, headers=FHIR_JSON)).status_code == 201
    async with profiled_client(store, Settings(unknown_profile="error")) as client:
        refused = await client.post("/CarePlan", json=plan, headers=FHIR_JSON)
        assert await _refused(refused) == [("error", "not-found", "CarePlan.meta.profile")]
        assert (
            await client.post("/CarePlan", json=valid_plan(), headers=FHIR_JSON)
        ).status_code == 201
        assert await count(client, "CarePlan") == 2


async def test_a_required_profile_is_enforced_on_every_write_of_its_type(
    store: ResourceStore,
) -> None:
    bare = unclaimed(valid_plan())
    del bare["careTeam"]
    async with profiled_client(store) as client:
        assert (await client.post("/CarePlan", json=bare, headers=FHIR_JSON)).status_code == 201
    required = Settings(required_profiles=f"CarePlan={CARE_PLAN_PROFILE}")
    async with profiled_client(store, required) as client:
        refused = await client.post("/CarePlan", json=bare, headers=FHIR_JSON)
        assert await _refused(refused) == [("error", "required", "CarePlan.careTeam")]
        in_bundle = await client.post("/", json=_transaction(bare), headers=FHIR_JSON)
        assert await _refused(in_bundle) == [
            ("error", "required", "Bundle.entry[0].resource.careTeam")
        ]
        complete = unclaimed(valid_plan())
        assert (await client.post("/CarePlan", json=complete, headers=FHIR_JSON)).status_code == 201
        assert await count(client, "CarePlan") == 2


LOOSE_PERTAINS_TO_GOAL: dict[str, Any] = {
    "resourceType": "StructureDefinition",
    "id": "resource-pertainsToGoal",
    "url": PERTAINS_TO_GOAL,
    "name": "pertainsToGoal",
    "status": "active",
    "kind": "complex-type",
    "abstract": False,
    "type": "Extension",
    "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
    "derivation": "constraint",
    "differential": {
        "element": [
            {"id": "Extension.url", "path": "Extension.url", "fixedUri": PERTAINS_TO_GOAL},
            {
                "id": "Extension.value[x]",
                "path": "Extension.value[x]",
                "min": 1,
                "type": [{"code": "Reference"}, {"code": "string"}],
            },
        ]
    },
}
"""The core extension with its canonical url, loosened to allow a goal named in text."""

GOSSIPING_CATEGORIES: dict[str, Any] = {
    "resourceType": "CodeSystem",
    "id": "communication-category",
    "url": COMMUNICATION_CATEGORY,
    "name": "CommunicationCategory",
    "status": "active",
    "content": "complete",
    "concept": [{"code": c} for c in ("alert", "notification", "reminder", "gossip")],
}
"""The core code system with its canonical url and one more code."""


async def test_a_stored_definition_takes_the_place_of_the_core_one(
    profiled: httpx.AsyncClient,
) -> None:
    for definition, case_id, where in (
        (
            LOOSE_PERTAINS_TO_GOAL,
            f"{TASK}:pertains-to-goal-string",
            "Task.extension[0].value.ofType(string)",
        ),
        (GOSSIPING_CATEGORIES, f"{MESSAGE}:unknown-category-code", "Communication.category[0]"),
    ):
        resource = next(c for c in CHECKS if c.case_id == case_id).case.resource
        path = f"/{resource['resourceType']}"
        refused = await profiled.post(path, json=resource, headers=FHIR_JSON)
        assert [issue[2] for issue in await _refused(refused)] == [where]

        url = f"/{definition['resourceType']}/{definition['id']}"
        assert (await profiled.put(url, json=definition, headers=FHIR_JSON)).status_code == 201
        assert (await profiled.post(path, json=resource, headers=FHIR_JSON)).status_code == 201

        assert (await profiled.delete(url)).status_code in (200, 204)
        again = await profiled.post(path, json=resource, headers=FHIR_JSON)
        assert [issue[2] for issue in await _refused(again)] == [where]
