"""``Patient/$everything`` over HTTP, on every store.

https://hl7.org/fhir/R4/patient-operation-everything.html: the patient, its compartment
(https://hl7.org/fhir/R4/compartmentdefinition-patient.html) and the resources those refer
to; ``start``/``end``, ``_since``, ``_type`` and ``_count`` (GET query and POST
Parameters); paging (https://hl7.org/fhir/R4/http.html#paging); 404, 410 and 400 as
OperationOutcomes (https://hl7.org/fhir/R4/operationoutcome.html).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from fhircare.fhir.ids import format_instant

FHIR_JSON = {"Content-Type": "application/fhir+json"}
ANN = "Patient/pat-ann"
BOB = "Patient/pat-bob"


def ref(key: str) -> dict[str, str]:
    return {"reference": key}


def care_scenario() -> list[dict[str, Any]]:
    """A care manager's patient (Ann) with plan, goals, tasks, a condition, observations and
    a message, the nurse and clinic they refer to, and another patient (Bob) with his own."""
    nurse, clinic = ref("Practitioner/prac-nurse"), ref("Organization/org-clinic")
    return [
        {"resourceType": "Organization", "id": "org-clinic", "name": "Riverside Clinic"},
        {"resourceType": "Organization", "id": "org-unused", "name": "Nobody's"},
        {"resourceType": "Practitioner", "id": "prac-nurse", "name": [{"family": "Okafor"}]},
        {"resourceType": "Practitioner", "id": "prac-bob-only", "name": [{"family": "Novak"}]},
        {
            "resourceType": "Patient",
            "id": "pat-ann",
            "name": [{"family": "Whitaker", "given": ["Ann"]}],
            "managingOrganization": clinic,
            "generalPractitioner": [nurse],
        },
        {
            "resourceType": "Patient",
            "id": "pat-bob",
            "name": [{"family": "Baker", "given": ["Bob"]}],
            "managingOrganization": clinic,
        },
        {
            "resourceType": "CarePlan",
            "id": "cp-ann",
            "status": "active",
            "intent": "plan",
            "subject": ref(ANN),
            "author": nurse,
            "period": {"start": "2026-01-01", "end": "2026-06-30"},
        },
        {
            "resourceType": "Goal",
            "id": "goal-ann-a1c",
            "lifecycleStatus": "active",
            "description": {"text": "HbA1c below 7%"},
            "subject": ref(ANN),
        },
        {
            "resourceType": "Goal",
            "id": "goal-ann-walk",
            "lifecycleStatus": "active",
            "description": {"text": "Walk 30 minutes a day"},
            "subject": ref(ANN),
        },
        *(
            {
                "resourceType": "Task",
                "id": f"task-ann-{n}",
                "status": "requested",
                "intent": "order",
                "for": ref(ANN),
                "focus": ref("CarePlan/cp-ann"),
                "basedOn": [ref("CarePlan/cp-ann")],
                "owner": nurse,
            }
            for n in (1, 2, 3)
        ),
        {
            "resourceType": "Condition",
            "id": "cond-ann-t2dm",
            "code": {"text": "Type 2 diabetes"},
            "subject": ref(ANN),
            "asserter": nurse,
        },
        {
            "resourceType": "Observation",
            "id": "obs-ann-2026-02",
            "status": "final",
            "code": {"text": "HbA1c"},
            "subject": ref(ANN),
            "effectiveDateTime": "2026-02-10T09:00:00Z",
            "performer": [clinic],
        },
        {
            "resourceType": "Observation",
            "id": "obs-ann-2026-09",
            "status": "final",
            "code": {"text": "HbA1c"},
            "subject": ref(ANN),
            "effectiveDateTime": "2026-09-01T09:00:00Z",
        },
        {
            "resourceType": "Communication",
            "id": "comm-ann",
            "status": "completed",
            "subject": ref(ANN),
            "sender": nurse,
            "recipient": [ref(ANN)],
            "payload": [{"contentString": "Your next check-up is on Monday"}],
        },
        {
            "resourceType": "CarePlan",
            "id": "cp-bob",
            "status": "active",
            "intent": "plan",
            "subject": ref(BOB),
        },
        {
            "resourceType": "Task",
            "id": "task-bob",
            "status": "requested",
            "intent": "order",
            "for": ref(BOB),
            "owner": ref("Practitioner/prac-bob-only"),
        },
        {
            "resourceType": "Observation",
            "id": "obs-bob",
            "status": "final",
            "code": {"text": "HbA1c"},
            "subject": ref(BOB),
            "performer": [nurse],
        },
    ]


ANN_RECORDS = {
    ANN,
    "CarePlan/cp-ann",
    "Goal/goal-ann-a1c",
    "Goal/goal-ann-walk",
    "Task/task-ann-1",
    "Task/task-ann-2",
    "Task/task-ann-3",
    "Condition/cond-ann-t2dm",
    "Observation/obs-ann-2026-02",
    "Observation/obs-ann-2026-09",
    "Communication/comm-ann",
}
SUPPORTING = {"Practitioner/prac-nurse", "Organization/org-clinic"}


@pytest.fixture
async def care(client: httpx.AsyncClient) -> httpx.AsyncClient:
    for resource in care_scenario():
        key = f"{resource['resourceType']}/{resource['id']}"
        response = await client.put(f"/{key}", json=resource, headers=FHIR_JSON)
        assert response.status_code == 201, response.text
    return client


def key_of(entry: dict[str, Any]) -> str:
    return f"{entry['resource']['resourceType']}/{entry['resource']['id']}"


def by_mode(bundle: dict[str, Any], mode: str) -> list[str]:
    return [key_of(e) for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((x["url"] for x in bundle["link"] if x["relation"] == relation), None)


async def everything(client: httpx.AsyncClient, url: str, **params: str) -> dict[str, Any]:
    response = await client.get(url, params=params or None)  # {} would drop url's query
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return bundle


async def walk(client: httpx.AsyncClient, url: str, **params: str) -> list[dict[str, Any]]:
    """Every page, following ``next``."""
    pages = [await everything(client, url, **params)]
    while (following := link(pages[-1], "next")) is not None:
        pages.append(await everything(client, following))
    return pages


async def test_the_patient_its_compartment_and_what_that_refers_to(
    care: httpx.AsyncClient,
) -> None:
    bundle = await everything(care, f"/{ANN}/$everything")
    matches = by_mode(bundle, "match")
    assert matches[0] == ANN
    assert sorted(matches) == sorted(ANN_RECORDS)
    assert sorted(by_mode(bundle, "include")) == sorted(SUPPORTING)
    assert bundle["total"] == len(ANN_RECORDS)
    assert link(bundle, "next") is None
    assert link(bundle, "self") == "http://test/fhir/Patient/pat-ann/$everything?_count=20"
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"http://test/fhir/{key_of(entry)}"
    # Bob's records and what only they refer to stay out; so does the unreferenced clinic
    everything_keys = {key_of(e) for e in bundle["entry"]}
    assert not everything_keys & {BOB, "CarePlan/cp-bob", "Task/task-bob", "Observation/obs-bob"}
    assert not everything_keys & {"Practitioner/prac-bob-only", "Organization/org-unused"}


async def test_paging_lists_every_match_exactly_once(care: httpx.AsyncClient) -> None:
    first = await everything(care, f"/{ANN}/$everything", _count="3")
    assert len(by_mode(first, "match")) == 3 and by_mode(first, "match")[0] == ANN
    # written during the walk: a new record is not listed, a changed one is listed once
    new = {
        "resourceType": "Goal",
        "id": "goal-ann-late",
        "lifecycleStatus": "proposed",
        "description": {"text": "Late"},
        "subject": ref(ANN),
    }
    assert (await care.put("/Goal/goal-ann-late", json=new, headers=FHIR_JSON)).status_code == 201
    changed = next(r for r in care_scenario() if r["id"] == "task-ann-3")
    changed["status"] = "accepted"
    assert (await care.put("/Task/task-ann-3", json=changed, headers=FHIR_JSON)).status_code == 200
    pages = [first]
    while (following := link(pages[-1], "next")) is not None:
        pages.append(await everything(care, following))
    matches = [key for page in pages for key in by_mode(page, "match")]
    assert Counter(matches) == Counter(ANN_RECORDS)
    assert len(pages) == 4 and all(len(by_mode(p, "match")) <= 3 for p in pages)
    assert pages[0]["total"] == len(ANN_RECORDS)
    for page in pages:
        assert set(by_mode(page, "include")) <= SUPPORTING
        assert len(by_mode(page, "include")) == len(set(by_mode(page, "include")))
        assert "_count=3" in link(page, "self")  # type: ignore[operator]
    # a fresh walk sees the new goal
    fresh = [
        k for p in await walk(care, f"/{ANN}/$everything", _count="4") for k in by_mode(p, "match")
    ]
    assert Counter(fresh) == Counter(ANN_RECORDS | {"Goal/goal-ann-late"})


async def test_count_one_and_zero(care: httpx.AsyncClient) -> None:
    pages = await walk(care, f"/{ANN}/$everything", _count="1")
    assert by_mode(pages[0], "match") == [ANN]
    assert sorted(k for p in pages for k in by_mode(p, "match")) == sorted(ANN_RECORDS)
    counted = await everything(care, f"/{ANN}/$everything", _count="0")
    assert counted["total"] == len(ANN_RECORDS) and not counted.get("entry")
    assert link(counted, "next") is None
    capped = await everything(care, f"/{ANN}/$everything", _count="100000")
    assert "_count=50" in link(capped, "self")  # type: ignore[operator]  # max_count


async def test_type_restricts_matches_and_includes(care: httpx.AsyncClient) -> None:
    bundle = await everything(care, f"/{ANN}/$everything", _type="Observation,Practitioner")
    assert sorted(by_mode(bundle, "match")) == [
        "Observation/obs-ann-2026-02",
        "Observation/obs-ann-2026-09",
    ]
    assert by_mode(bundle, "include") == []  # the Observations name only the clinic
    assert bundle["total"] == 2
    tasks = await everything(care, f"/{ANN}/$everything?_type=Task&_type=Practitioner,Patient")
    assert by_mode(tasks, "match") == [ANN, "Task/task-ann-1", "Task/task-ann-2", "Task/task-ann-3"]
    assert by_mode(tasks, "include") == ["Practitioner/prac-nurse"]
    assert "_type=Task%2CPractitioner%2CPatient" in link(tasks, "self")  # type: ignore[operator]
    nothing = await everything(care, f"/{ANN}/$everything", _type="Organization")
    assert nothing.get("entry", []) == [] and nothing["total"] == 0


async def test_since_keeps_what_changed(care: httpx.AsyncClient) -> None:
    await asyncio.sleep(0.01)
    since = format_instant(datetime.now(UTC))
    await asyncio.sleep(0.01)
    goal = next(r for r in care_scenario() if r["id"] == "goal-ann-walk")
    goal["lifecycleStatus"] = "completed"
    assert (await care.put("/Goal/goal-ann-walk", json=goal, headers=FHIR_JSON)).status_code == 200
    bundle = await everything(care, f"/{ANN}/$everything", _since=since)
    assert by_mode(bundle, "match") == ["Goal/goal-ann-walk"]
    assert bundle["total"] == 1
    assert by_mode(bundle, "include") == []  # a Goal refers to nothing supporting here
    again = await everything(care, f"/{ANN}/$everything", _since="2000-01-01")
    assert sorted(by_mode(again, "match")) == sorted(ANN_RECORDS)


async def test_care_dates_filter_the_types_with_a_clinical_date(care: httpx.AsyncClient) -> None:
    undated = ANN_RECORDS - {"CarePlan/cp-ann", *(f"Observation/obs-ann-2026-0{m}" for m in (2, 9))}
    late = await everything(care, f"/{ANN}/$everything", start="2026-08")
    assert sorted(by_mode(late, "match")) == sorted(undated | {"Observation/obs-ann-2026-09"})
    early = await everything(care, f"/{ANN}/$everything", end="2026-03-01")
    assert sorted(by_mode(early, "match")) == sorted(
        undated | {"CarePlan/cp-ann", "Observation/obs-ann-2026-02"}
    )
    spring = await everything(care, f"/{ANN}/$everything", start="2026-03", end="2026-06-30")
    assert sorted(by_mode(spring, "match")) == sorted(undated | {"CarePlan/cp-ann"})
    assert "start=2026-03&end=2026-06-30" in link(spring, "self")  # type: ignore[operator]


async def test_post_takes_a_parameters_resource(care: httpx.AsyncClient) -> None:
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_type", "valueCode": "Task"},
            {"name": "_type", "valueCode": "Goal,Practitioner"},
            {"name": "_count", "valueInteger": 2},
        ],
    }
    response = await care.post(f"/{ANN}/$everything", json=parameters, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    first = response.json()
    assert by_mode(first, "match") == ["Goal/goal-ann-a1c", "Goal/goal-ann-walk"]
    following = link(first, "next")
    assert following is not None and "_type=Task%2CGoal%2CPractitioner" in following
    rest = await walk(care, following)
    later = [k for p in rest for k in by_mode(p, "match")]
    assert later == ["Task/task-ann-1", "Task/task-ann-2", "Task/task-ann-3"]
    assert first["total"] == 5
    empty = await care.post(f"/{ANN}/$everything", content=b"", headers=FHIR_JSON)
    assert empty.status_code == 200 and sorted(by_mode(empty.json(), "match")) == sorted(
        ANN_RECORDS
    )


async def test_every_patient_at_type_level(care: httpx.AsyncClient) -> None:
    pages = await walk(care, "/Patient/$everything", _count="5")
    matches = [k for p in pages for k in by_mode(p, "match")]
    bob = {BOB, "CarePlan/cp-bob", "Task/task-bob", "Observation/obs-bob"}
    assert Counter(matches) == Counter(ANN_RECORDS | bob)
    includes = {k for p in pages for k in by_mode(p, "include")}
    assert includes == SUPPORTING | {"Practitioner/prac-bob-only"}
    assert all("total" not in p for p in pages)


async def assert_outcome(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    outcome: dict[str, Any] = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == code
    return outcome


async def test_unknown_and_deleted_patients(care: httpx.AsyncClient) -> None:
    await assert_outcome(await care.get("/Patient/nobody/$everything"), 404, "not-found")
    await assert_outcome(await care.post("/Patient/nobody/$everything"), 404, "not-found")
    assert (await care.delete(f"/{BOB}")).status_code == 200
    await assert_outcome(await care.get(f"/{BOB}/$everything"), 410, "deleted")
    await assert_outcome(await care.get("/Observation/obs-bob/$everything"), 404, "not-found")
    refused = await care.put(f"/{ANN}/$everything", json={}, headers=FHIR_JSON)
    await assert_outcome(refused, 405, "not-supported")
    assert refused.headers["Allow"] == "GET, POST"


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("start=yesterday", "start"),
        ("end=2026-13-01", "end"),
        ("_since=soon", "_since"),
        ("_count=-1", "_count"),
        ("_count=ten", "_count"),
        ("_type=Observation,Nope", "_type"),
        ("start=2026-05&end=2026-04", "start"),
        ("start=2026&start=2027", "start"),
        ("_cursor=not-a-cursor", "_cursor"),
    ],
)
async def test_bad_parameters_are_400(care: httpx.AsyncClient, query: str, expression: str) -> None:
    outcome = await assert_outcome(await care.get(f"/{ANN}/$everything?{query}"), 400, "invalid")
    assert outcome["issue"][0]["expression"] == [expression]


async def test_bad_bodies_and_unknown_parameters(care: httpx.AsyncClient) -> None:
    url = f"/{ANN}/$everything"
    patient = {"resourceType": "Patient"}
    await assert_outcome(await care.post(url, json=patient, headers=FHIR_JSON), 400, "invalid")
    await assert_outcome(await care.post(url, content=b"{", headers=FHIR_JSON), 400, "structure")
    wrong = {"resourceType": "Parameters", "parameter": [{"name": "_count", "valueString": "2"}]}
    await assert_outcome(await care.post(url, json=wrong, headers=FHIR_JSON), 400, "invalid")
    xml = {"Content-Type": "application/fhir+xml"}
    assert (await care.post(url, content=b"<Parameters/>", headers=xml)).status_code == 415
    lenient = await everything(care, url, frobnicate="1", _count="50")
    outcomes = [e for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert outcomes and "frobnicate" in outcomes[0]["resource"]["issue"][0]["diagnostics"]
    assert "frobnicate" not in link(lenient, "self")  # type: ignore[operator]
    strict = await care.get(url, params={"frobnicate": "1"}, headers={"Prefer": "handling=strict"})
    await assert_outcome(strict, 400, "not-supported")


async def test_the_capability_statement_declares_it(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    assert {
        "name": "everything",
        "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
    } in patient["operation"]
    task = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Task")
    assert all(op["name"] != "everything" for op in task["operation"])
