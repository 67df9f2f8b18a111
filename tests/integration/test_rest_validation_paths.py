"""Validation runs where content comes in, once, and nowhere else.

https://hl7.org/fhir/R4/http.html: create, update, patch and each write entry of a batch or
transaction validate their resource (once); read, vread, search, history and delete serve
or remove what is stored, which was validated when written, so they never validate again.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest

from fhircare.settings import Settings
from fhircare.storage.memory import MemoryStore
from fhircare.validation import engines, validator
from fhircare.validation.issues import IssueCollector

FHIR_JSON = {"Content-Type": "application/fhir+json"}
PATIENT = {"resourceType": "Patient", "name": [{"family": "Okafor"}], "gender": "female"}


def care_plan(patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient_id}"},
        "identifier": [{"system": "http://example.org/plans", "value": patient_id}],
    }


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    from fhircare.app import create_app

    app = create_app(Settings(), MemoryStore())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
            yield http


class Counting:
    """Each engine, counting the resources it is given (by resource type)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, engine in list(engines.ENGINES.items()):
            monkeypatch.setitem(engines.ENGINES, name, self._wrap(engine))

    def _wrap(self, engine: engines.Engine) -> engines.Engine:
        def counted(resource: Mapping[str, Any], issues: IssueCollector) -> None:
            self.calls.append(resource["resourceType"])
            engine(resource, issues)

        return counted


def _refuse(*_: Any) -> None:
    raise AssertionError("validation ran")


async def _seed(client: httpx.AsyncClient) -> tuple[str, str]:
    """A Patient and a CarePlan for it (updated once), validated as they are written."""
    patient = (await client.post("/Patient", json=PATIENT, headers=FHIR_JSON)).json()
    created = await client.post("/CarePlan", json=care_plan(patient["id"]), headers=FHIR_JSON)
    plan = created.json()
    updated = await client.put(
        f"/CarePlan/{plan['id']}", json={**plan, "status": "on-hold"}, headers=FHIR_JSON
    )
    assert updated.status_code == 200, updated.text
    return patient["id"], plan["id"]


async def test_reads_searches_histories_and_deletes_never_validate(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient_id, plan_id = await _seed(client)
    for name in list(engines.ENGINES):
        monkeypatch.setitem(engines.ENGINES, name, _refuse)
    monkeypatch.setattr(validator, "walk_resource", _refuse)

    gets = [
        f"/CarePlan/{plan_id}",
        f"/CarePlan/{plan_id}/_history/1",
        f"/CarePlan/{plan_id}/_history",
        "/CarePlan/_history",
        "/_history",
        f"/CarePlan?subject=Patient/{patient_id}&_include=CarePlan:subject",
        f"/Patient?_revinclude=CarePlan:subject&_id={patient_id}",
        "/CarePlan?status=on-hold&_summary=true",
        f"/CarePlan/{plan_id}?_elements=status",
        "/?_type=Patient,CarePlan",
        "/metadata",
    ]
    for url in gets:
        response = await client.get(url)
        assert response.status_code == 200, (url, response.text)
    assert (await client.head(f"/CarePlan/{plan_id}")).status_code == 200
    search = await client.post("/CarePlan/_search", data={"status": "on-hold"})
    assert search.status_code == 200 and search.json()["total"] == 1
    deleted = await client.delete(f"/CarePlan/{plan_id}")
    assert deleted.status_code in (200, 204), deleted.text
    gone = await client.delete(f"/Patient?_id={patient_id}")
    assert gone.status_code in (200, 204), gone.text
    assert (await client.get(f"/CarePlan/{plan_id}/_history/2")).status_code == 200
    # a write does reach the validator: the refusal above was in place
    refused = await client.post("/Patient", json=PATIENT, headers=FHIR_JSON)
    assert refused.status_code == 500


async def test_each_write_validates_its_resource_once(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient_id, plan_id = await _seed(client)
    counting = Counting()
    counting.install(monkeypatch)

    plan = (await client.get(f"/CarePlan/{plan_id}")).json()
    assert (await client.put(f"/CarePlan/{plan_id}", json=plan, headers=FHIR_JSON)).is_success
    patch = [{"op": "replace", "path": "/status", "value": "active"}]
    patched = await client.patch(
        f"/CarePlan/{plan_id}",
        content=json.dumps(patch),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    conditional = await client.put(
        "/CarePlan?identifier=http://example.org/plans|new",
        json={**care_plan(patient_id), "identifier": [{"value": "new"}]},
        headers=FHIR_JSON,
    )
    assert conditional.status_code == 201, conditional.text
    assert counting.calls == ["CarePlan", "CarePlan", "CarePlan"]

    counting.calls.clear()
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
                "resource": PATIENT,
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": care_plan("c757873d-ec9a-4326-a141-556f43239520")
                | {"subject": {"reference": "urn:uuid:c757873d-ec9a-4326-a141-556f43239520"}},
                "request": {"method": "POST", "url": "CarePlan"},
            },
            {
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "application/json-patch+json",
                    "data": base64.b64encode(json.dumps(patch).encode()).decode(),
                },
                "request": {"method": "PATCH", "url": f"CarePlan/{plan_id}"},
            },
            {"request": {"method": "GET", "url": f"CarePlan/{plan_id}"}},
            {"request": {"method": "DELETE", "url": f"Patient/{patient_id}"}},
        ],
    }
    response = await client.post("", json=transaction, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    assert sorted(counting.calls) == ["CarePlan", "CarePlan", "Patient"]
