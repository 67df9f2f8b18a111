"""Every care-coordination type can be created, read, updated, patched and deleted.

https://hl7.org/fhir/R4/http.html, exercised once per type of the care-coordination set.
"""

from __future__ import annotations

import httpx
import pytest

from tests.unit.validation.minimal_resources import MINIMAL, minimal

FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.mark.parametrize("resource_type", sorted(MINIMAL))
async def test_type_round_trip(client: httpx.AsyncClient, resource_type: str) -> None:
    body = {k: v for k, v in minimal(resource_type).items() if k != "id"}
    created = await client.post(f"/{resource_type}", json=body, headers=FHIR_JSON)
    assert created.status_code == 201, created.text
    id = created.json()["id"]
    read = (await client.get(f"/{resource_type}/{id}")).json()
    assert {k: v for k, v in read.items() if k not in ("id", "meta")} == body
    updated = await client.put(
        f"/{resource_type}/{id}",
        json={**body, "id": id, "language": "en"},
        headers={**FHIR_JSON, "If-Match": 'W/"1"'},
    )
    assert updated.status_code == 200 and updated.json()["language"] == "en"
    patched = await client.patch(
        f"/{resource_type}/{id}",
        json=[{"op": "replace", "path": "/language", "value": "fr"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 200 and patched.json()["meta"]["versionId"] == "3"
    assert (await client.delete(f"/{resource_type}/{id}")).status_code == 200
    assert (await client.get(f"/{resource_type}/{id}")).status_code == 410
