"""Transaction Bundles over HTTP, on every store. https://hl7.org/fhir/R4/http.html#transaction

All or nothing: placeholders (``urn:uuid:``) and conditional references resolved, each
failure naming its entry, concurrent transactions over shared resources each landing
whole or not at all.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from pathlib import Path
from typing import Any

import httpx

from fhircare.fhir import jsonio
from fhircare.interactions.request import Context
from fhircare.loader import load
from fhircare.storage.protocol import ResourceStore
from tests.integration.bundle_helpers import (
    FHIR_JSON,
    bundle,
    count,
    counts,
    entry,
    outcome_of,
    patch_entry,
    patient,
    post_bundle,
    statuses,
    target,
    task,
    urn,
)

TYPES = ("Patient", "CarePlan", "Goal", "Task")
MRN = "http://example.org/mrn"


def care_plan_bundle() -> tuple[dict[str, Any], dict[str, str]]:
    """A new Patient, a CarePlan, its two Goals and three Tasks, all by placeholder."""
    ids = {name: urn() for name in ("patient", "plan", "goal1", "goal2", "t1", "t2", "t3")}
    subject = {"reference": ids["patient"]}

    def goal(key: str, text: str) -> dict[str, Any]:
        resource = {
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "description": {"text": text},
            "subject": subject,
        }
        return entry("POST", "Goal", resource, ids[key])

    def care_task(key: str, goal_key: str, **fields: Any) -> dict[str, Any]:
        resource = task(
            description=f"Task {key}",
            basedOn=[{"reference": ids["plan"]}],
            focus={"reference": ids[goal_key]},
            **{"for": subject},
            **fields,
        )
        return entry("POST", "Task", resource, ids[key])

    plan = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": subject,
        "goal": [{"reference": ids["goal1"]}, {"reference": ids["goal2"]}],
        "activity": [{"reference": {"reference": ids[k]}} for k in ("t1", "t2", "t3")],
        "instantiatesUri": [ids["patient"]],
    }
    document = bundle(
        "transaction",
        entry("POST", "Patient", patient("Whitaker"), ids["patient"]),
        entry("POST", "CarePlan", plan, ids["plan"]),
        goal("goal1", "HbA1c below 7%"),
        goal("goal2", "Walk 30 minutes a day"),
        care_task("t1", "goal1"),
        care_task("t2", "goal2", partOf=[{"reference": ids["t1"]}]),
        care_task("t3", "goal2"),
    )
    return document, ids


async def read(client: httpx.AsyncClient, reference: str) -> dict[str, Any]:
    response = await client.get(f"/{reference}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_care_plan_with_goals_and_tasks_lands_with_every_reference_rewritten(
    client: httpx.AsyncClient,
) -> None:
    document, ids = care_plan_bundle()
    response = await post_bundle(client, document)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["resourceType"] == "Bundle" and answer["type"] == "transaction-response"
    assert statuses(response) == [201] * 7
    keys = ("patient", "plan", "goal1", "goal2", "t1", "t2", "t3")
    new = {key: target(e) for key, e in zip(keys, answer["entry"], strict=True)}
    assert [n.split("/")[0] for n in new.values()] == [
        "Patient",
        "CarePlan",
        "Goal",
        "Goal",
        "Task",
        "Task",
        "Task",
    ]

    plan = await read(client, new["plan"])
    assert plan["subject"] == {"reference": new["patient"]}
    assert plan["goal"] == [{"reference": new["goal1"]}, {"reference": new["goal2"]}]
    assert [a["reference"]["reference"] for a in plan["activity"]] == [
        new["t1"],
        new["t2"],
        new["t3"],
    ]
    assert plan["instantiatesUri"] == [new["patient"]]  # a uri equal to a fullUrl, too
    for key in ("goal1", "goal2"):
        assert (await read(client, new[key]))["subject"] == {"reference": new["patient"]}
    for key, goal in (("t1", "goal1"), ("t2", "goal2"), ("t3", "goal2")):
        stored = await read(client, new[key])
        assert stored["for"] == {"reference": new["patient"]}
        assert stored["basedOn"] == [{"reference": new["plan"]}]
        assert stored["focus"] == {"reference": new[goal]}
    assert (await read(client, new["t2"]))["partOf"] == [{"reference": new["t1"]}]
    for reference in new.values():
        text = (await client.get(f"/{reference}")).text
        assert not any(placeholder in text for placeholder in ids.values()), text

    searched = await client.get("/Task", params={"based-on": new["plan"], "_summary": "count"})
    assert searched.json()["total"] == 3  # the rewritten references are indexed


async def test_one_invalid_task_lands_nothing_and_names_the_entry(
    client: httpx.AsyncClient,
) -> None:
    document, _ = care_plan_bundle()
    document["entry"][5]["resource"]["status"] = "bogus"
    before = await counts(client, *TYPES)
    response = await post_bundle(client, document)
    body = outcome_of(response)
    assert response.status_code == 400
    expressions = [e for issue in body["issue"] for e in issue.get("expression", [])]
    assert "Bundle.entry[5].resource.status" in expressions, body
    assert body["issue"][0]["diagnostics"].startswith("Bundle.entry[5] (POST Task)")
    assert await counts(client, *TYPES) == before == dict.fromkeys(TYPES, 0)


async def test_a_placeholder_no_entry_has_is_refused(client: httpx.AsyncClient) -> None:
    lost = urn()
    response = await post_bundle(
        client,
        bundle(
            "transaction",
            entry("POST", "Patient", patient("Ngata"), urn()),
            entry("POST", "Task", task(**{"for": {"reference": lost}})),
        ),
    )
    assert response.status_code == 400
    assert outcome_of(response)["issue"][0]["expression"] == [
        "Bundle.entry[1].resource.for.reference"
    ]
    assert await count(client, "Patient") == 0


async def test_put_with_a_placeholder_full_url_maps_it_to_the_url(
    client: httpx.AsyncClient,
) -> None:
    placeholder = urn()
    response = await post_bundle(
        client,
        bundle(
            "transaction",
            entry("POST", "Task", task(**{"for": {"reference": placeholder}})),
            entry("PUT", "Patient/pat-put-1", {**patient("Ito"), "id": "pat-put-1"}, placeholder),
        ),
    )
    assert response.status_code == 200, response.text
    assert statuses(response) == [201, 201]
    stored = await read(client, target(response.json()["entry"][0]))
    assert stored["for"] == {"reference": "Patient/pat-put-1"}


async def test_a_stale_if_match_fails_the_transaction_with_412(client: httpx.AsyncClient) -> None:
    put = await client.put("/Task/t-match", json=task("t-match"), headers=FHIR_JSON)
    assert put.status_code == 201
    stale = bundle(
        "transaction",
        entry("POST", "Patient", patient("Moreau")),
        entry("PUT", "Task/t-match", task("t-match", "Changed"), ifMatch='W/"3"'),
    )
    response = await post_bundle(client, stale)
    assert response.status_code == 412, response.text
    assert outcome_of(response)["issue"][0]["expression"] == ["Bundle.entry[1]"]
    assert await count(client, "Patient") == 0
    assert (await client.get("/Task/t-match")).headers["etag"] == 'W/"1"'

    current = bundle(
        "transaction", entry("PUT", "Task/t-match", task("t-match", "Changed"), ifMatch='W/"1"')
    )
    response = await post_bundle(client, current)
    assert response.status_code == 200 and statuses(response) == [200]
    assert response.json()["entry"][0]["response"]["etag"] == 'W/"2"'


async def test_a_resource_changed_by_two_entries_is_400(client: httpx.AsyncClient) -> None:
    await client.put("/Task/t-twice", json=task("t-twice"), headers=FHIR_JSON)
    twice = bundle(
        "transaction",
        entry("PUT", "Task/t-twice", task("t-twice", "One")),
        entry("DELETE", "Task/t-twice"),
    )
    response = await post_bundle(client, twice)
    assert response.status_code == 400
    issue = outcome_of(response)["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].request.url"]
    assert "Bundle.entry[0]" in issue["diagnostics"]

    # the same resource reached through a condition is caught when it is staged
    await client.put(
        "/Patient/p-twice", json={**patient("Twice", "twice"), "id": "p-twice"}, headers=FHIR_JSON
    )
    twice = bundle(
        "transaction",
        entry("PUT", "Patient/p-twice", {**patient("Once", "twice"), "id": "p-twice"}),
        patch_entry(
            f"Patient?identifier={MRN}|twice",
            [{"op": "replace", "path": "/name/0/family", "value": "Twice again"}],
        ),
    )
    response = await post_bundle(client, twice)
    assert response.status_code == 400, response.text
    assert outcome_of(response)["issue"][0]["expression"] == ["Bundle.entry[1]"]
    assert (await read(client, "Patient/p-twice"))["name"] == [{"family": "Twice"}]
    assert (await read(client, "Task/t-twice"))["description"] == "Call the patient"


async def test_entries_run_deletes_first_and_reads_last(client: httpx.AsyncClient) -> None:
    await client.put("/Task/t-read", json=task("t-read"), headers=FHIR_JSON)
    await client.put("/Task/t-gone", json=task("t-gone"), headers=FHIR_JSON)
    response = await post_bundle(
        client,
        bundle(
            "transaction",
            entry("GET", "Task/t-read"),
            entry("PUT", "Task/t-read", task("t-read", "Updated")),
            entry("POST", "Task", task(description="New")),
            entry("DELETE", "Task/t-gone"),
            entry("GET", "Task?_id=t-gone,t-read"),
        ),
    )
    assert response.status_code == 200, response.text
    answer = response.json()["entry"]
    assert statuses(response) == [200, 200, 201, 200, 200]
    assert answer[0]["resource"]["description"] == "Updated"  # read after the update
    assert answer[0]["response"]["etag"] == 'W/"2"'
    assert answer[4]["resource"]["total"] == 1  # searched after the delete
    history = (await client.get("/_history")).json()["entry"]
    methods = [e["request"]["method"] for e in history[:3]]
    assert methods == ["PUT", "POST", "DELETE"]  # newest first: committed in that order


async def test_conditional_references_resolve_or_fail_the_transaction(
    client: httpx.AsyncClient,
) -> None:
    one = await client.post("/Patient", json=patient("Solo", "solo"), headers=FHIR_JSON)
    for _ in range(2):
        await client.post("/Patient", json=patient("Twin", "twin"), headers=FHIR_JSON)

    def with_subject(value: str) -> dict[str, Any]:
        return bundle(
            "transaction",
            entry(
                "POST",
                "Goal",
                {
                    "resourceType": "Goal",
                    "lifecycleStatus": "active",
                    "description": {"text": "Rest"},
                    "subject": {"reference": "Patient/" + one.json()["id"]},
                },
            ),
            entry(
                "POST", "Task", task(**{"for": {"reference": f"Patient?identifier={MRN}|{value}"}})
            ),
        )

    found = await post_bundle(client, with_subject("solo"))
    assert found.status_code == 200, found.text
    stored = await read(client, target(found.json()["entry"][1]))
    assert stored["for"] == {"reference": f"Patient/{one.json()['id']}"}

    for value, status in (("nobody", 404), ("twin", 412)):
        before = await counts(client, "Goal", "Task")
        response = await post_bundle(client, with_subject(value))
        assert response.status_code == status, response.text
        issue = outcome_of(response)["issue"][0]
        assert issue["expression"] == ["Bundle.entry[1].resource.for.reference"]
        assert await counts(client, "Goal", "Task") == before


async def test_conditional_create_maps_its_placeholder_to_the_match(
    client: httpx.AsyncClient,
) -> None:
    existing = await client.post("/Patient", json=patient("Here", "here"), headers=FHIR_JSON)
    here, new = urn(), urn()
    response = await post_bundle(
        client,
        bundle(
            "transaction",
            entry(
                "POST",
                "Patient",
                patient("Here", "here"),
                here,
                ifNoneExist=f"identifier={MRN}|here",
            ),
            entry(
                "POST",
                "Patient",
                patient("New", "new"),
                new,
                ifNoneExist=f"Patient?identifier={MRN}|new",
            ),
            entry("POST", "Task", task(**{"for": {"reference": here}}, owner={"reference": new})),
        ),
    )
    assert response.status_code == 200, response.text
    assert statuses(response) == [200, 201, 201]
    answer = response.json()["entry"]
    assert target(answer[0]) == f"Patient/{existing.json()['id']}"
    stored = await read(client, target(answer[2]))
    assert stored["for"] == {"reference": f"Patient/{existing.json()['id']}"}
    assert stored["owner"] == {"reference": target(answer[1])}
    assert await count(client, "Patient") == 2

    again = await post_bundle(
        client,
        bundle(
            "transaction",
            entry("POST", "Patient", patient("New", "new"), ifNoneExist=f"identifier={MRN}|new"),
        ),
    )
    assert statuses(again) == [200] and await count(client, "Patient") == 2


async def test_conditional_update_maps_its_placeholder_to_what_it_writes(
    client: httpx.AsyncClient,
) -> None:
    async def run(family: str) -> list[dict[str, Any]]:
        person = urn()
        response = await post_bundle(
            client,
            bundle(
                "transaction",
                entry("PUT", f"Patient?identifier={MRN}|cu", patient(family, "cu"), person),
                entry("POST", "Task", task(**{"for": {"reference": person}})),
            ),
        )
        assert response.status_code == 200, response.text
        return list(response.json()["entry"])

    created = await run("First")
    assert created[0]["response"]["status"] == "201 Created"
    stored = await read(client, target(created[1]))
    assert stored["for"] == {"reference": target(created[0])}
    updated = await run("Second")
    assert updated[0]["response"]["status"] == "200 OK"
    assert target(updated[0]) == target(created[0])
    stored = await read(client, target(updated[1]))
    assert stored["for"] == {"reference": target(created[0])}
    assert await count(client, "Patient") == 1


async def test_response_entries_carry_status_location_etag_and_last_modified(
    client: httpx.AsyncClient,
) -> None:
    await client.put("/Task/t-shape", json=task("t-shape"), headers=FHIR_JSON)
    document = bundle(
        "transaction",
        entry("POST", "Patient", patient("Shape")),
        entry("PUT", "Task/t-shape", task("t-shape", "Reshaped")),
        patch_entry("Task/t-shape2", [{"op": "replace", "path": "/status", "value": "received"}]),
        entry("DELETE", "Task/t-shape3"),
    )
    await client.put("/Task/t-shape2", json=task("t-shape2"), headers=FHIR_JSON)
    response = await post_bundle(client, document)
    assert response.status_code == 200, response.text
    created, updated, patched, deleted = response.json()["entry"]
    instant = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert created["response"]["status"] == "201 Created"
    assert re.fullmatch(r"Patient/[A-Za-z0-9\-.]+/_history/1", created["response"]["location"])
    assert created["response"]["etag"] == 'W/"1"'
    assert re.fullmatch(instant, created["response"]["lastModified"])
    assert created["response"]["lastModified"] == created["resource"]["meta"]["lastUpdated"]
    assert created["fullUrl"] == f"http://test/fhir/{target(created)}"
    assert updated["response"]["status"] == "200 OK"
    assert updated["response"]["location"] == "Task/t-shape/_history/2"
    assert updated["resource"]["description"] == "Reshaped"
    assert patched["response"]["location"] == "Task/t-shape2/_history/2"
    assert patched["resource"]["status"] == "received"
    assert deleted["response"]["status"] == "200 OK" and "resource" not in deleted
    assert deleted["response"]["outcome"]["resourceType"] == "OperationOutcome"

    minimal = await post_bundle(
        client,
        bundle("transaction", entry("POST", "Patient", patient("Minimal"))),
        {"Prefer": "return=minimal"},
    )
    only = minimal.json()["entry"][0]
    assert "resource" not in only and only["response"]["etag"] == 'W/"1"'
    with_outcome = await post_bundle(
        client,
        bundle("transaction", entry("POST", "Patient", patient("Outcome"))),
        {"Prefer": "return=OperationOutcome"},
    )
    only = with_outcome.json()["entry"][0]
    assert "resource" not in only
    assert only["response"]["outcome"]["issue"][0]["severity"] == "information"


async def test_a_failing_read_entry_fails_the_transaction(client: httpx.AsyncClient) -> None:
    response = await post_bundle(
        client,
        bundle(
            "transaction",
            entry("POST", "Patient", patient("Reader")),
            entry("GET", "Task/never-was"),
        ),
    )
    assert response.status_code == 404
    assert outcome_of(response)["issue"][0]["expression"] == ["Bundle.entry[1]"]
    assert await count(client, "Patient") == 0


async def test_concurrent_transactions_over_shared_tasks_land_whole_or_not_at_all(
    client: httpx.AsyncClient,
) -> None:
    shared = [f"t-shared-{n}" for n in range(5)]
    for id in shared:
        assert (
            await client.put(f"/Task/{id}", json=task(id), headers=FHIR_JSON)
        ).status_code == 201
    picks = list(itertools.combinations(range(5), 3)) * 2  # 20 bundles, 3 of 5 tasks each

    async def run(n: int, chosen: tuple[int, ...]) -> httpx.Response:
        document = bundle(
            "transaction",
            *(entry("PUT", f"Task/{shared[i]}", task(shared[i], f"txn {n}")) for i in chosen),
        )
        return await post_bundle(client, document)

    responses = await asyncio.gather(*(run(n, chosen) for n, chosen in enumerate(picks)))
    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
    succeeded = [n for n, r in enumerate(responses) if r.status_code == 200]
    assert succeeded, "no transaction got through"
    for i, id in enumerate(shared):
        touching = [n for n in succeeded if i in picks[n]]
        stored = await client.get(f"/Task/{id}")
        assert stored.headers["etag"] == f'W/"{1 + len(touching)}"', id
        expected = {f"txn {n}" for n in touching} or {"Call the patient"}
        assert stored.json()["description"] in expected, id
        history = await client.get(f"/Task/{id}/_history")
        assert history.json()["total"] == 1 + len(touching), id
    for n in succeeded:  # every entry of a success reports the version it made
        for answer in responses[n].json()["entry"]:
            assert answer["resource"]["description"] == f"txn {n}"


async def test_load_applies_a_transaction_file_whole(store: ResourceStore, tmp_path: Path) -> None:
    placeholder = urn()
    document = bundle(
        "transaction",
        entry("PUT", "Patient/l-1", {**patient("Loaded"), "id": "l-1"}, placeholder),
        entry(
            "PUT", "Goal/l-goal", {**goal_for(placeholder), "id": "l-goal", "lifecycleStatus": "x"}
        ),
    )
    path = tmp_path / "bundle.json"
    path.write_bytes(jsonio.dumps(document))
    context = Context(store)
    steps: list[tuple[int, int]] = []
    report = await load(context, [path], lambda done, total: steps.append((done, total)))
    assert report.counts == {"failed": 2} and steps == [(1, 1)]  # progress counts files
    assert "Bundle.entry[1] (PUT Goal/l-goal)" in report.errors[0]
    assert "lifecycleStatus" in report.errors[0]
    assert await store.read("Patient", "l-1") is None  # the valid entry did not land either

    document["entry"][1]["resource"]["lifecycleStatus"] = "active"
    path.write_bytes(jsonio.dumps(document))
    assert (await load(context, [path])).counts == {"created": 2}
    goal = await store.read("Goal", "l-goal")
    assert goal is not None and goal.body is not None
    assert jsonio.loads(goal.body)["subject"] == {"reference": "Patient/l-1"}
    assert (await load(context, [path])).counts == {"unchanged": 2}
    assert (await store.read("Goal", "l-goal")).version == 1  # type: ignore[union-attr]


def goal_for(subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "description": {"text": "Loaded goal"},
        "subject": {"reference": subject},
    }
