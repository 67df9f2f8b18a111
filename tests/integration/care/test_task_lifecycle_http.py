"""The Task state machine over HTTP, on every store: create, update, conditional update,
JSON Patch and batch and transaction entries are all held to it, a refused write stores
nothing, and ``task_lifecycle="off"`` lets anything through.

https://hl7.org/fhir/R4/task.html#statemachine; the refusal is 422 with a ``business-rule``
issue (https://hl7.org/fhir/R4/http.html#2.21.0.1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhircare.app import context_for, create_app
from fhircare.fhir import jsonio
from fhircare.loader import load
from fhircare.settings import Settings
from fhircare.storage.protocol import ResourceStore
from tests.integration.bundle_helpers import (
    FHIR_JSON,
    bundle,
    count,
    entry,
    outcome_of,
    patch_entry,
    patient,
    post_bundle,
    statuses,
    task,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PATCH = {"Content-Type": "application/json-patch+json"}
OWNER = {"reference": "PractitionerRole/role-community-nurse"}
SYSTEM = "http://example.org/task-ids"


def refused(response: httpx.Response, expression: str) -> str:
    """Assert a 422 business-rule refusal at ``expression``; its diagnostics."""
    assert response.status_code == 422, response.text
    issue = outcome_of(response)["issue"][0]
    assert issue["code"] == "business-rule"
    assert issue["expression"] == [expression]
    return str(issue["diagnostics"])


async def put_task(client: httpx.AsyncClient, id: str, **fields: Any) -> httpx.Response:
    return await client.put(f"/Task/{id}", json=task(id, **fields), headers=FHIR_JSON)


async def completed_task(client: httpx.AsyncClient, id: str) -> None:
    response = await put_task(client, id, status="completed", owner=OWNER)
    assert response.status_code == 201, response.text


async def version_of(client: httpx.AsyncClient, id: str) -> tuple[str, str]:
    """The current ``(versionId, status)`` of Task ``id``."""
    response = await client.get(f"/Task/{id}")
    assert response.status_code == 200
    body = response.json()
    return body["meta"]["versionId"], body["status"]


async def test_create_is_refused_without_what_its_status_needs(client: httpx.AsyncClient) -> None:
    unowned = await client.post("/Task", json=task(status="in-progress"), headers=FHIR_JSON)
    assert "in-progress" in refused(unowned, "Task.owner")
    unexplained = await client.post("/Task", json=task(status="cancelled"), headers=FHIR_JSON)
    assert "cancelled" in refused(unexplained, "Task.statusReason")
    assert await count(client, "Task") == 0

    started = await client.post(
        "/Task", json=task(status="in-progress", owner=OWNER), headers=FHIR_JSON
    )
    assert started.status_code == 201, started.text
    stored = (await client.get(f"/Task/{started.json()['id']}")).json()
    assert stored["executionPeriod"]["start"].endswith("Z")


async def test_update_moves_only_along_the_state_machine(client: httpx.AsyncClient) -> None:
    assert (await put_task(client, "t-flow")).status_code == 201
    accepted = await put_task(client, "t-flow", status="accepted", owner=OWNER)
    assert accepted.status_code == 200, accepted.text
    started = await put_task(client, "t-flow", status="in-progress", owner=OWNER)
    assert started.status_code == 200, started.text
    start = (await client.get("/Task/t-flow")).json()["executionPeriod"]["start"]

    done = await put_task(
        client, "t-flow", status="completed", owner=OWNER, executionPeriod={"start": start}
    )
    assert done.status_code == 200, done.text
    period = (await client.get("/Task/t-flow")).json()["executionPeriod"]
    assert period["start"] == start and period["end"] >= start

    again = await put_task(client, "t-flow", status="requested", owner=OWNER)
    assert refused(again, "Task.status") == (
        "Task status cannot go from completed to requested; "
        "from completed it may go to: entered-in-error"
    )
    assert await version_of(client, "t-flow") == ("4", "completed")


async def test_a_patch_changing_status_is_held_to_the_machine(client: httpx.AsyncClient) -> None:
    await completed_task(client, "t-patch")
    reopen = [{"op": "replace", "path": "/status", "value": "in-progress"}]
    response = await client.patch("/Task/t-patch", json=reopen, headers=PATCH)
    assert "from completed it may go to: entered-in-error" in refused(response, "Task.status")
    assert await version_of(client, "t-patch") == ("1", "completed")

    assert (await put_task(client, "t-patch-2")).status_code == 201
    accept = [{"op": "replace", "path": "/status", "value": "accepted"}]
    response = await client.patch("/Task/t-patch-2", json=accept, headers=PATCH)
    refused(response, "Task.owner")
    accept.append({"op": "add", "path": "/owner", "value": OWNER})
    response = await client.patch("/Task/t-patch-2", json=accept, headers=PATCH)
    assert response.status_code == 200, response.text
    assert await version_of(client, "t-patch-2") == ("2", "accepted")


async def test_a_conditional_update_is_held_to_the_machine(client: httpx.AsyncClient) -> None:
    identifier = [{"system": SYSTEM, "value": "cond-1"}]
    assert (await put_task(client, "t-cond", identifier=identifier)).status_code == 201
    url = f"/Task?identifier={SYSTEM}|cond-1"
    body = task("t-cond", status="completed", owner=OWNER, identifier=identifier)
    response = await client.put(url, json=body, headers=FHIR_JSON)
    assert "from requested it may go to: received, accepted, rejected, cancelled" in refused(
        response, "Task.status"
    )
    assert await version_of(client, "t-cond") == ("1", "requested")

    body["status"] = "accepted"
    response = await client.put(url, json=body, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    assert await version_of(client, "t-cond") == ("2", "accepted")


async def test_a_transaction_with_a_refused_task_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    await completed_task(client, "t-tx")
    document = bundle(
        "transaction",
        entry("POST", "Patient", patient("Okafor")),
        entry("PUT", "Task/t-tx", task("t-tx", status="requested")),
    )
    response = await post_bundle(client, document)
    assert response.status_code == 422, response.text
    issue = outcome_of(response)["issue"][0]
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["Bundle.entry[1].resource.status"]
    assert "from completed it may go to: entered-in-error" in issue["diagnostics"]
    assert await count(client, "Patient") == 0
    assert await version_of(client, "t-tx") == ("1", "completed")

    patched = bundle(
        "transaction",
        patch_entry("Task/t-tx", [{"op": "replace", "path": "/status", "value": "failed"}]),
    )
    response = await post_bundle(client, patched)
    assert response.status_code == 422, response.text
    assert await version_of(client, "t-tx") == ("1", "completed")


async def test_a_batch_refuses_the_entry_and_runs_the_others(client: httpx.AsyncClient) -> None:
    await completed_task(client, "t-batch")
    document = bundle(
        "batch",
        entry("PUT", "Task/t-batch", task("t-batch", status="on-hold", owner=OWNER)),
        entry("POST", "Task", task(status="ready")),
        entry("POST", "Patient", patient("Lindqvist")),
    )
    response = await post_bundle(client, document)
    assert response.status_code == 200, response.text
    assert statuses(response) == [422, 422, 201]
    answers = response.json()["entry"]
    first = answers[0]["response"]["outcome"]["issue"][0]
    assert first["code"] == "business-rule" and first["expression"] == ["Task.status"]
    second = answers[1]["response"]["outcome"]["issue"][0]
    assert second["expression"] == ["Task.owner"]
    assert await version_of(client, "t-batch") == ("1", "completed")
    assert await count(client, "Task") == 1 and await count(client, "Patient") == 1


async def test_an_unchanged_status_lets_other_elements_change(client: httpx.AsyncClient) -> None:
    await completed_task(client, "t-note")
    response = await put_task(
        client, "t-note", status="completed", owner=OWNER, note=[{"text": "Followed up"}]
    )
    assert response.status_code == 200, response.text
    assert await version_of(client, "t-note") == ("2", "completed")


@pytest.fixture
async def lenient(store: ResourceStore) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app with ``task_lifecycle="off"``."""
    app = create_app(Settings(task_lifecycle="off"), store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
            yield http


async def test_the_setting_off_lets_any_status_through(lenient: httpx.AsyncClient) -> None:
    await completed_task(lenient, "t-off")
    response = await put_task(lenient, "t-off", status="requested")
    assert response.status_code == 200, response.text
    started = await lenient.post("/Task", json=task(status="in-progress"), headers=FHIR_JSON)
    assert started.status_code == 201, started.text
    stored = (await lenient.get(f"/Task/{started.json()['id']}")).json()
    assert "executionPeriod" not in stored and "owner" not in stored


async def test_the_examples_load_with_the_rules_on(store: ResourceStore) -> None:
    context = context_for(Settings(), store)
    await context.search_parameters.load()
    report = await load(context, [EXAMPLES])
    assert report.errors == []
    rehab = await store.read("Task", "task-copd-pulm-rehab-referral")
    assert rehab is not None and rehab.body is not None
    assert jsonio.loads(rehab.body)["executionPeriod"] == {"start": "2026-10-22T09:00:00-05:00"}
    # loading again changes nothing, so the rules have nothing to refuse
    again = await load(context, [EXAMPLES])
    assert again.errors == []
