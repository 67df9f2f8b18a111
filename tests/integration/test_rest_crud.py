"""create, read, vread, update, delete over HTTP on every store.

https://hl7.org/fhir/R4/http.html#create #read #vread #update #delete
"""

from __future__ import annotations

import re

import httpx

FHIR_JSON = {"Content-Type": "application/fhir+json"}
PATIENT = {
    "resourceType": "Patient",
    "name": [{"family": "Okafor", "given": ["Ada"]}],
    "gender": "female",
    "birthDate": "1956-03-02",
}


async def create_patient(client: httpx.AsyncClient, body: dict | None = None) -> httpx.Response:
    response = await client.post("/Patient", json=body or PATIENT, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    return response


async def test_create_assigns_id_version_and_headers(client: httpx.AsyncClient) -> None:
    response = await create_patient(client, {**PATIENT, "id": "ignored"})
    body = response.json()
    assert body["id"] != "ignored" and re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", body["id"])
    assert body["meta"]["versionId"] == "1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["meta"]["lastUpdated"])
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"] == f"http://test/fhir/Patient/{body['id']}/_history/1"
    assert "last-modified" in response.headers
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert list(body)[:3] == ["resourceType", "id", "meta"]


async def test_read_vread_and_conditional_read(client: httpx.AsyncClient) -> None:
    created = (await create_patient(client)).json()
    id = created["id"]
    read = await client.get(f"/Patient/{id}")
    assert read.status_code == 200 and read.json() == created
    assert read.headers["etag"] == 'W/"1"'
    not_modified = await client.get(f"/Patient/{id}", headers={"If-None-Match": 'W/"1"'})
    assert not_modified.status_code == 304 and not_modified.content == b""
    changed = await client.get(f"/Patient/{id}", headers={"If-None-Match": 'W/"7"'})
    assert changed.status_code == 200
    since = read.headers["last-modified"]
    assert (
        await client.get(f"/Patient/{id}", headers={"If-Modified-Since": since})
    ).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert (
        await client.get(f"/Patient/{id}", headers={"If-Modified-Since": old})
    ).status_code == 200
    vread = await client.get(f"/Patient/{id}/_history/1")
    assert vread.status_code == 200 and vread.json() == created
    for missing in (f"/Patient/{id}/_history/2", f"/Patient/{id}/_history/x", "/Patient/nope"):
        response = await client.get(missing)
        assert response.status_code == 404, missing
        assert response.json()["resourceType"] == "OperationOutcome"


async def test_update_versions_and_update_as_create(client: httpx.AsyncClient) -> None:
    created = (await create_patient(client)).json()
    id = created["id"]
    changed = {**PATIENT, "id": id, "gender": "other"}
    response = await client.put(f"/Patient/{id}", json=changed, headers=FHIR_JSON)
    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2" and response.headers["etag"] == 'W/"2"'
    assert response.headers["location"].endswith(f"/Patient/{id}/_history/2")
    same = await client.put(f"/Patient/{id}", json=changed, headers=FHIR_JSON)
    assert same.status_code == 200 and same.headers["etag"] == 'W/"2"'

    new = await client.put(
        "/Patient/client-chosen.1", json={**PATIENT, "id": "client-chosen.1"}, headers=FHIR_JSON
    )
    assert new.status_code == 201 and new.json()["meta"]["versionId"] == "1"
    bad = await client.put("/Patient/bad_id!", json={**PATIENT, "id": "bad_id!"}, headers=FHIR_JSON)
    assert bad.status_code == 400
    too_long = "a" * 65
    assert (
        await client.put(
            f"/Patient/{too_long}", json={**PATIENT, "id": too_long}, headers=FHIR_JSON
        )
    ).status_code == 400


async def test_update_id_rules(client: httpx.AsyncClient) -> None:
    no_id = await client.put("/Patient/p1", json=PATIENT, headers=FHIR_JSON)
    assert no_id.status_code == 400
    mismatch = await client.put("/Patient/p1", json={**PATIENT, "id": "p2"}, headers=FHIR_JSON)
    assert mismatch.status_code == 400
    assert mismatch.json()["issue"][0]["expression"] == ["id"]
    wrong_type = await client.put(
        "/Patient/p1",
        json={**PATIENT, "resourceType": "Practitioner", "id": "p1"},
        headers=FHIR_JSON,
    )
    assert wrong_type.status_code == 400


async def test_if_match(client: httpx.AsyncClient) -> None:
    id = (await create_patient(client)).json()["id"]
    body = {**PATIENT, "id": id, "gender": "male"}
    stale = await client.put(
        f"/Patient/{id}", json=body, headers={**FHIR_JSON, "If-Match": 'W/"5"'}
    )
    assert stale.status_code == 412 and stale.json()["resourceType"] == "OperationOutcome"
    fresh = await client.put(
        f"/Patient/{id}", json=body, headers={**FHIR_JSON, "If-Match": 'W/"1"'}
    )
    assert fresh.status_code == 200 and fresh.headers["etag"] == 'W/"2"'
    gone = await client.delete(f"/Patient/{id}", headers={"If-Match": 'W/"1"'})
    assert gone.status_code == 412


async def test_delete_then_gone_and_delete_again(client: httpx.AsyncClient) -> None:
    id = (await create_patient(client)).json()["id"]
    deleted = await client.delete(f"/Patient/{id}")
    assert deleted.status_code == 200 and deleted.headers["etag"] == 'W/"2"'
    read = await client.get(f"/Patient/{id}")
    assert read.status_code == 410 and read.json()["issue"][0]["code"] == "deleted"
    assert (await client.get(f"/Patient/{id}/_history/2")).status_code == 410
    assert (await client.get(f"/Patient/{id}/_history/1")).status_code == 200
    again = await client.delete(f"/Patient/{id}")
    assert again.status_code == 200 and again.headers["etag"] == 'W/"2"'
    never = await client.delete("/Patient/never-there")
    assert never.status_code == 200
    revived = await client.put(f"/Patient/{id}", json={**PATIENT, "id": id}, headers=FHIR_JSON)
    assert revived.status_code == 201 and revived.json()["meta"]["versionId"] == "3"


async def test_prefer_return(client: httpx.AsyncClient) -> None:
    minimal = await client.post(
        "/Patient", json=PATIENT, headers={**FHIR_JSON, "Prefer": "return=minimal"}
    )
    assert minimal.status_code == 201 and minimal.content == b"" and "location" in minimal.headers
    outcome = await client.post(
        "/Patient", json=PATIENT, headers={**FHIR_JSON, "Prefer": "return=OperationOutcome"}
    )
    assert outcome.status_code == 201 and outcome.json()["resourceType"] == "OperationOutcome"
    full = await client.post(
        "/Patient", json=PATIENT, headers={**FHIR_JSON, "Prefer": "return=representation"}
    )
    assert full.json()["resourceType"] == "Patient"


async def test_client_meta_is_kept_and_server_meta_wins(client: httpx.AsyncClient) -> None:
    tag = {"system": "http://example.org/tags", "code": "pilot"}
    body = {
        **PATIENT,
        "meta": {"versionId": "99", "lastUpdated": "2001-01-01T00:00:00Z", "tag": [tag]},
    }
    created = (await create_patient(client, body)).json()
    assert created["meta"]["versionId"] == "1" and created["meta"]["tag"] == [tag]
    assert not created["meta"]["lastUpdated"].startswith("2001")
