"""The server as a separate process, on SQLite and on FerretDB: what a black-box FHIR
client sees.

https://hl7.org/fhir/R4/http.html#concurrency (If-Match under contention).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest

from fhircare.processes import ServerProcess
from tests.integration.live_server import live_server

FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module", params=["sqlite", "mongo"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    if request.param == "sqlite":
        store = str(tmp_path_factory.mktemp("live") / "live.sqlite3")
    else:
        store = request.getfixturevalue("mongo_uri")
    server = live_server(store, f"live_{uuid.uuid4().hex[:8]}", "--examples", workers=2)
    try:
        yield server
    finally:
        server.stop()


def test_metadata_and_example_patients(live: ServerProcess) -> None:
    metadata = httpx.get(f"{live.base_url}/metadata")
    assert metadata.status_code == 200 and metadata.json()["fhirVersion"] == "4.0.1"
    patient = httpx.get(f"{live.base_url}/Patient/pat-diabetes-hf")
    assert patient.status_code == 200 and patient.json()["resourceType"] == "Patient"
    assert patient.headers["etag"] == 'W/"1"'


async def test_twenty_clients_if_match_on_one_resource(live: ServerProcess) -> None:
    """Every success gets its own version; final version = 1 + successes; the rest 412."""
    body = {"resourceType": "Task", "status": "requested", "intent": "order", "id": "contended"}
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as http:
        created = await http.put("/Task/contended", json=body, headers=FHIR_JSON)
        assert created.status_code == 201

        async def attempt(n: int) -> httpx.Response:
            return await http.put(
                "/Task/contended",
                json={**body, "description": f"client {n}"},
                headers={**FHIR_JSON, "If-Match": 'W/"1"'},
            )

        results = await asyncio.gather(*(attempt(n) for n in range(20)))
        statuses = sorted(r.status_code for r in results)
        successes = [r for r in results if r.status_code == 200]
        assert set(statuses) <= {200, 412}, statuses
        assert len(successes) == 1
        versions = {r.headers["etag"] for r in successes}
        assert len(versions) == len(successes)
        final = await http.get("/Task/contended")
        assert final.json()["meta"]["versionId"] == str(1 + len(successes))

        async def chained(n: int) -> int:
            """Each client retries with the version it last saw, so many succeed in turn."""
            wins = 0
            for _ in range(5):
                current = await http.get("/Task/contended")
                etag = current.headers["etag"]
                r = await http.put(
                    "/Task/contended",
                    json={**body, "description": f"chained {n} {etag}"},
                    headers={**FHIR_JSON, "If-Match": etag},
                )
                assert r.status_code in (200, 412), r.text
                wins += r.status_code == 200
            return wins

        before = int((await http.get("/Task/contended")).json()["meta"]["versionId"])
        wins = sum(await asyncio.gather(*(chained(n) for n in range(20))))
        after = await http.get("/Task/contended")
        assert int(after.json()["meta"]["versionId"]) == before + wins
        history = (await http.get("/Task/contended/_history", params={"_count": 500})).json()
        assert history["total"] == before + wins


async def test_fifty_conditional_creates_across_two_workers_make_one(live: ServerProcess) -> None:
    """https://hl7.org/fhir/R4/http.html#ccreate: the claim lives in the store, so two
    worker processes serving 50 identical conditional creates still create one resource."""
    system, value = "http://example.org/mrn", f"live-{uuid.uuid4().hex[:8]}"
    body = {"resourceType": "Patient", "identifier": [{"system": system, "value": value}]}
    headers = {**FHIR_JSON, "If-None-Exist": f"identifier={system}|{value}"}
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=live.base_url, timeout=60, limits=limits) as http:
        results = await asyncio.gather(
            *(http.post("/Patient", json=body, headers=headers) for _ in range(50))
        )
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200] * 49 + [201], [r.text for r in results if r.status_code >= 400]
        assert len({r.headers["location"] for r in results}) == 1
        params = {"identifier": f"{system}|{value}", "_summary": "count"}
        assert (await http.get("/Patient", params=params)).json()["total"] == 1
