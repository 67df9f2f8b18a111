"""Conditional create, update, delete and patch over HTTP, on every store.

https://hl7.org/fhir/R4/http.html#ccreate #cond-update #cdelete #patch: 0, 1 and several
matches, ``If-Match``, bad conditions, the ``conditional_delete`` setting, and races of
identical requests that must create one resource.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest

from fhircare.settings import Settings
from fhircare.storage.protocol import ResourceStore

FHIR_JSON = {"Content-Type": "application/fhir+json"}
PATCH_JSON = {"Content-Type": "application/json-patch+json"}
SYSTEM = "http://example.org/mrn"


def patient(value: str, **extra: object) -> dict:
    return {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": value}], **extra}


def condition(value: str) -> str:
    return f"identifier={SYSTEM}|{value}"


def outcome(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    if code is not None:
        assert body["issue"][0]["code"] == code, body
    return body


async def post(client: httpx.AsyncClient, body: dict, **headers: str) -> httpx.Response:
    return await client.post("/Patient", json=body, headers={**FHIR_JSON, **headers})


async def created(client: httpx.AsyncClient, body: dict) -> str:
    response = await post(client, body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def count(client: httpx.AsyncClient, value: str) -> int:
    params = {"identifier": f"{SYSTEM}|{value}", "_summary": "count"}
    return int((await client.get("/Patient", params=params)).json()["total"])


async def app_client(settings: Settings, store: ResourceStore) -> AsyncIterator[httpx.AsyncClient]:
    from fhircare.app import create_app

    app = create_app(settings, store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
            yield http


@pytest.fixture
async def multiple_client(store: ResourceStore) -> AsyncIterator[httpx.AsyncClient]:
    """``client`` with ``conditional_delete=multiple`` and at most 3 deletions at once."""
    async for http in app_client(Settings(conditional_delete="multiple", max_count=3), store):
        yield http


class Yielding:
    """``store`` yielding to the event loop before each call, so that concurrent requests
    interleave on the memory store too (its calls never wait), as they do over a network."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)
        if not inspect.iscoroutinefunction(method):
            return method

        async def call(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            return await method(*args, **kwargs)

        return call


@pytest.fixture
async def racing_client(
    store: ResourceStore, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """``client`` over ``Yielding(store)``."""
    async for http in app_client(settings, cast(ResourceStore, Yielding(store))):
        yield http


# conditional create


async def test_conditional_create_none_one_and_several(client: httpx.AsyncClient) -> None:
    first = await post(client, patient("a1"), **{"If-None-Exist": condition("a1")})
    assert first.status_code == 201, first.text
    id = first.json()["id"]
    again = await post(client, patient("a1", gender="male"), **{"If-None-Exist": condition("a1")})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == id and "gender" not in again.json()
    assert again.headers["location"] == f"http://test/fhir/Patient/{id}/_history/1"
    assert again.headers["etag"] == 'W/"1"' and "last-modified" in again.headers
    assert (await client.get(f"/Patient/{id}")).headers["etag"] == 'W/"1"'
    typed = await post(client, patient("a1"), **{"If-None-Exist": f"Patient?{condition('a1')}"})
    assert typed.status_code == 200 and typed.json()["id"] == id
    minimal = await post(
        client, patient("a1"), **{"If-None-Exist": condition("a1"), "Prefer": "return=minimal"}
    )
    assert minimal.status_code == 200 and minimal.content == b""
    assert minimal.headers["location"] == again.headers["location"]
    await created(client, patient("a1"))
    several = await post(client, patient("a1"), **{"If-None-Exist": condition("a1")})
    outcome(several, 412)
    assert await count(client, "a1") == 2


async def test_conditional_create_bad_conditions(client: httpx.AsyncClient) -> None:
    for bad in ("bogus=1", "", "_count=5", "birthdate=notadate"):
        outcome(await post(client, patient("b1"), **{"If-None-Exist": bad}), 400)
    assert await count(client, "b1") == 0


async def test_conditional_create_honours_a_chain(client: httpx.AsyncClient) -> None:
    org = await client.post(
        "/Organization", json={"resourceType": "Organization", "name": "Acme"}, headers=FHIR_JSON
    )
    org_id = org.json()["id"]
    body = patient("c1", managingOrganization={"reference": f"Organization/{org_id}"})
    chain = {"If-None-Exist": "organization.name=Acme"}
    assert (await post(client, body, **chain)).status_code == 201
    assert (await post(client, body, **chain)).status_code == 200


async def test_a_claim_held_too_long_is_409(
    client: httpx.AsyncClient, store: ResourceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rival that never releases the condition's claim: 409 once the wait is over."""
    from fhircare.interactions import conditional
    from fhircare.interactions.request import Context

    monkeypatch.setattr(conditional, "CLAIM_WAIT_SECONDS", 0.3)
    name = conditional.canonical(
        conditional.parse_condition(Context(store), "Patient", condition("h1"))
    )
    token = await store.claim(name)
    assert token is not None
    headers = {"If-None-Exist": condition("h1")}
    outcome(await post(client, patient("h1"), **headers), 409, "conflict")
    params = {"identifier": f"{SYSTEM}|h1"}
    held = await client.put("/Patient", params=params, json=patient("h1"), headers=FHIR_JSON)
    outcome(held, 409)
    await store.release(name, token)
    assert (await post(client, patient("h1"), **headers)).status_code == 201


# conditional update


async def test_conditional_update_none_creates(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/Patient", params={"identifier": f"{SYSTEM}|u1"}, json=patient("u1"), headers=FHIR_JSON
    )
    assert response.status_code == 201, response.text
    assert response.json()["meta"]["versionId"] == "1"
    with_id = await client.put(
        "/Patient",
        params={"identifier": f"{SYSTEM}|u2"},
        json=patient("u2", id="chosen-id"),
        headers=FHIR_JSON,
    )
    assert with_id.status_code == 201, with_id.text
    assert with_id.headers["location"] == "http://test/fhir/Patient/chosen-id/_history/1"
    taken = await client.put(
        "/Patient",
        params={"identifier": f"{SYSTEM}|u3"},
        json=patient("u3", id="chosen-id"),
        headers=FHIR_JSON,
    )
    outcome(taken, 409)
    assert (await client.get("/Patient/chosen-id")).json()["identifier"][0]["value"] == "u2"


async def test_conditional_update_one_match(client: httpx.AsyncClient) -> None:
    id = await created(client, patient("u4"))
    params = {"identifier": f"{SYSTEM}|u4"}
    updated = await client.put(
        "/Patient", params=params, json=patient("u4", gender="female"), headers=FHIR_JSON
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["id"] == id and updated.json()["meta"]["versionId"] == "2"
    same_id = await client.put(
        "/Patient", params=params, json=patient("u4", id=id, gender="male"), headers=FHIR_JSON
    )
    assert same_id.status_code == 200 and same_id.headers["etag"] == 'W/"3"'
    other_id = patient("u4", id="someone-else")
    outcome(await client.put("/Patient", params=params, json=other_id, headers=FHIR_JSON), 400)
    stale = {**FHIR_JSON, "If-Match": 'W/"1"'}
    outcome(await client.put("/Patient", params=params, json=patient("u4"), headers=stale), 412)
    fresh = {**FHIR_JSON, "If-Match": 'W/"3"'}
    matched = await client.put("/Patient", params=params, json=patient("u4"), headers=fresh)
    assert matched.status_code == 200 and matched.headers["etag"] == 'W/"4"'
    assert await count(client, "u4") == 1


async def test_conditional_update_several_and_bad_conditions(client: httpx.AsyncClient) -> None:
    await created(client, patient("u5"))
    await created(client, patient("u5"))
    params = {"identifier": f"{SYSTEM}|u5"}
    outcome(await client.put("/Patient", params=params, json=patient("u5"), headers=FHIR_JSON), 412)
    for bad in ({"bogus": "1"}, {"_format": "json"}, {}):
        response = await client.put("/Patient", params=bad, json=patient("u5"), headers=FHIR_JSON)
        outcome(response, 400)
    wrong_type = {"resourceType": "Practitioner"}
    outcome(await client.put("/Patient", params=params, json=wrong_type, headers=FHIR_JSON), 400)
    assert await count(client, "u5") == 2


# conditional delete


async def test_conditional_delete_none_one_and_several(client: httpx.AsyncClient) -> None:
    params = {"identifier": f"{SYSTEM}|d1"}
    none = await client.delete("/Patient", params=params)
    assert outcome(none, 200)["issue"][0]["severity"] == "information"
    id = await created(client, patient("d1"))
    stale = await client.delete("/Patient", params=params, headers={"If-Match": 'W/"7"'})
    outcome(stale, 412)
    deleted = await client.delete("/Patient", params=params)
    outcome(deleted, 200)
    assert deleted.headers["etag"] == 'W/"2"'
    assert (await client.get(f"/Patient/{id}")).status_code == 410
    await created(client, patient("d2"))
    await created(client, patient("d2"))
    outcome(await client.delete("/Patient", params={"identifier": f"{SYSTEM}|d2"}), 412)
    assert await count(client, "d2") == 2
    outcome(await client.delete("/Patient"), 400)
    outcome(await client.delete("/Patient", params={"bogus": "x"}), 400)
    outcome(await client.delete("/Patient", params={"_count": "1"}), 400)


async def test_conditional_delete_multiple(multiple_client: httpx.AsyncClient) -> None:
    client = multiple_client
    ids = {await created(client, patient("m1")) for _ in range(3)}
    metadata = (await client.get("/metadata")).json()
    assert metadata["rest"][0]["resource"][0]["conditionalDelete"] == "multiple"
    four = await created(client, patient("m1"))
    outcome(
        await client.delete("/Patient", params={"identifier": f"{SYSTEM}|m1"}), 412, "too-costly"
    )
    assert await count(client, "m1") == 4
    assert (await client.delete(f"/Patient/{four}")).status_code == 200
    response = await client.delete("/Patient", params={"identifier": f"{SYSTEM}|m1"})
    body = outcome(response, 200)
    assert all(id in body["issue"][0]["diagnostics"] for id in ids)
    assert await count(client, "m1") == 0
    for id in ids:
        assert (await client.get(f"/Patient/{id}")).status_code == 410


# conditional patch


async def test_conditional_patch(client: httpx.AsyncClient) -> None:
    params = {"identifier": f"{SYSTEM}|p1"}
    document = [{"op": "add", "path": "/gender", "value": "other"}]
    outcome(await client.patch("/Patient", params=params, json=document, headers=PATCH_JSON), 404)
    id = await created(client, patient("p1"))
    patched = await client.patch("/Patient", params=params, json=document, headers=PATCH_JSON)
    assert patched.status_code == 200, patched.text
    assert patched.json()["id"] == id and patched.json()["gender"] == "other"
    assert patched.headers["etag"] == 'W/"2"'
    stale = {**PATCH_JSON, "If-Match": 'W/"1"'}
    outcome(await client.patch("/Patient", params=params, json=document, headers=stale), 412)
    await created(client, patient("p1"))
    outcome(await client.patch("/Patient", params=params, json=document, headers=PATCH_JSON), 412)
    outcome(await client.patch("/Patient", json=document, headers=PATCH_JSON), 400)
    bogus = {"bogus": "1"}
    outcome(await client.patch("/Patient", params=bogus, json=document, headers=PATCH_JSON), 400)
    wrong_media = await client.patch("/Patient", params=params, json=document, headers=FHIR_JSON)
    outcome(wrong_media, 415)


async def test_capability_statement_declares_conditionals(client: httpx.AsyncClient) -> None:
    resources = (await client.get("/metadata")).json()["rest"][0]["resource"]
    for resource in resources:
        assert resource["conditionalCreate"] is True and resource["conditionalUpdate"] is True
        assert resource["conditionalDelete"] == "single"
        assert "conditionalPatch" not in resource


# races: identical requests at once create one resource


async def test_fifty_concurrent_conditional_creates_make_one(
    racing_client: httpx.AsyncClient,
) -> None:
    client = racing_client
    headers = {"If-None-Exist": condition("race1")}
    results = await asyncio.gather(*(post(client, patient("race1"), **headers) for _ in range(50)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] * 49 + [201], [r.text for r in results if r.status_code >= 400]
    assert await count(client, "race1") == 1
    assert len({r.headers["location"] for r in results}) == 1


async def test_twenty_concurrent_conditional_updates_make_one(
    racing_client: httpx.AsyncClient,
) -> None:
    client = racing_client
    params = {"identifier": f"{SYSTEM}|race2"}

    async def put() -> httpx.Response:
        return await client.put("/Patient", params=params, json=patient("race2"), headers=FHIR_JSON)

    results = await asyncio.gather(*(put() for _ in range(20)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] * 19 + [201], [r.text for r in results if r.status_code >= 400]
    assert await count(client, "race2") == 1
    assert len({r.json()["id"] for r in results}) == 1
