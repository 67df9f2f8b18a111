"""The progress follower (``care/progress/sync.py``) over HTTP, on every store: a Task's
status reaches the CarePlan activity it carries out, an Observation reaches the
``achievementStatus`` of the patient's active Goals measured by it; in a transaction too;
nothing is written when nothing changes, or when the setting is off; a lost race is tried
again."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fhircare.app import context_for, create_app
from fhircare.care.progress import sync as progress_sync
from fhircare.fhir import jsonio
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.update import update
from fhircare.loader import load
from fhircare.settings import Settings
from fhircare.storage.protocol import ResourceStore
from tests.integration.conftest import EXAMPLES

FHIR_JSON = {"Content-Type": "application/fhir+json"}
UCUM = "http://unitsofmeasure.org"
WEIGHT = {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}
PATIENT = "Patient/pat-p"
OWNER = {"reference": "PractitionerRole/role-nurse"}
CALL = "http://example.org/fhir/ActivityDefinition/call"


def ref(key: str) -> dict[str, str]:
    return {"reference": key}


def care_plan() -> dict[str, Any]:
    """Activity 0 made from the call definition, 1 carried out by Task/t-out, 2 naming
    Task/t-ref."""
    return {
        "resourceType": "CarePlan",
        "id": "cp-1",
        "status": "active",
        "intent": "plan",
        "subject": ref(PATIENT),
        "activity": [
            {"detail": {"status": "not-started", "instantiatesCanonical": [CALL]}},
            {
                "outcomeReference": [ref("Task/t-out")],
                "detail": {"status": "not-started", "description": "Review medicines"},
            },
            {"reference": ref("Task/t-ref")},
        ],
    }


def task(id: str, status: str, **fields: Any) -> dict[str, Any]:
    found = {"resourceType": "Task", "id": id, "status": status, "intent": "order", **fields}
    if status in ("accepted", "in-progress", "completed", "on-hold"):
        found["owner"] = OWNER
    return found


def weight_goal(id: str = "g-weight", lifecycle: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "Goal",
        "id": id,
        "lifecycleStatus": lifecycle,
        "description": {"text": "Weight 95 kg or less"},
        "subject": ref(PATIENT),
        "target": [
            {
                "measure": WEIGHT,
                "detailQuantity": {"value": 95, "comparator": "<=", "system": UCUM, "code": "kg"},
            }
        ],
    }


def weight(id: str, value: float, when: str, **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": WEIGHT,
        "subject": ref(PATIENT),
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "kg", "system": UCUM, "code": "kg"},
        **fields,
    }


async def put(client: httpx.AsyncClient, resource: dict[str, Any]) -> dict[str, Any]:
    response = await client.put(
        f"/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR_JSON
    )
    assert response.status_code in (200, 201), response.text
    return resource


async def read(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    response = await client.get(f"/{key}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def version(client: httpx.AsyncClient, key: str) -> int:
    return int((await read(client, key))["meta"]["versionId"])


async def achievement(client: httpx.AsyncClient, key: str = "Goal/g-weight") -> str | None:
    status = (await read(client, key)).get("achievementStatus")
    return status["coding"][0]["code"] if status else None


async def statuses(client: httpx.AsyncClient) -> list[str | None]:
    plan = await read(client, "CarePlan/cp-1")
    return [a.get("detail", {}).get("status") for a in plan["activity"]]


@pytest.fixture
async def quiet_client(store: ResourceStore) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with ``care_progress_updates`` off."""
    app = create_app(Settings(care_progress_updates=False), store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
            yield http


async def test_a_task_sets_the_status_of_the_activity_it_carries_out(
    client: httpx.AsyncClient,
) -> None:
    await put(client, care_plan())
    for_plan = {"basedOn": [ref("CarePlan/cp-1")]}
    made = task("t-def", "in-progress", instantiatesCanonical=f"{CALL}|1.0.0", **for_plan)
    await put(client, made)
    plan = await read(client, "CarePlan/cp-1")
    assert plan["activity"][0]["detail"]["status"] == "in-progress"
    assert plan["activity"][0]["outcomeReference"] == [ref("Task/t-def")]
    assert plan["meta"]["versionId"] == "2"
    await put(client, dict(made, status="completed"))
    assert await statuses(client) == ["completed", "not-started", None]
    await put(client, task("t-out", "in-progress", focus=ref("CarePlan/cp-1")))
    assert await statuses(client) == ["completed", "in-progress", None]
    assert await version(client, "CarePlan/cp-1") == 4


async def test_a_task_an_activity_names_leaves_the_plan_alone(client: httpx.AsyncClient) -> None:
    await put(client, care_plan())
    await put(client, task("t-ref", "in-progress", basedOn=[ref("CarePlan/cp-1")]))
    await put(client, task("t-ref", "completed", basedOn=[ref("CarePlan/cp-1")]))
    assert await version(client, "CarePlan/cp-1") == 1
    progress = await client.get("/CarePlan/cp-1/$progress")
    rows = [p for p in progress.json()["parameter"] if p["name"] == "activity"]
    status = [q["valueCode"] for q in rows[2]["part"] if q["name"] == "status"]
    assert status == ["completed"]


async def test_no_write_when_the_status_is_the_same(client: httpx.AsyncClient) -> None:
    await put(client, care_plan())
    working = task("t-out", "in-progress", focus=ref("CarePlan/cp-1"))
    await put(client, working)
    assert await version(client, "CarePlan/cp-1") == 2
    await put(client, dict(working, note=[{"text": "Called the pharmacy"}]))
    assert await version(client, "Task/t-out") == 2
    assert await version(client, "CarePlan/cp-1") == 2


async def test_observations_set_the_goal_achievement_status(client: httpx.AsyncClient) -> None:
    await put(client, weight_goal())
    await put(client, weight_goal("g-proposed", "proposed"))
    await put(client, weight("w-1", 98, "2026-01-01"))
    assert (await achievement(client), await version(client, "Goal/g-weight")) == ("in-progress", 2)
    await put(client, weight("w-2", 97, "2026-02-01"))
    assert (await achievement(client), await version(client, "Goal/g-weight")) == ("improving", 3)
    await put(client, weight("w-3", 96, "2026-03-01"))
    assert (await achievement(client), await version(client, "Goal/g-weight")) == ("improving", 3)
    await put(client, weight("w-4", 99, "2026-04-01"))
    assert (await achievement(client), await version(client, "Goal/g-weight")) == ("worsening", 4)
    await put(client, weight("w-old", 120, "2025-06-01"))
    await put(client, weight("w-draft", 80, "2026-06-01", status="preliminary"))
    await put(client, weight("w-other", 80, "2026-06-01", subject=ref("Patient/pat-other")))
    assert (await achievement(client), await version(client, "Goal/g-weight")) == ("worsening", 4)
    await put(client, weight("w-5", 94, "2026-05-01"))
    assert (await achievement(client), await version(client, "Goal/g-weight")) == ("achieved", 5)
    await put(client, weight("w-5", 94, "2026-05-01", status="entered-in-error"))
    assert (await achievement(client), await version(client, "Goal/g-weight")) == ("worsening", 6)
    assert await achievement(client, "Goal/g-proposed") is None
    assert await version(client, "Goal/g-proposed") == 1


async def test_in_a_transaction(client: httpx.AsyncClient) -> None:
    resources = [
        care_plan(),
        task("t-out", "completed", focus=ref("CarePlan/cp-1")),
        weight_goal(),
        weight("w-1", 99, "2026-01-01"),
        weight("w-2", 97, "2026-02-01"),
    ]
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
        for r in resources
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = await client.post("", json=bundle, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    assert await statuses(client) == ["not-started", "completed", None]
    assert await version(client, "CarePlan/cp-1") == 2
    assert (await achievement(client), await version(client, "Goal/g-weight")) == ("improving", 2)


async def test_the_setting_off_changes_nothing(quiet_client: httpx.AsyncClient) -> None:
    await put(quiet_client, care_plan())
    await put(quiet_client, weight_goal())
    await put(quiet_client, task("t-out", "in-progress", focus=ref("CarePlan/cp-1")))
    await put(quiet_client, weight("w-1", 99, "2026-01-01"))
    await put(quiet_client, weight("w-2", 90, "2026-02-01"))
    assert await statuses(quiet_client) == ["not-started", "not-started", None]
    assert await version(quiet_client, "CarePlan/cp-1") == 1
    assert (await achievement(quiet_client), await version(quiet_client, "Goal/g-weight")) == (
        None,
        1,
    )


def racing(times: int) -> Any:
    """An ``update`` that lets someone else edit the Goal first, ``times`` times."""
    raced = 0

    async def racing_update(context: Context, request: FhirRequest) -> FhirResponse:
        nonlocal raced
        if raced < times:
            raced += 1
            goal = weight_goal()
            goal["note"] = [{"text": f"edited meanwhile {raced}"}]
            other = FhirRequest("PUT", "Goal", "g-weight", body=jsonio.dumps(goal))
            await update(context, other)
        return await update(context, request)

    return racing_update


async def test_a_lost_race_is_tried_again(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await put(client, weight_goal())
    monkeypatch.setattr(progress_sync, "update", racing(2))
    await put(client, weight("w-1", 99, "2026-01-01"))
    goal = await read(client, "Goal/g-weight")
    assert goal["note"] == [{"text": "edited meanwhile 2"}]
    assert goal["achievementStatus"]["coding"][0]["code"] == "in-progress"
    assert goal["meta"]["versionId"] == "4"


async def test_a_race_lost_every_time_is_given_up(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await put(client, weight_goal())
    monkeypatch.setattr(progress_sync, "update", racing(progress_sync.ATTEMPTS))
    with caplog.at_level(logging.WARNING, logger=progress_sync.__name__):
        await put(client, weight("w-1", 99, "2026-01-01"))
    assert any(
        "gave up" in r.getMessage() and "Goal/g-weight" in r.getMessage() for r in caplog.records
    )
    goal = await read(client, "Goal/g-weight")
    assert "achievementStatus" not in goal
    assert goal["meta"]["versionId"] == str(1 + progress_sync.ATTEMPTS)


async def test_the_examples_load_with_the_rules_on_unchanged(store: ResourceStore) -> None:
    """The examples' recorded statuses are what the follower would compute, so loading
    them with the rules on (as ``fhircare serve`` does) writes nothing more."""
    context = context_for(Settings(), store)
    await context.search_parameters.load()
    report = await load(context, [EXAMPLES])
    assert report.errors == []
    for key in ("CarePlan/careplan-diabetes-hf", "CarePlan/careplan-copd", "Goal/goal-copd-6mwt"):
        kind, id = key.split("/")
        stored = await store.read(kind, id)
        assert stored is not None and stored.version == 1, key
    for id in ("goal-diabetes-hf-hba1c", "goal-diabetes-hf-weight"):
        stored = await store.read("Goal", id)
        assert stored is not None and stored.version == 1, id
