"""Batch Bundles over HTTP, on every store, and what POST [base] accepts at all.

https://hl7.org/fhir/R4/http.html#transaction: each entry of a batch succeeds or fails on
its own; entries run deletes first, then creates, updates and reads; the response Bundle
answers each entry in place. Also the Bundle checks and the limits of ``POST [base]``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fhircare.settings import Settings
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
    target,
    task,
    urn,
)

MRN = "http://example.org/mrn"
MAX_ENTRIES = 30


@pytest.fixture
def settings() -> Settings:
    """Small limits: 64 KiB for a single body, 256 KiB and 30 entries for a Bundle."""
    return Settings(
        max_body_bytes=64 * 1024,
        max_count=50,
        max_bundle_bytes=256 * 1024,
        max_bundle_entries=MAX_ENTRIES,
    )


def goal(subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "description": {"text": "Sleep 8 hours"},
        "subject": {"reference": subject},
    }


async def test_each_entry_succeeds_or_fails_on_its_own(client: httpx.AsyncClient) -> None:
    await client.put("/Task/b-del", json=task("b-del"), headers=FHIR_JSON)
    response = await post_bundle(
        client,
        bundle(
            "batch",
            entry("POST", "Patient", patient("Batch")),
            entry("POST", "Task", task(status="bogus")),
            entry("PUT", "Task/b-put", task("b-put")),
            entry("GET", "Patient/nope"),
            entry("DELETE", "Task/b-del"),
            entry("PUT", "Task/b-other", task("b-mismatch")),
        ),
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["type"] == "batch-response"
    assert statuses(response) == [201, 400, 201, 404, 200, 400]
    bad = answer["entry"][1]["response"]
    assert bad["status"] == "400 Bad Request" and "location" not in bad
    assert bad["outcome"]["issue"][0]["expression"] == ["Task.status"]
    assert answer["entry"][3]["response"]["outcome"]["issue"][0]["code"] == "not-found"
    assert await count(client, "Patient") == 1
    assert (await client.get("/Task/b-put")).status_code == 200
    assert (await client.get("/Task/b-del")).status_code == 410
    assert (await client.get("/Task/b-other")).status_code == 404


async def test_entries_run_deletes_then_creates_then_updates_then_reads(
    client: httpx.AsyncClient,
) -> None:
    await client.put("/Task/b-order", json=task("b-order"), headers=FHIR_JSON)
    await client.put(
        "/Patient/p-old", json={**patient("Old", "old"), "id": "p-old"}, headers=FHIR_JSON
    )
    response = await post_bundle(
        client,
        bundle(
            "batch",
            entry("GET", "Task/b-order"),  # runs last: sees the update
            entry(
                "PUT", "Goal/g-order", {**goal(f"Patient?identifier={MRN}|new"), "id": "g-order"}
            ),
            entry("POST", "Goal", goal(f"Patient?identifier={MRN}|old")),  # after the delete
            entry("PUT", "Task/b-order", task("b-order", "Updated")),
            entry("POST", "Patient", patient("New", "new")),  # before the PUT of the Goal
            entry("DELETE", "Patient/p-old"),
        ),
    )
    assert response.status_code == 200, response.text
    assert statuses(response) == [200, 201, 404, 200, 201, 200]
    answer = response.json()["entry"]
    assert answer[0]["resource"]["description"] == "Updated"
    stored = (await client.get("/Goal/g-order")).json()
    assert stored["subject"] == {"reference": target(answer[4])}


async def test_conditional_references_fail_only_their_entry(client: httpx.AsyncClient) -> None:
    one = (await client.post("/Patient", json=patient("Solo", "solo"), headers=FHIR_JSON)).json()
    for _ in range(2):
        await client.post("/Patient", json=patient("Twin", "twin"), headers=FHIR_JSON)
    response = await post_bundle(
        client,
        bundle(
            "batch",
            entry("POST", "Goal", goal(f"Patient?identifier={MRN}|solo")),
            entry("POST", "Goal", goal(f"Patient?identifier={MRN}|nobody")),
            entry("POST", "Goal", goal(f"Patient?identifier={MRN}|twin")),
            entry("POST", "Goal", goal("Patient?bogus-parameter=1")),
        ),
    )
    assert statuses(response) == [201, 404, 412, 400]
    answer = response.json()["entry"]
    assert answer[0]["resource"]["subject"] == {"reference": f"Patient/{one['id']}"}
    assert answer[1]["response"]["outcome"]["issue"][0]["expression"] == ["Goal.subject.reference"]
    assert await count(client, "Goal") == 1


async def test_read_entries_and_their_headers(client: httpx.AsyncClient) -> None:
    await client.put("/Task/b-get", json=task("b-get"), headers=FHIR_JSON)
    await client.put("/Task/b-get", json=task("b-get", "Second"), headers=FHIR_JSON)
    response = await post_bundle(
        client,
        bundle(
            "batch",
            entry("GET", "Task/b-get"),
            entry("GET", "Task/b-get/_history/1"),
            entry("GET", "Task?_id=b-get"),
            entry("HEAD", "Task/b-get"),
            entry("GET", "Task/b-get", ifNoneMatch='W/"2"'),
            entry("GET", "http://test/fhir/Task/b-get?_elements=status"),
        ),
    )
    assert response.status_code == 200, response.text
    read, vread, searched, head, not_modified, subset = response.json()["entry"]
    assert read["resource"]["description"] == "Second"
    assert read["response"] == {
        "status": "200 OK",
        "etag": 'W/"2"',
        "lastModified": read["resource"]["meta"]["lastUpdated"],
    }
    assert read["fullUrl"] == "http://test/fhir/Task/b-get"
    assert vread["resource"]["description"] == "Call the patient"
    assert vread["response"]["etag"] == 'W/"1"'
    assert searched["resource"]["type"] == "searchset" and searched["resource"]["total"] == 1
    assert "resource" not in head and head["response"]["status"] == "200 OK"
    assert not_modified["response"]["status"] == "304 Not Modified"
    assert "resource" not in not_modified
    assert "description" not in subset["resource"] and subset["resource"]["status"]


async def test_patch_prefer_and_an_empty_batch(client: httpx.AsyncClient) -> None:
    await client.put("/Task/b-patch", json=task("b-patch"), headers=FHIR_JSON)
    response = await post_bundle(
        client,
        bundle(
            "batch",
            patch_entry(
                "Task/b-patch", [{"op": "replace", "path": "/status", "value": "received"}]
            ),
            entry("POST", "Patient", patient("Quiet")),
        ),
        {"Prefer": "return=minimal"},
    )
    assert statuses(response) == [200, 201]
    assert all("resource" not in e for e in response.json()["entry"])
    assert (await client.get("/Task/b-patch")).json()["status"] == "received"
    empty = await post_bundle(client, bundle("batch"))
    assert empty.status_code == 200 and "entry" not in empty.json()


async def test_placeholders_are_not_resolved_between_batch_entries(
    client: httpx.AsyncClient,
) -> None:
    placeholder = urn()
    response = await post_bundle(
        client,
        bundle(
            "batch",
            entry("POST", "Patient", patient("Apart"), placeholder),
            entry("POST", "Goal", goal(placeholder)),
        ),
    )
    assert statuses(response) == [201, 201]
    assert response.json()["entry"][1]["resource"]["subject"] == {"reference": placeholder}


def deep_patient(levels: int) -> dict[str, Any]:
    resource = patient("Deep")
    node = resource
    for _ in range(levels):
        node["extension"] = [{"url": "http://example.org/deep"}]
        node = node["extension"][0]
    return resource


@pytest.mark.parametrize(
    ("document", "expression"),
    [
        (patient("Lone"), "resourceType"),
        ({"resourceType": "Bundle", "type": "collection"}, "Bundle.type"),
        ({"resourceType": "Bundle", "type": "batch", "entry": {}}, "Bundle.entry"),
        (
            bundle("batch", entry("GET", "Patient"), {"resource": patient("X")}),
            "Bundle.entry[1].request",
        ),
        (bundle("transaction", entry("FETCH", "Patient")), "Bundle.entry[0].request.method"),
        (bundle("batch", entry("GET", "")), "Bundle.entry[0].request.url"),
        (bundle("batch", entry("PUT", "Patient/x")), "Bundle.entry[0].resource"),
        (
            bundle("batch", entry("POST", "Patient", deep_patient(400))),
            "Bundle.entry[0].resource",
        ),
        (
            bundle("batch", entry("GET", "http://elsewhere.example/fhir/Patient/x")),
            "Bundle.entry[0].request.url",
        ),
        (bundle("batch", entry("PATCH", "Patient/x", patient("X"))), "Bundle.entry[0].resource"),
        (
            bundle("batch", {**entry("GET", "Patient"), "fullUrl": 7}),
            "Bundle.entry[0].fullUrl",
        ),
        (
            bundle("transaction", entry("POST", "Patient/$reindex", patient("X"))),
            "Bundle.entry[0].request.url",
        ),
        (
            bundle(
                "transaction",
                entry("POST", "Patient", patient("A"), "urn:uuid:0"),
                entry("POST", "Patient", patient("B"), "urn:uuid:0"),
            ),
            "Bundle.entry[1].fullUrl",
        ),
    ],
)
async def test_a_malformed_bundle_is_400_naming_the_element(
    client: httpx.AsyncClient, document: dict[str, Any], expression: str
) -> None:
    response = await post_bundle(client, document)
    assert response.status_code == 400, response.text
    assert outcome_of(response)["issue"][0]["expression"] == [expression]
    assert await count(client, "Patient") == 0


async def test_a_bundle_inside_a_bundle_is_refused(client: httpx.AsyncClient) -> None:
    inner = bundle("batch", entry("POST", "Patient", patient("Inner")))
    response = await post_bundle(client, bundle("batch", entry("POST", "http://test/fhir", inner)))
    assert statuses(response) == [400]
    response = await post_bundle(client, bundle("transaction", entry("POST", "/", inner)))
    assert response.status_code == 400
    assert await count(client, "Patient") == 0


async def test_limits_on_entries_and_bytes(client: httpx.AsyncClient) -> None:
    many = bundle("batch", *(entry("GET", "metadata") for _ in range(MAX_ENTRIES + 1)))
    response = await post_bundle(client, many)
    assert response.status_code == 413
    assert outcome_of(response)["issue"][0]["code"] in ("too-costly", "too-long")
    enough = bundle("batch", *(entry("GET", "Patient?_count=1") for _ in range(MAX_ENTRIES)))
    assert (await post_bundle(client, enough)).status_code == 200

    # 100 KiB: over the single-request limit, within the bundle limit
    big = patient("Big")
    big["text"] = {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{"x" * 100_000}</div>',
    }
    assert (await client.post("/Patient", json=big, headers=FHIR_JSON)).status_code == 413
    response = await post_bundle(client, bundle("transaction", entry("POST", "Patient", big)))
    assert response.status_code == 200, response.text
    huge = bundle("transaction", *(entry("POST", "Patient", big) for _ in range(3)))
    response = await post_bundle(client, huge)
    assert response.status_code == 413 and outcome_of(response)["issue"][0]["code"] == "too-costly"
    assert await count(client, "Patient") == 1


async def test_post_to_the_base_takes_json_only(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "", content=b"<Bundle/>", headers={"Content-Type": "application/fhir+xml"}
    )
    assert response.status_code == 415
