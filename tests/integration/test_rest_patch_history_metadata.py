"""JSON Patch, history at three levels, the CapabilityStatement (and the OpenAPI document
rendered from it) and _summary/_elements.

https://hl7.org/fhir/R4/http.html#patch #history #capabilities, search.html#summary
"""

from __future__ import annotations

import json

import httpx

from fhircare.rest.openapi import openapi_document

FHIR_JSON = {"Content-Type": "application/fhir+json"}
PATCH = {"Content-Type": "application/json-patch+json"}
PATIENT = {
    "resourceType": "Patient",
    "name": [{"family": "Ngata", "given": ["Mere"]}],
    "gender": "female",
    "photo": [{"contentType": "image/png", "data": "iVBORw0KGgo="}],
}


async def new_patient(client: httpx.AsyncClient) -> str:
    response = await client.post("/Patient", json=PATIENT, headers=FHIR_JSON)
    assert response.status_code == 201
    return str(response.json()["id"])


async def test_json_patch_applies_and_validates(client: httpx.AsyncClient) -> None:
    id = await new_patient(client)
    ops = [
        {"op": "replace", "path": "/gender", "value": "other"},
        {"op": "add", "path": "/active", "value": True},
    ]
    response = await client.patch(f"/Patient/{id}", json=ops, headers=PATCH)
    assert response.status_code == 200, response.text
    assert response.json()["gender"] == "other" and response.json()["active"] is True
    assert response.headers["etag"] == 'W/"2"'
    invalid = await client.patch(
        f"/Patient/{id}",
        json=[{"op": "replace", "path": "/gender", "value": "bogus"}],
        headers=PATCH,
    )
    assert invalid.status_code == 400 and invalid.json()["issue"][0]["code"] == "code-invalid"
    failed_test = await client.patch(
        f"/Patient/{id}", json=[{"op": "test", "path": "/gender", "value": "male"}], headers=PATCH
    )
    assert failed_test.status_code == 422
    malformed = await client.patch(f"/Patient/{id}", json=[{"op": "jump"}], headers=PATCH)
    assert malformed.status_code == 400
    change_id = await client.patch(
        f"/Patient/{id}", json=[{"op": "replace", "path": "/id", "value": "x"}], headers=PATCH
    )
    assert change_id.status_code == 400
    stale = await client.patch(f"/Patient/{id}", json=ops, headers={**PATCH, "If-Match": 'W/"1"'})
    assert stale.status_code == 412
    wrong_type = await client.patch(f"/Patient/{id}", json=ops, headers=FHIR_JSON)
    assert wrong_type.status_code == 415
    assert (await client.patch("/Patient/missing", json=ops, headers=PATCH)).status_code == 404
    assert (await client.get(f"/Patient/{id}")).json()["meta"]["versionId"] == "2"


async def test_history_instance_type_system(client: httpx.AsyncClient) -> None:
    id = await new_patient(client)
    await client.put(
        f"/Patient/{id}", json={**PATIENT, "id": id, "gender": "male"}, headers=FHIR_JSON
    )
    await client.delete(f"/Patient/{id}")
    other = await new_patient(client)
    await client.post(
        "/Observation",
        json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
        headers=FHIR_JSON,
    )

    instance = (await client.get(f"/Patient/{id}/_history")).json()
    assert instance["type"] == "history" and instance["total"] == 3
    methods = [e["request"]["method"] for e in instance["entry"]]
    assert methods == ["DELETE", "PUT", "POST"]
    assert "resource" not in instance["entry"][0]
    assert instance["entry"][1]["resource"]["meta"]["versionId"] == "2"
    assert instance["entry"][2]["response"]["etag"] == 'W/"1"'

    typed = (await client.get("/Patient/_history")).json()
    assert {e["fullUrl"].rsplit("/", 1)[-1] for e in typed["entry"]} == {id, other}
    system = (await client.get("/_history")).json()
    assert system["total"] == 5


async def test_history_paging_and_since(client: httpx.AsyncClient) -> None:
    ids = [await new_patient(client) for _ in range(5)]
    seen: list[str] = []
    url: str | None = "/Patient/_history?_count=2"
    pages = 0
    while url:
        page = (await client.get(url)).json()
        seen += [e["fullUrl"].rsplit("/", 1)[-1] for e in page.get("entry", [])]
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        url = nxt[0].replace("http://test/fhir", "") if nxt else None
        pages += 1
    assert sorted(seen) == sorted(ids) and pages == 3
    future = (
        await client.get("/Patient/_history", params={"_since": "2999-01-01T00:00:00Z"})
    ).json()
    assert future["total"] == 0 and future["entry"] == []
    assert (
        await client.get("/Patient/_history", params={"_since": "yesterday"})
    ).status_code == 400
    assert (await client.get("/Patient/_history", params={"_count": "-1"})).status_code == 400
    # found by tests/reliability/test_fuzz.py: these were 500s
    for params, status in [
        ({"_count": "²"}, 400),  # str.isdigit() is true, int() refuses it
        ({"_count": "9" * 5000}, 200),  # int() refuses 4,300+ digits; it is max_count
        ({"_cursor": "²"}, 400),
        ({"_cursor": str(2**63)}, 400),  # no write sequence is past BSON's int64
        ({"_cursor": str(2**63 - 1)}, 200),
    ]:
        answer = await client.get("/Patient/_history", params=params)
        assert answer.status_code == status, (params, answer.text)
    count_only = (await client.get("/Patient/_history", params={"_count": "0"})).json()
    assert count_only["total"] == 5 and count_only["entry"] == []


async def test_capability_statement_claims_only_what_exists(client: httpx.AsyncClient) -> None:
    response = await client.get("/metadata")
    body = response.json()
    assert body["resourceType"] == "CapabilityStatement" and body["fhirVersion"] == "4.0.1"
    assert body["kind"] == "instance" and "application/fhir+json" in body["format"]
    assert not any("xml" in f for f in body["format"])
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}
    for t in ("Patient", "CarePlan", "Goal", "Task", "Consent", "AuditEvent"):
        assert t in resources
    codes = {i["code"] for i in resources["CarePlan"]["interaction"]}
    assert codes == {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history-instance",
        "history-type",
        "create",
        "search-type",
    }
    params = {p["name"]: p["type"] for p in resources["CarePlan"]["searchParam"]}
    assert params["subject"] == "reference" and params["status"] == "token"
    assert params["_lastUpdated"] == "date"
    assert resources["CarePlan"]["conditionalCreate"] is True
    assert resources["CarePlan"]["conditionalUpdate"] is True
    assert resources["CarePlan"]["conditionalDelete"] == "single"
    system = {i["code"] for i in body["rest"][0]["interaction"]}
    assert system == {"transaction", "batch", "history-system", "search-system"}


async def test_openapi_document_is_served_from_the_capability_statement(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.") and document["servers"] == [
        {"url": "http://test/fhir"}
    ]
    statement = (await client.get("/metadata")).json()
    assert document == json.loads(json.dumps(openapi_document(statement)))
    refused = await client.post("/openapi.json", content=b"{}")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET"
    assert refused.json()["resourceType"] == "OperationOutcome"
    # not a resource type, nor a route of its own below the base or a type
    assert (await client.get("/openapi.json/x")).status_code == 404
    assert (await client.get("/Patient/openapi.json")).status_code == 404


async def test_summary_and_elements_on_read(client: httpx.AsyncClient) -> None:
    id = await new_patient(client)
    summary = (await client.get(f"/Patient/{id}", params={"_summary": "true"})).json()
    assert "name" in summary and "photo" not in summary
    assert any(t["code"] == "SUBSETTED" for t in summary["meta"]["tag"])
    data = (await client.get(f"/Patient/{id}", params={"_summary": "data"})).json()
    assert "photo" in data
    elements = (await client.get(f"/Patient/{id}", params={"_elements": "gender"})).json()
    assert set(elements) == {"resourceType", "id", "meta", "gender"}
    assert (await client.get(f"/Patient/{id}", params={"_summary": "maybe"})).status_code == 400
    full = (await client.get(f"/Patient/{id}", params={"_summary": "false"})).json()
    assert "photo" in full and "tag" not in full["meta"]
