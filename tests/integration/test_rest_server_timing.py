"""``Server-Timing`` on writes when ``FHIRCARE_SERVER_TIMING`` is on.

https://www.w3.org/TR/server-timing/: ``metric;dur=<milliseconds>`` entries, comma separated.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from fhircare.rest.server_timing import header_value
from fhircare.settings import Settings
from fhircare.storage.memory import MemoryStore

FHIR_JSON = {"Content-Type": "application/fhir+json"}
PATIENT = {"resourceType": "Patient", "name": [{"family": "Okafor"}], "gender": "female"}
METRIC = re.compile(r"(?P<name>[a-z]+);dur=(?P<ms>\d+\.\d{3})")


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from fhircare.app import create_app

    app = create_app(settings, MemoryStore())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
            yield http


@pytest.fixture
async def timed() -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(Settings(server_timing=True)):
        yield http


def metrics(response: httpx.Response) -> dict[str, float]:
    header = response.headers["server-timing"]
    found = {m["name"]: float(m["ms"]) for m in METRIC.finditer(header)}
    assert ", ".join(f"{k};dur={v:.3f}" for k, v in found.items()) == header
    return found


async def test_a_create_reports_its_phases_and_total(timed: httpx.AsyncClient) -> None:
    response = await timed.post("/Patient", json=PATIENT, headers=FHIR_JSON)
    assert response.status_code == 201
    found = metrics(response)
    assert list(found) == ["parse", "validate", "index", "store", "total"]
    assert 0 < found["validate"] < found["total"]
    assert 0 < found["store"] < found["total"]
    assert found["parse"] + found["validate"] + found["index"] + found["store"] <= found["total"]


async def test_an_invalid_write_still_says_where_the_time_went(timed: httpx.AsyncClient) -> None:
    response = await timed.post("/Patient", json={**PATIENT, "gender": "x"}, headers=FHIR_JSON)
    assert response.status_code == 400
    assert list(metrics(response)) == ["parse", "validate", "total"]


async def test_a_transaction_adds_up_its_entries(timed: httpx.AsyncClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": PATIENT, "request": {"method": "POST", "url": "Patient"}}] * 3,
    }
    response = await timed.post("", json=bundle, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    assert {"parse", "validate", "index", "store", "total"} <= set(metrics(response))


async def test_reads_carry_no_header_deletes_store_and_total(timed: httpx.AsyncClient) -> None:
    created = (await timed.post("/Patient", json=PATIENT, headers=FHIR_JSON)).json()
    read = await timed.get(f"/Patient/{created['id']}")
    assert read.status_code == 200 and "server-timing" not in read.headers
    deleted = await timed.delete(f"/Patient/{created['id']}")
    assert list(metrics(deleted)) == ["store", "total"]


async def test_off_by_default() -> None:
    async for http in _client(Settings()):
        response = await http.post("/Patient", json=PATIENT, headers=FHIR_JSON)
        assert response.status_code == 201 and "server-timing" not in response.headers


def test_header_value_is_milliseconds() -> None:
    assert header_value({"validate": 0.0004125}, 0.0021) == "validate;dur=0.412, total;dur=2.100"
