"""SearchParameter resources at run time, on every store.

https://hl7.org/fhir/R4/searchparameter.html: an active SearchParameter POSTed to the server
is searchable at once for resources written after it, and for older ones after ``$reindex``;
it is listed in the CapabilityStatement; retiring or deleting it makes it unknown again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pymongo import MongoClient

from fhircare.settings import Settings
from fhircare.storage.protocol import ResourceStore

ROOT = Path(__file__).resolve().parents[2]
MAIDEN_NAME = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
CODE = "mothers-maiden-name"


def search_parameter(**changes: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "SearchParameter",
        "url": "http://example.org/fhir/SearchParameter/patient-mothers-maiden-name",
        "name": "MothersMaidenName",
        "status": "active",
        "description": "The patient's mother's maiden name",
        "code": CODE,
        "base": ["Patient"],
        "type": "string",
        "expression": f"Patient.extension.where(url='{MAIDEN_NAME}').value",
    }
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not None}


def patient(family: str, maiden_name: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": family}],
        "extension": [{"url": MAIDEN_NAME, "valueString": maiden_name}],
    }


async def post(client: httpx.AsyncClient, resource: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def search(
    client: httpx.AsyncClient, query: dict[str, str], strict: bool = False
) -> httpx.Response:
    headers = {"Prefer": "handling=strict"} if strict else {}
    return await client.get("/Patient", params=query, headers=headers)


async def matches(client: httpx.AsyncClient, **query: str) -> set[str]:
    response = await search(client, query)
    assert response.status_code == 200, response.text
    return {
        e["resource"]["id"]
        for e in response.json().get("entry", [])
        if e["search"]["mode"] == "match"
    }


async def patient_params(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    statement = (await client.get("/metadata")).json()
    (patient_entry,) = [r for r in statement["rest"][0]["resource"] if r["type"] == "Patient"]
    return {p["name"]: p for p in patient_entry["searchParam"]}


async def test_runtime_parameter_lifecycle(client: httpx.AsyncClient) -> None:
    older = await post(client, patient("Older", "Smith"))
    assert CODE not in await patient_params(client)
    parameter = await post(client, search_parameter())

    newer = await post(client, patient("Newer", "Smith"))
    await post(client, patient("Other", "Jones"))
    assert await matches(client, **{CODE: "smi"}) == {newer["id"]}, "written after: at once"
    assert await matches(client, **{CODE + ":exact": "Jones"}) != set()

    response = await client.post("/Patient/$reindex")
    assert response.status_code == 200, response.text
    counts = {p["name"]: p.get("valueInteger") for p in response.json()["parameter"]}
    assert counts["reindexed"] == 3 and counts["skipped"] == 0
    assert await matches(client, **{CODE: "smi"}) == {older["id"], newer["id"]}

    listed = await patient_params(client)
    assert listed[CODE] == {"name": CODE, "definition": parameter["url"], "type": "string"}
    statement = (await client.get("/metadata")).json()
    assert {"name": "reindex", "definition": "http://test/fhir/OperationDefinition/reindex"} in (
        statement["rest"][0]["operation"]
    )

    retired = {**parameter, "status": "retired"}
    response = await client.put(f"/SearchParameter/{parameter['id']}", json=retired)
    assert response.status_code == 200, response.text
    lenient = await search(client, {CODE: "smi"})
    assert lenient.status_code == 200
    outcomes = [e for e in lenient.json()["entry"] if e["search"]["mode"] == "outcome"]
    assert CODE in outcomes[0]["resource"]["issue"][0]["diagnostics"]
    assert (await search(client, {CODE: "smi"}, strict=True)).status_code == 400
    assert CODE not in await patient_params(client)


async def test_deleting_removes_and_reactivating_restores(client: httpx.AsyncClient) -> None:
    parameter = await post(client, search_parameter())
    await post(client, patient("A", "Smith"))
    assert (await client.delete(f"/SearchParameter/{parameter['id']}")).status_code == 200
    assert (await search(client, {CODE: "smith"}, strict=True)).status_code == 400
    again = await post(client, search_parameter())
    assert len(await matches(client, **{CODE: "smith"})) == 1  # its entries were kept
    assert again["id"] != parameter["id"]


async def test_a_draft_is_not_searchable(client: httpx.AsyncClient) -> None:
    await post(client, search_parameter(status="draft", expression="Patient.name.where("))
    assert (await search(client, {CODE: "x"}, strict=True)).status_code == 400


@pytest.mark.parametrize(
    ("changes", "element"),
    [
        ({"expression": "Patient.name.where("}, "SearchParameter.expression"),
        ({"expression": "Patient.name.frobnicate()"}, "SearchParameter.expression"),
        ({"expression": "Observation.code"}, "SearchParameter.expression"),
        ({"expression": None}, "SearchParameter.expression"),
        ({"type": "composite"}, "SearchParameter.type"),
        ({"type": "special"}, "SearchParameter.type"),
        ({"base": ["Basic"], "expression": "Basic.code"}, None),  # Basic is served: fine
        ({"code": "name", "expression": "Patient.name"}, "SearchParameter.code"),
        ({"code": "_id", "expression": "Patient.id"}, "SearchParameter.code"),
        ({"url": "http://hl7.org/fhir/SearchParameter/Patient-name"}, "SearchParameter.url"),
    ],
)
async def test_unusable_parameters_are_rejected(
    client: httpx.AsyncClient, changes: dict[str, Any], element: str | None
) -> None:
    response = await client.post("/SearchParameter", json=search_parameter(**changes))
    if element is None:
        assert response.status_code == 201, response.text
        return
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == [element]
    retired = await client.post(
        "/SearchParameter", json=search_parameter(**changes, status="retired")
    )
    assert retired.status_code == 201, "a retired one is stored unchecked"


async def test_a_second_parameter_may_not_take_the_code(client: httpx.AsyncClient) -> None:
    first = await post(client, search_parameter())
    other = search_parameter(url="http://example.org/fhir/SearchParameter/other")
    response = await client.post("/SearchParameter", json=other)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["SearchParameter.code"]
    same_url = search_parameter(code="maiden")
    response = await client.post("/SearchParameter", json=same_url)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["SearchParameter.url"]
    # updating the parameter itself is no clash
    changed = {**first, "description": "changed"}
    assert (await client.put(f"/SearchParameter/{first['id']}", json=changed)).status_code == 200


async def test_system_reindex_and_unknown_type(client: httpx.AsyncClient) -> None:
    await post(client, patient("A", "Smith"))
    await post(client, {"resourceType": "Organization", "name": "Acme"})
    response = await client.post("/$reindex")
    assert response.status_code == 200, response.text
    counts = {p["name"]: p.get("valueInteger") for p in response.json()["parameter"]}
    assert counts["reindexed"] == 2
    assert (await client.get("/$reindex")).status_code == 405
    assert (await client.post("/Nope/$reindex")).status_code == 404
    # the index a reindex writes is the one a write computes: searches are unchanged
    assert await matches(client, family="a") != set()
    organizations = await client.get("/Organization", params={"name": "acme"})
    assert organizations.json()["total"] == 1


@pytest.fixture
async def second_client(
    store: ResourceStore, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """Another app process on the same store, checking for changes on every request."""
    from fhircare.app import create_app

    app = create_app(settings.model_copy(update={"search_parameter_refresh_seconds": 0}), store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
            yield http


async def test_other_processes_pick_up_changes(
    client: httpx.AsyncClient, second_client: httpx.AsyncClient
) -> None:
    assert (await search(second_client, {CODE: "smith"}, strict=True)).status_code == 400
    parameter = await post(client, search_parameter())
    written = await post(second_client, patient("B", "Smith"))
    assert await matches(second_client, **{CODE: "smith"}) == {written["id"]}
    assert CODE in await patient_params(second_client)
    assert (await client.delete(f"/SearchParameter/{parameter['id']}")).status_code == 200
    assert (await search(second_client, {CODE: "smith"}, strict=True)).status_code == 400


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fhircare.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def test_cli_reindex(mongo_uri: str, tmp_path: Path) -> None:
    database = f"cli_{uuid.uuid4().hex[:8]}"
    env = {"MONGODB_URI": mongo_uri, "FHIRCARE_DATABASE": database}
    patients = tmp_path / "patients.json"
    patients.write_bytes(orjson.dumps({**patient("Old", "Smith"), "id": "old"}))
    parameter = tmp_path / "parameter.json"
    parameter.write_bytes(orjson.dumps({**search_parameter(), "id": "maiden"}))
    mongo: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)

    def codes() -> set[str]:
        document = mongo[database]["resources"].find_one({"_id": "Patient/old"})
        assert document is not None
        return {entry["p"] for entry in document["idx"]}

    try:
        for path in (patients, parameter):
            loaded = run_cli("load", str(path), env=env)
            assert loaded.returncode == 0, loaded.stderr
        assert CODE not in codes()
        result = run_cli("reindex", "--type", "Patient", env=env)
        assert result.returncode == 0, result.stderr
        assert "reindexed: 1 resources of Patient" in result.stderr
        assert CODE in codes()
        everything = run_cli("reindex", env=env)
        assert everything.returncode == 0 and "reindexed: 2" in everything.stderr
        wrong = run_cli("reindex", "--type", "Nope", env=env)
        assert wrong.returncode == 2 and "Nope" in wrong.stderr
    finally:
        mongo.drop_database(database)
        mongo.close()
