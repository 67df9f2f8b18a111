"""The HAPI FHIR JPA peer of ``tests/peers/hapi_server.py``, built, started and used on loopback.

Checks what the benchmarks need of their HAPI peer: a transaction Bundle
(https://hl7.org/fhir/R4/http.html#transaction) with a conditional create
(https://hl7.org/fhir/R4/http.html#ccreate) and a ``urn:uuid`` reference resolved on the way
in (https://hl7.org/fhir/R4/bundle.html#bundle-unique), read back, a search by patient, and
``Patient/$everything`` (https://hl7.org/fhir/R4/patient-operation-everything.html).

Building (Maven, a JDK 17; once, into ``var/hapi``) and starting HAPI take a few minutes,
which ``make test`` spends once (the session's ``hapi_peer``, shared with the sync tests) so
that the benchmarks' and the sync tests' peer is known to work.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.peers.fixtures import Peer

FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def hapi(hapi_peer: Peer) -> Iterator[httpx.Client]:
    """A client on the session's HAPI server (shared: the tests' data is their own by a fresh
    identifier or id)."""
    with httpx.Client(base_url=hapi_peer.base_url, timeout=60) as client:
        yield client


def transaction(identifier: str) -> dict[str, Any]:
    """A Patient created only if none has ``identifier``, and an Observation pointing at it."""
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": patient_url,
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:fhircare:test", "value": identifier}],
                    "name": [{"family": "Hapi", "given": ["Test"]}],
                },
                "request": {
                    "method": "POST",
                    "url": "Patient",
                    "ifNoneExist": f"identifier=urn:fhircare:test|{identifier}",
                },
            },
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                    "subject": {"reference": patient_url},
                    "valueQuantity": {"value": 72, "unit": "/min"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }


def post_transaction(client: httpx.Client, identifier: str) -> list[dict[str, Any]]:
    """The ``response`` of each entry of the transaction for ``identifier``."""
    response = client.post("", json=transaction(identifier), headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "transaction-response"
    return [entry["response"] for entry in bundle["entry"]]


def resource_id(location: str) -> str:
    """``Patient/123`` of ``Patient/123/_history/1``."""
    resource_type, id_, *_ = location.split("/")
    return f"{resource_type}/{id_}"


def test_transaction_then_read_search_and_everything(hapi: httpx.Client) -> None:
    identifier = uuid.uuid4().hex
    created = post_transaction(hapi, identifier)
    assert [r["status"].split()[0] for r in created] == ["201", "201"]
    patient, observation = (resource_id(r["location"]) for r in created)

    read = hapi.get(observation)
    assert read.status_code == 200
    assert read.json()["subject"]["reference"] == patient

    again = post_transaction(hapi, identifier)
    assert again[0]["status"].split()[0] == "200"
    assert resource_id(again[0]["location"]) == patient
    second_observation = resource_id(again[1]["location"])

    search = hapi.get("Observation", params={"patient": patient})
    assert search.status_code == 200
    found = {f"Observation/{e['resource']['id']}" for e in search.json().get("entry", [])}
    assert found == {observation, second_observation}

    everything = hapi.get(f"{patient}/$everything")
    assert everything.status_code == 200
    compartment = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in everything.json().get("entry", [])
    }
    assert compartment == {patient, observation, second_observation}


def test_client_assigned_id_history_and_last_updated_sort(hapi: httpx.Client) -> None:
    patient_id = f"hapi-{uuid.uuid4().hex[:12]}"
    for family in ("First", "Second"):
        body = {"resourceType": "Patient", "id": patient_id, "name": [{"family": family}]}
        response = hapi.put(f"Patient/{patient_id}", json=body, headers=FHIR_JSON)
        assert response.status_code in (200, 201), response.text

    history = hapi.get(f"Patient/{patient_id}/_history").json()
    assert history["type"] == "history"
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]

    newest = hapi.get("Patient", params={"_sort": "-_lastUpdated", "_count": "1"}).json()
    assert newest["entry"][0]["resource"]["id"] == patient_id
