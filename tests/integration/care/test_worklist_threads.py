"""Communication threads are searchable over HTTP, on every store: replies
(``in-response-to``, fhircare's own parameter), ``part-of`` and CommunicationRequest
fulfilment (``based-on``), with ``_revinclude``; and the SearchParameter resource that
``profiles/`` ships for ``in-response-to`` can be stored beside the packaged one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.integration.bundle_helpers import FHIR_JSON

PROFILES = Path(__file__).resolve().parents[3] / "profiles"
FIRST = "Communication/comm-copd-home-visit-1"
REMINDER = "CommunicationRequest/commreq-copd-rehab-reminder"


def ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == mode
    ]


async def search(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def put(client: httpx.AsyncClient, resource: dict[str, Any]) -> None:
    path = f"/{resource['resourceType']}/{resource['id']}"
    response = await client.put(path, json=resource, headers=FHIR_JSON)
    assert response.status_code in (200, 201), response.text


def note(id: str, **links: Any) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "id": id,
        "status": "completed",
        "subject": {"reference": "Patient/pat-copd"},
        "payload": [{"contentString": id}],
        **links,
    }


async def test_replies_are_found_by_in_response_to(loaded: httpx.AsyncClient) -> None:
    found = await search(loaded, "/Communication", **{"in-response-to": FIRST})
    assert ids(found) == ["Communication/comm-copd-home-visit-2"]
    by_id = await search(loaded, "/Communication", **{"in-response-to": "comm-copd-home-visit-3"})
    assert ids(by_id) == ["Communication/comm-copd-home-visit-4"]
    unanswered = await search(
        loaded, "/Communication", **{"in-response-to": "Communication/comm-copd-home-visit-4"}
    )
    assert ids(unanswered) == []


async def test_a_thread_comes_with_its_replies_by_revinclude(loaded: httpx.AsyncClient) -> None:
    found = await search(
        loaded,
        "/Communication",
        _id="comm-copd-home-visit-1",
        _revinclude="Communication:in-response-to",
    )
    assert ids(found) == [FIRST]
    assert ids(found, "include") == ["Communication/comm-copd-home-visit-2"]
    whole = await search(
        loaded,
        "/Communication",
        _id="comm-copd-home-visit-1",
        **{"_revinclude:iterate": "Communication:in-response-to"},
    )
    assert sorted(ids(whole, "include")) == [
        f"Communication/comm-copd-home-visit-{n}" for n in (2, 3, 4)
    ]


async def test_part_of_and_based_on_link_messages(loaded: httpx.AsyncClient) -> None:
    await put(loaded, note("wl-thread-part", partOf=[{"reference": FIRST}]))
    await put(loaded, note("wl-reminder-sent", basedOn=[{"reference": REMINDER}]))
    part = await search(loaded, "/Communication", **{"part-of": FIRST})
    assert ids(part) == ["Communication/wl-thread-part"]
    fulfilled = await search(loaded, "/Communication", **{"based-on": REMINDER})
    assert ids(fulfilled) == ["Communication/wl-reminder-sent"]
    request = await search(
        loaded,
        "/CommunicationRequest",
        _id="commreq-copd-rehab-reminder",
        _revinclude="Communication:based-on",
    )
    assert ids(request, "include") == ["Communication/wl-reminder-sent"]


async def test_the_statement_lists_in_response_to(client: httpx.AsyncClient) -> None:
    response = await client.get("/metadata")
    assert response.status_code == 200
    resources = response.json()["rest"][0]["resource"]
    communication = next(r for r in resources if r["type"] == "Communication")
    params = {p["name"]: p for p in communication["searchParam"]}
    assert params["in-response-to"]["type"] == "reference"
    assert params["in-response-to"]["definition"] == (
        "urn:fhircare:SearchParameter:Communication-in-response-to"
    )


async def test_the_shipped_search_parameter_can_be_stored(client: httpx.AsyncClient) -> None:
    for path in sorted(PROFILES.glob("SearchParameter-*.json")):
        resource = json.loads(path.read_text())
        await put(client, resource)
    await put(client, note("wl-a"))
    await put(client, note("wl-b", inResponseTo=[{"reference": "Communication/wl-a"}]))
    found = await search(client, "/Communication", **{"in-response-to": "Communication/wl-a"})
    assert ids(found) == ["Communication/wl-b"]
    changed = json.loads(
        (PROFILES / "SearchParameter-communication-in-response-to.json").read_text()
    )
    changed["expression"] = "Communication.partOf"
    response = await client.put(
        f"/SearchParameter/{changed['id']}", json=changed, headers=FHIR_JSON
    )
    assert response.status_code == 422  # a different meaning for a built-in code
