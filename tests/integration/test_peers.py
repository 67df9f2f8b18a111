"""The live peers of ``tests/peers/fixtures.py`` answer what the sync engine's pull reads.

On HAPI FHIR JPA 8.8.0 and on a second fhircare: update as create with a client id
(https://hl7.org/fhir/R4/http.html#upsert), read (https://hl7.org/fhir/R4/http.html#read),
delete (https://hl7.org/fhir/R4/http.html#delete), and ``_history`` at type and system level
with ``_since`` (https://hl7.org/fhir/R4/http.html#history) showing the deletion as an entry
with ``request.method`` DELETE, an absolute ``fullUrl`` and no resource.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.peers.fixtures import Peer

FHIR_JSON = {"Content-Type": "application/fhir+json"}
TAG_SYSTEM = "urn:fhircare:test:peers"


@pytest.fixture(params=["hapi_peer", "fhircare_peer"])
def peer(request: pytest.FixtureRequest) -> Peer:
    peer: Peer = request.getfixturevalue(request.param)
    return peer


def entries_for(bundle: dict[str, Any], base_url: str, reference: str) -> list[dict[str, Any]]:
    """The history entries of ``reference`` (``Patient/123``), newest first."""
    assert bundle["type"] == "history"
    full_url = f"{base_url}/{reference}"
    return [e for e in bundle.get("entry", []) if e["fullUrl"] == full_url]


def test_create_read_delete_then_history_since_shows_the_delete(peer: Peer) -> None:
    patient_id = str(uuid.uuid4())
    reference = f"Patient/{patient_id}"
    tag = {"system": TAG_SYSTEM, "code": uuid.uuid4().hex}
    body = {"resourceType": "Patient", "id": patient_id, "meta": {"tag": [tag]}, "active": True}
    with httpx.Client(base_url=peer.base_url, timeout=60) as client:
        created = client.put(reference, json=body, headers=FHIR_JSON)
        assert created.status_code == 201, created.text
        # the peer's own clock, so that _since does not depend on this machine's
        since = created.json()["meta"]["lastUpdated"]

        read = client.get(reference)
        assert read.status_code == 200
        assert read.json()["active"] is True
        found = client.get("Patient", params={"_tag": f"{tag['system']}|{tag['code']}"})
        assert [e["resource"]["id"] for e in found.json()["entry"]] == [patient_id]

        deleted = client.delete(reference)
        assert deleted.status_code in (200, 204), deleted.text
        assert client.get(reference).status_code == 410

        for path in ("Patient/_history", "_history"):
            history = client.get(path, params={"_since": since})
            assert history.status_code == 200, history.text
            newest, oldest = entries_for(history.json(), peer.base_url, reference)
            assert newest["request"]["method"] == "DELETE"
            assert "resource" not in newest
            assert newest["response"]["etag"] == 'W/"2"'
            assert oldest["resource"]["meta"]["versionId"] == "1"
