"""Building batch and transaction Bundles, and reading their answers, for the HTTP tests."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def entry(
    method: str,
    url: str,
    resource: dict[str, Any] | None = None,
    full_url: str | None = None,
    **request: str,
) -> dict[str, Any]:
    """A ``Bundle.entry``; ``request`` holds ifMatch, ifNoneExist … as named in FHIR."""
    item: dict[str, Any] = {"request": {"method": method, "url": url, **request}}
    if full_url is not None:
        item["fullUrl"] = full_url
    if resource is not None:
        item["resource"] = resource
    return item


def patch_entry(url: str, operations: list[dict[str, Any]], **request: str) -> dict[str, Any]:
    """A PATCH entry: the JSON Patch inside a Binary (http.html#transaction)."""
    binary = {
        "resourceType": "Binary",
        "contentType": "application/json-patch+json",
        "data": base64.b64encode(json.dumps(operations).encode()).decode(),
    }
    return entry("PATCH", url, binary, **request)


def bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


async def post_bundle(
    client: httpx.AsyncClient, document: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post("", json=document, headers={**FHIR_JSON, **(headers or {})})


def statuses(response: httpx.Response) -> list[int]:
    """The status code of each response entry."""
    return [int(e["response"]["status"].split()[0]) for e in response.json()["entry"]]


def target(answer: dict[str, Any]) -> str:
    """``Type/id`` of a response entry, from its location."""
    return str(answer["response"]["location"]).split("/_history/")[0]


async def count(client: httpx.AsyncClient, resource_type: str) -> int:
    response = await client.get(f"/{resource_type}", params={"_summary": "count"})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def counts(client: httpx.AsyncClient, *types: str) -> dict[str, int]:
    return {t: await count(client, t) for t in types}


def patient(family: str, identifier: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "name": [{"family": family}]}
    if identifier is not None:
        resource["identifier"] = [{"system": "http://example.org/mrn", "value": identifier}]
    return resource


def task(id: str | None = None, description: str = "Call the patient", **fields: Any) -> dict:
    resource: dict[str, Any] = {"resourceType": "Task"}
    if id is not None:
        resource["id"] = id
    resource.update(
        {"status": "requested", "intent": "order", "description": description, **fields}
    )
    return resource


def outcome_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body
