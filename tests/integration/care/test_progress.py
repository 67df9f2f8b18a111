"""``CarePlan/[id]/$progress`` over HTTP, on every store.

The examples' two plans, and a purpose-built plan with one activity per status source
(its own detail, a Task, a ServiceRequest, Appointments, a resource that is not there, a
Task naming the plan) and one goal per assessment (quantity and range targets), judged at
a pinned ``asOf``; 404, 410 and 400.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fhircare.interactions.request import Limits
from fhircare.interactions.resource_body import check_resource

FHIR_JSON = {"Content-Type": "application/fhir+json"}
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
PATIENT = "Patient/pat-p"
OWNER = {"reference": "PractitionerRole/role-nurse"}
AS_OF = "2026-02-01"
"""After every due date of the plan below but the future ones."""


def ref(key: str) -> dict[str, str]:
    return {"reference": key}


def quantity(value: float, unit: str, comparator: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    if comparator:
        found["comparator"] = comparator
    return found


def concept(code: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code}]}


def observation(id: str, code: str, value: float, unit: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": concept(code),
        "subject": ref(PATIENT),
        "effectiveDateTime": when,
        "valueQuantity": quantity(value, unit),
    }


def goal(id: str, target: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Goal",
        "id": id,
        "lifecycleStatus": "active",
        "description": {"text": id},
        "subject": ref(PATIENT),
        "target": [target],
        **fields,
    }


def scenario() -> list[dict[str, Any]]:
    """The plan of the module's docstring and what it names."""
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": "cp-1",
        "status": "active",
        "intent": "plan",
        "title": "Purpose-built plan",
        "subject": ref(PATIENT),
        "goal": [
            ref("Goal/g-hba1c"),
            ref("Goal/g-bp"),
            ref("Goal/g-weight"),
            ref("Goal/g-walk"),
            ref("Goal/g-no-data"),
            ref("Goal/g-missing"),
        ],
        "activity": [
            {
                "detail": {
                    "status": "not-started",
                    "description": "Call the patient",
                    "scheduledPeriod": {"start": "2026-01-05", "end": "2026-01-10"},
                }
            },
            {
                "detail": {
                    "status": "completed",
                    "code": {"text": "Teach inhaler use"},
                    "scheduledPeriod": {"end": "2026-01-10"},
                }
            },
            {"reference": ref("Task/t-accepted")},
            {"reference": {"reference": "ServiceRequest/sr-revoked", "display": "Rehab"}},
            {"reference": ref("Appointment/ap-noshow")},
            {"reference": ref("Appointment/ap-booked")},
            {"reference": ref("Task/t-missing")},
            {"reference": {"display": "A visit recorded elsewhere"}},
        ],
    }
    tasks: list[dict[str, Any]] = [
        {
            "resourceType": "Task",
            "id": "t-accepted",
            "status": "accepted",
            "intent": "order",
            "owner": OWNER,
            "description": "Home safety visit",
            "for": ref(PATIENT),
            "restriction": {"period": {"end": "2026-01-20T17:00:00Z"}},
        },
        {
            "resourceType": "Task",
            "id": "t-linked",
            "status": "requested",
            "intent": "order",
            "description": "Oxygen assessment",
            "basedOn": [ref("CarePlan/cp-1")],
            "restriction": {"period": {"end": "2026-03-01"}},
        },
        {
            "resourceType": "Task",
            "id": "t-dropped",
            "status": "cancelled",
            "intent": "order",
            "statusReason": {"text": "Not needed"},
            "focus": ref("CarePlan/cp-1"),
        },
        {
            "resourceType": "Task",
            "id": "t-listed",
            "status": "accepted",
            "intent": "order",
            "owner": OWNER,
            "focus": ref("CarePlan/cp-1"),
        },
        {
            "resourceType": "Task",
            "id": "t-other-plan",
            "status": "requested",
            "intent": "order",
            "focus": ref("CarePlan/cp-other"),
        },
    ]
    plan["activity"].append({"reference": ref("Task/t-listed")})
    others: list[dict[str, Any]] = [
        {
            "resourceType": "ServiceRequest",
            "id": "sr-revoked",
            "status": "revoked",
            "intent": "order",
            "subject": ref(PATIENT),
            "occurrencePeriod": {"start": "2026-01-01", "end": "2026-01-31"},
        },
        {
            "resourceType": "Appointment",
            "id": "ap-noshow",
            "status": "noshow",
            "start": "2026-01-12T09:00:00Z",
            "end": "2026-01-12T09:30:00Z",
            "participant": [{"actor": ref(PATIENT), "status": "accepted"}],
        },
        {
            "resourceType": "Appointment",
            "id": "ap-booked",
            "status": "booked",
            "description": "GP review",
            "start": "2026-03-02T09:00:00Z",
            "end": "2026-03-02T09:30:00Z",
            "participant": [{"actor": ref(PATIENT), "status": "accepted"}],
        },
    ]
    goals = [
        goal(
            "g-hba1c",
            {
                "measure": concept("4548-4"),
                "detailQuantity": quantity(7, "%", "<"),
                "dueDate": "2026-12-31",
            },
        ),
        goal(
            "g-bp",
            {
                "measure": concept("8480-6"),
                "detailRange": {"low": quantity(90, "mm[Hg]"), "high": quantity(130, "mm[Hg]")},
                "dueDate": "2026-06-30",
            },
        ),
        goal(
            "g-weight",
            {
                "measure": concept("29463-7"),
                "detailQuantity": quantity(95, "kg", "<="),
                "dueDate": "2026-06-30",
            },
        ),
        goal(
            "g-walk",
            {
                "measure": concept("64098-7"),
                "detailQuantity": quantity(280, "m", ">="),
                "dueDate": "2026-01-15",
            },
        ),
        goal(
            "g-no-data",
            {"measure": concept("2708-6"), "detailQuantity": quantity(92, "%", ">=")},
        ),
    ]
    observations = [
        observation("o-hba1c-1", "4548-4", 7.4, "%", "2025-11-01"),
        observation("o-hba1c-2", "4548-4", 6.8, "%", "2026-01-05"),
        observation("o-bp-1", "8480-6", 150, "mm[Hg]", "2025-12-01"),
        observation("o-bp-2", "8480-6", 140, "mm[Hg]", "2026-01-06"),
        observation("o-weight-1", "29463-7", 97, "kg", "2025-12-01"),
        observation("o-weight-2", "29463-7", 98, "kg", "2026-01-07"),
        observation("o-walk-1", "64098-7", 250, "m", "2026-01-08"),
    ]
    preliminary = observation("o-hba1c-draft", "4548-4", 9.9, "%", "2026-01-20")
    preliminary["status"] = "preliminary"
    other_patient = observation("o-hba1c-other", "4548-4", 5.0, "%", "2026-01-21")
    other_patient["subject"] = ref("Patient/pat-other")
    patients = [
        {"resourceType": "Patient", "id": "pat-p"},
        {"resourceType": "Patient", "id": "pat-other"},
    ]
    return [
        *patients,
        plan,
        *tasks,
        *others,
        *goals,
        *observations,
        preliminary,
        other_patient,
    ]


async def put_all(client: httpx.AsyncClient, resources: list[dict[str, Any]]) -> None:
    entries = [
        {
            "resource": r,
            "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
        }
        for r in resources
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = await client.post("", json=bundle, headers=FHIR_JSON)
    assert response.status_code == 200, response.text


async def progress(
    client: httpx.AsyncClient, plan_id: str = "cp-1", as_of: str | None = AS_OF
) -> dict[str, Any]:
    params = {"asOf": as_of} if as_of else {}
    response = await client.get(f"/CarePlan/{plan_id}/$progress", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    check_resource(body, "Parameters", Limits())
    return body


def value_of(part: dict[str, Any]) -> Any:
    return next(v for k, v in part.items() if k.startswith("value"))


def flat(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A parameter's single-valued parts by name (``target`` parts as a list of dicts)."""
    found: dict[str, Any] = {}
    for part in parts:
        if "part" in part:
            found.setdefault(part["name"], []).append(flat(part["part"]))
        else:
            found[part["name"]] = value_of(part)
    return found


def named(body: dict[str, Any], name: str) -> list[Any]:
    return [
        flat(p["part"]) if "part" in p else value_of(p)
        for p in body["parameter"]
        if p["name"] == name
    ]


def totals(body: dict[str, Any]) -> dict[str, Any]:
    found = named(body, "totals")[0]
    found["activityStatus"] = {t["status"]: t["count"] for t in found.get("activityStatus", [])}
    found["goalAssessment"] = {t["assessment"]: t["count"] for t in found.get("goalAssessment", [])}
    return found


@pytest.fixture
async def planned(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await put_all(client, scenario())
    return client


async def test_each_activity_status_source(planned: httpx.AsyncClient) -> None:
    rows = named(await progress(planned), "activity")
    seen = [
        (r.get("index"), r["source"], r["status"], r.get("resourceStatus"), r["overdue"])
        for r in rows
    ]
    assert seen == [
        (0, "detail", "not-started", None, True),
        (1, "detail", "completed", None, False),
        (2, "reference", "scheduled", "accepted", True),
        (3, "reference", "stopped", "revoked", False),
        (4, "reference", "stopped", "noshow", False),
        (5, "reference", "scheduled", "booked", False),
        (6, "reference", "unknown", None, False),
        (7, "reference", "unknown", None, False),
        (8, "reference", "scheduled", "accepted", False),
        (None, "linked", "cancelled", "cancelled", False),
        (None, "linked", "not-started", "requested", False),
    ]
    by_index = {r.get("index"): r for r in rows}
    assert by_index[0]["display"] == "Call the patient"
    assert by_index[0]["due"] == "2026-01-10"
    assert by_index[1]["display"] == "Teach inhaler use"
    assert by_index[2]["display"] == "Home safety visit"
    assert by_index[2]["due"] == "2026-01-20T17:00:00Z"
    assert by_index[3]["display"] == "Rehab"
    assert by_index[3]["due"] == "2026-01-31"
    assert by_index[5]["due"] == "2026-03-02T09:30:00Z"
    assert "not known" in by_index[6]["issue"]
    assert "no resource on this server" in by_index[7]["issue"]
    assert rows[-1]["reference"] == {"reference": "Task/t-linked"}
    assert rows[-1]["display"] == "Oxygen assessment"


async def test_each_goal_assessment(planned: httpx.AsyncClient) -> None:
    goals = {g["goal"]["reference"]: g for g in named(await progress(planned), "goal")}
    assessed = {key: g["assessment"] for key, g in goals.items()}
    assert assessed == {
        "Goal/g-hba1c": "achieved",
        "Goal/g-bp": "in-progress",
        "Goal/g-weight": "not-achieving",
        "Goal/g-walk": "overdue",
        "Goal/g-no-data": "in-progress",
        "Goal/g-missing": "not-applicable",
    }
    hba1c = goals["Goal/g-hba1c"]["target"][0]
    assert hba1c["observation"] == {"reference": "Observation/o-hba1c-2"}
    assert hba1c["value"]["value"] == 6.8
    assert hba1c["previousObservation"] == {"reference": "Observation/o-hba1c-1"}
    assert hba1c["previousValue"]["value"] == 7.4
    assert hba1c["effective"] == "2026-01-05"
    assert hba1c["detail"]["comparator"] == "<"
    assert hba1c["due"] == "2026-12-31"
    assert hba1c["trend"] == "improving"
    bp = goals["Goal/g-bp"]["target"][0]
    assert (bp["value"]["value"], bp["trend"]) == (140, "improving")
    assert bp["detail"]["high"]["value"] == 130
    weight = goals["Goal/g-weight"]["target"][0]
    assert (weight["value"]["value"], weight["trend"]) == (98, "worsening")
    walk = goals["Goal/g-walk"]["target"][0]
    assert "previousObservation" not in walk and "trend" not in walk
    assert "observation" not in goals["Goal/g-no-data"]["target"][0]
    assert "not known" in goals["Goal/g-missing"]["issue"]
    assert goals["Goal/g-hba1c"]["goal"]["display"] == "g-hba1c"


async def test_totals(planned: httpx.AsyncClient) -> None:
    found = totals(await progress(planned))
    assert found["activities"] == 11
    assert found["activityStatus"] == {
        "not-started": 2,
        "scheduled": 3,
        "completed": 1,
        "cancelled": 1,
        "stopped": 2,
        "unknown": 2,
    }
    assert found["overdueActivities"] == 2
    assert found["percentComplete"] == 10.0  # 1 completed of 10 not cancelled
    assert found["goals"] == 6
    assert found["goalAssessment"] == {
        "achieved": 1,
        "in-progress": 2,
        "not-achieving": 1,
        "overdue": 1,
        "not-applicable": 1,
    }
    assert found["overdueGoals"] == 1


async def test_as_of_moves_what_is_overdue(planned: httpx.AsyncClient) -> None:
    early = await progress(planned, as_of="2026-01-09T12:00:00Z")
    assert totals(early)["overdueActivities"] == 0
    assert totals(early)["overdueGoals"] == 0
    assert named(early, "asOf") == ["2026-01-09T12:00:00.000Z"]
    late = await progress(planned, as_of="2027-01-01")
    goals = {g["goal"]["reference"]: g["assessment"] for g in named(late, "goal")}
    assert goals["Goal/g-bp"] == "overdue"
    assert goals["Goal/g-hba1c"] == "achieved"
    assert totals(late)["overdueActivities"] == 4  # the booked appointment and t-linked too


async def test_as_of_defaults_to_now(planned: httpx.AsyncClient) -> None:
    body = await progress(planned, as_of=None)
    (as_of,) = named(body, "asOf")
    assert as_of > "2026-02-01"


async def test_post_with_a_parameters_body(planned: httpx.AsyncClient) -> None:
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "asOf", "valueDate": "2026-01-09"}],
    }
    response = await planned.post("/CarePlan/cp-1/$progress", json=body, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    assert totals(response.json())["overdueActivities"] == 0
    assert named(response.json(), "asOf") == ["2026-01-09T00:00:00.000Z"]


async def test_unknown_plan_is_404_and_deleted_is_410(planned: httpx.AsyncClient) -> None:
    response = await planned.get("/CarePlan/nope/$progress")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert (await planned.delete("/CarePlan/cp-1")).status_code in (200, 204)
    response = await planned.get("/CarePlan/cp-1/$progress")
    assert response.status_code == 410
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("query", ["asOf=yesterday", "asOf=2026-13-01", "since=2026-01-01"])
async def test_bad_input_is_400(planned: httpx.AsyncClient, query: str) -> None:
    response = await planned.get(f"/CarePlan/cp-1/$progress?{query}")
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == [query.split("=")[0]]


async def test_the_examples_diabetes_plan(loaded: httpx.AsyncClient) -> None:
    body = await progress(loaded, "careplan-diabetes-hf", "2026-12-07")
    rows = named(body, "activity")
    assert [(r.get("index"), r["status"]) for r in rows] == [
        (0, "in-progress"),
        (1, "scheduled"),
        (2, "scheduled"),
        (3, "in-progress"),
        (4, "completed"),
        (5, "on-hold"),
        (None, "cancelled"),
    ]
    assert rows[-1]["reference"] == {"reference": "Task/task-diabetes-hf-scale-setup"}
    goals = named(body, "goal")
    assert [(g["goal"]["reference"], g["assessment"]) for g in goals] == [
        ("Goal/goal-diabetes-hf-hba1c", "in-progress"),
        ("Goal/goal-diabetes-hf-weight", "in-progress"),
    ]
    hba1c = goals[0]["target"][0]
    assert hba1c["observation"] == {"reference": "Observation/obs-diabetes-hf-hba1c-2026-11"}
    assert (hba1c["value"]["value"], hba1c["trend"]) == (7.0, "improving")
    found = totals(body)
    assert found["percentComplete"] == 16.7  # 1 of the 6 not cancelled
    assert found["overdueActivities"] == 0
    after_due = named(await progress(loaded, "careplan-diabetes-hf", "2027-01-01"), "goal")
    assert [g["assessment"] for g in after_due] == ["overdue", "overdue"]


async def test_the_examples_copd_plan(loaded: httpx.AsyncClient) -> None:
    body = await progress(loaded, "careplan-copd", "2026-12-07")
    rows = {r.get("index"): r for r in named(body, "activity")}
    assert rows[4]["reference"] == {"reference": "Task/task-copd-home-safety-visit"}
    assert (rows[4]["status"], rows[4]["overdue"]) == ("scheduled", True)
    assert rows[None]["reference"] == {"reference": "Task/task-copd-oxygen-assessment"}
    goals = {g["goal"]["reference"]: g["assessment"] for g in named(body, "goal")}
    assert goals == {
        "Goal/goal-copd-no-readmission": "achieved",
        "Goal/goal-copd-6mwt": "in-progress",
    }
    assert totals(body)["overdueActivities"] == 1
