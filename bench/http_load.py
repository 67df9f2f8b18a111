"""The HTTP side: creates, reads, updates, histories, transactions and conditional creates
through any FHIR R4 server with httpx.

One pooled ``httpx.AsyncClient`` serves the whole run; its pool holds at least as many
connections as the highest concurrency, so no call waits for a connection.
"""

from __future__ import annotations

import json
import re
import uuid

import httpx

from bench.runner import Operation

FHIR_JSON = "application/fhir+json"

OBSERVATION: dict[str, object] = {
    "resourceType": "Observation",
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "laboratory",
                    "display": "Laboratory",
                }
            ]
        }
    ],
    "code": {
        "coding": [
            {
                "system": "http://loinc.org",
                "code": "4548-4",
                "display": "Hemoglobin A1c/Hemoglobin.total in Blood",
            }
        ],
        "text": "HbA1c",
    },
    "subject": {"reference": "Patient/bench-patient", "display": "Bench Patient"},
    "effectiveDateTime": "2026-03-16T08:45:00-05:00",
    "issued": "2026-03-16T14:02:00-05:00",
    "performer": [{"reference": "Organization/bench-lab", "display": "Bench Laboratory"}],
    "valueQuantity": {
        "value": 8.1,
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    },
    "interpretation": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                    "code": "H",
                    "display": "High",
                }
            ]
        }
    ],
    "referenceRange": [
        {
            "low": {"value": 4.0, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
            "high": {"value": 5.6, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
            "text": "Non-diabetic range 4.0-5.6%",
        }
    ],
}
VALUE: dict[str, object] = OBSERVATION["valueQuantity"]  # type: ignore[assignment]
BODY: str = json.dumps(OBSERVATION, separators=(",", ":"))
"""The request body of every create (about 1 KB), and the string raw pymongo stores."""

_LOCATION_ID = re.compile(r"/Observation/([A-Za-z0-9\-.]{1,64})(?:/_history/|$)")


def created_id(response: httpx.Response) -> str | None:
    """The id a create assigned: from ``Location``, else from the returned resource."""
    match = _LOCATION_ID.search(response.headers.get("location", ""))
    if match:
        return match.group(1)
    try:
        resource = response.json()
    except ValueError:
        return None
    return resource.get("id") if isinstance(resource, dict) else None


def client(base_url: str, connections: int) -> httpx.AsyncClient:
    """The one pooled client of the run."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        limits=limits,
        timeout=httpx.Timeout(30.0),
        headers={"Accept": FHIR_JSON},
    )


def _problem(response: httpx.Response, expected: int) -> str:
    return f"{response.request.method} {response.url.path}: {response.status_code} (expected {expected}) {response.text[:300]}"  # noqa: E501


def create_operation(http: httpx.AsyncClient, ids: list[str]) -> Operation:
    """POST /Observation; 201 with an id is success and the id is appended to ``ids``."""
    body = BODY.encode()
    headers = {"Content-Type": FHIR_JSON}

    async def create(_: int) -> str | None:
        response = await http.post("/Observation", content=body, headers=headers)
        if response.status_code != 201:
            return _problem(response, 201)
        new_id = created_id(response)
        if new_id is None:
            return "201 without an id in Location or the body"
        ids.append(new_id)
        return None

    return create


def read_operation(http: httpx.AsyncClient, ids: list[str]) -> Operation:
    """GET /Observation/{id} of ``ids`` in turn; 200 is success."""

    async def read(index: int) -> str | None:
        response = await http.get(f"/Observation/{ids[index % len(ids)]}")
        return None if response.status_code == 200 else _problem(response, 200)

    return read


def transaction_body(entries: int, run: str, n: int) -> bytes:
    """A transaction: a new Patient by ``urn:uuid`` and ``entries - 1`` Observations of it."""
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:bench", "value": f"{run}-tx-{n}"}],
    }
    observation = {**OBSERVATION, "subject": {"reference": patient_url}}
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": patient_url,
                "resource": patient,
                "request": {"method": "POST", "url": "Patient"},
            }
        ]
        + [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": observation,
                "request": {"method": "POST", "url": "Observation"},
            }
            for _ in range(entries - 1)
        ],
    }
    return json.dumps(bundle, separators=(",", ":")).encode()


def transaction_operation(http: httpx.AsyncClient, entries: int, run: str) -> Operation:
    """POST [base] with a transaction of ``entries`` creates; 200 with every entry 201."""
    headers = {"Content-Type": FHIR_JSON, "Prefer": "return=minimal"}

    async def transact(index: int) -> str | None:
        body = transaction_body(entries, run, index)
        response = await http.post("", content=body, headers=headers)
        if response.status_code != 200:
            return _problem(response, 200)
        statuses = [e.get("response", {}).get("status", "") for e in response.json()["entry"]]
        if len(statuses) != entries or not all(s.startswith("201") for s in statuses):
            return f"transaction-response statuses {sorted(set(statuses))[:3]}"
        return None

    return transact


def conditional_patient(run: str, index: int) -> tuple[bytes, str]:
    """A Patient with one identifier, and the ``If-None-Exist`` query that selects it."""
    value = f"{run}-{index}"
    patient = {"resourceType": "Patient", "identifier": [{"system": "urn:bench", "value": value}]}
    return json.dumps(patient).encode(), f"identifier=urn:bench|{value}"


def conditional_create_operation(http: httpx.AsyncClient, run: str) -> Operation:
    """POST /Patient with ``If-None-Exist`` on a new identifier; 201 is success."""

    async def create(index: int) -> str | None:
        body, condition = conditional_patient(run, index)
        headers = {"Content-Type": FHIR_JSON, "If-None-Exist": condition}
        response = await http.post("/Patient", content=body, headers=headers)
        return None if response.status_code == 201 else _problem(response, 201)

    return create


def update_operation(http: httpx.AsyncClient, ids: list[str]) -> Operation:
    """PUT /Observation/{id} of ``ids`` in turn with a changed value; 200 is success."""
    headers = {"Content-Type": FHIR_JSON, "Prefer": "return=minimal"}

    async def update(index: int) -> str | None:
        id = ids[index % len(ids)]
        body = {**OBSERVATION, "id": id, "valueQuantity": {**VALUE, "value": 5 + index % 50}}
        response = await http.put(f"/Observation/{id}", json=body, headers=headers)
        return None if response.status_code == 200 else _problem(response, 200)

    return update


def history_operation(http: httpx.AsyncClient, ids: list[str]) -> Operation:
    """GET /Observation/{id}/_history of ``ids`` in turn; 200 with a history Bundle."""

    async def history(index: int) -> str | None:
        response = await http.get(f"/Observation/{ids[index % len(ids)]}/_history")
        if response.status_code != 200:
            return _problem(response, 200)
        return None if response.json().get("type") == "history" else "not a history Bundle"

    return history
