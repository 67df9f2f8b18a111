"""What a client writes is what it reads back: element order, decimals and instants.

https://hl7.org/fhir/R4/json.html (decimal precision is significant).
"""

from __future__ import annotations

import httpx

OBSERVATION = (
    b'{"resourceType":"Observation","status":"final",'
    b'"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},'
    b'"subject":{"reference":"Patient/p1"},'
    b'"effectiveDateTime":"2026-09-14T09:30:00.031Z",'
    b'"valueQuantity":{"value":7.00,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}'
)


async def test_decimals_instants_and_order_survive(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/Observation", content=OBSERVATION, headers={"Content-Type": "application/fhir+json"}
    )
    assert created.status_code == 201, created.text
    id = created.json()["id"]
    read = await client.get(f"/Observation/{id}")
    text = read.content
    assert b'"value":7.00' in text and b'"2026-09-14T09:30:00.031Z"' in text
    keys = list(read.json())
    assert keys == [
        "resourceType",
        "id",
        "meta",
        "status",
        "code",
        "subject",
        "effectiveDateTime",
        "valueQuantity",
    ]
    pretty = await client.get(f"/Observation/{id}", params={"_pretty": "true"})
    assert b'"value": 7.00' in pretty.content and b"\n  " in pretty.content
    history = await client.get(f"/Observation/{id}/_history")
    assert b'"value":7.00' in history.content
