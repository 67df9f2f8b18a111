"""``PlanDefinition/[id]/$apply`` with ``persist=true``, on every store: the CarePlan, its
Goals and its requests are created in one transaction
(https://hl7.org/fhir/R4/http.html#transaction) through the interactions, so the write
rules apply to them, and a refusal of any one leaves nothing written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from fhircare.care.apply.operation import OPERATION
from fhircare.fhir import errors, jsonio
from fhircare.fhir.errors import Category, FhirError
from fhircare.interactions.request import Context, FhirRequest
from fhircare.interactions.search import search
from fhircare.interactions.write_rules import WriteRules
from fhircare.loader import load
from fhircare.storage.protocol import ResourceStore, StoredVersion
from tests.integration.bundle_helpers import FHIR_JSON, counts

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
HF = "plandef-hf-post-discharge"
HAROLD = "Patient/pat-diabetes-hf"
CARE_MANAGER = "PractitionerRole/role-care-manager"
PERTAINS = "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal"
TYPES = ("CarePlan", "Goal", "Task", "ServiceRequest", "Appointment")
MADE = {"CarePlan": 1, "Goal": 2, "Task": 2, "ServiceRequest": 2, "Appointment": 1}
"""What the heart-failure protocol makes: the plan, two goals, five requests."""

PERSIST = {
    "resourceType": "Parameters",
    "parameter": [
        {"name": "subject", "valueReference": {"reference": HAROLD}},
        {"name": "practitioner", "valueReference": {"reference": CARE_MANAGER}},
        {"name": "persist", "valueBoolean": True},
    ],
}


async def read(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    answer = await client.get(f"/{key}")
    assert answer.status_code == 200, answer.text
    resource: dict[str, Any] = answer.json()
    return resource


async def test_persist_creates_the_plan_its_goals_and_its_requests(
    loaded: httpx.AsyncClient,
) -> None:
    before = await counts(loaded, *TYPES)
    answer = await loaded.post(f"/PlanDefinition/{HF}/$apply", json=PERSIST, headers=FHIR_JSON)
    assert answer.status_code == 201, answer.text
    after = await counts(loaded, *TYPES)
    assert {t: after[t] - before[t] for t in TYPES} == MADE

    plan = answer.json()
    key = f"CarePlan/{plan['id']}"
    assert answer.headers["Location"].endswith(f"/{key}/_history/1")
    assert plan == await read(loaded, key)  # the answer is the stored plan
    assert plan["meta"]["versionId"] == "1" and "contained" not in plan
    assert (plan["status"], plan["intent"], plan["author"]) == (
        "draft",
        "plan",
        {"reference": CARE_MANAGER},
    )

    goal_keys = [g["reference"] for g in plan["goal"]]
    assert [k.split("/")[0] for k in goal_keys] == ["Goal", "Goal"]
    for goal_key in goal_keys:
        goal = await read(loaded, goal_key)
        assert goal["lifecycleStatus"] == "proposed" and goal["subject"] == {"reference": HAROLD}
    request_keys = [a["reference"]["reference"] for a in plan["activity"] if "reference" in a]
    assert [k.split("/")[0] for k in request_keys] == [
        "Task",
        "Appointment",
        "Task",
        "ServiceRequest",
        "ServiceRequest",
    ]
    for request_key in request_keys:
        request = await read(loaded, request_key)
        pertains = [
            e["valueReference"]["reference"] for e in request["extension"] if e["url"] == PERTAINS
        ]
        assert pertains and set(pertains) <= set(goal_keys)
        if request["resourceType"] != "Appointment":  # R4 Appointments have no basedOn a plan
            assert request["basedOn"] == [{"reference": key}]
    assert plan["activity"][5]["detail"]["goal"] == [{"reference": goal_keys[0]}]
    # the Tasks are found by the plan they are based on, as any other Tasks
    based_on = await loaded.get("/Task", params={"based-on": key})
    assert sorted(e["resource"]["id"] for e in based_on.json()["entry"]) == sorted(
        k.split("/")[1] for k in request_keys if k.startswith("Task/")
    )


async def total(context: Context, resource_type: str) -> int:
    request = FhirRequest("GET", resource_type, query=(("_summary", "count"),))
    return int(jsonio.loads((await search(context, request)).body or b"{}")["total"])


def apply_request() -> FhirRequest:
    return FhirRequest(
        "POST",
        "PlanDefinition",
        HF,
        headers={"content-type": "application/fhir+json"},
        body=jsonio.dumps(PERSIST),
        base_url="http://test/fhir",
    )


async def test_one_refused_write_leaves_nothing_and_followers_see_one_commit(
    store: ResourceStore,
) -> None:
    report = await load(Context(store), [EXAMPLES])
    assert report.errors == []
    refused: list[str] = []

    def refuse_referrals(resource: dict[str, Any], previous: dict[str, Any] | None) -> None:
        refused.append(resource["code"].get("text", ""))
        if resource["code"].get("text") == "Heart failure self-care education":
            raise errors.processing("No referrals today", "ServiceRequest.code")

    followed: list[StoredVersion] = []

    async def follow(context: Context, version: StoredVersion) -> None:
        followed.append(version)

    strict = Context(store, rules=WriteRules({"ServiceRequest": (refuse_referrals,)}, (follow,)))
    before = {t: await total(strict, t) for t in TYPES}
    with pytest.raises(FhirError) as error:
        await OPERATION.handler(strict, apply_request())
    assert error.value.category is Category.PROCESSING
    assert "No referrals today" in str(error.value)
    assert len(refused) == 2  # both ServiceRequests were checked; the second refused
    assert {t: await total(strict, t) for t in TYPES} == before
    assert followed == []

    relaxed = Context(store, rules=WriteRules({}, (follow,)))
    answer = await OPERATION.handler(relaxed, apply_request())
    assert answer.status == 201
    assert {t: await total(relaxed, t) - before[t] for t in TYPES} == MADE
    assert sorted(v.resource_type for v in followed) == sorted(
        t for t, n in MADE.items() for _ in range(n)
    )
    assert all(v.version == 1 for v in followed)
    plan_id = jsonio.loads(answer.body or b"{}")["id"]
    assert ("CarePlan", plan_id) in {(v.resource_type, v.id) for v in followed}
