"""A care manager's week, over HTTP on the example scenario, on every store.

Monday: a new patient's intake assessment is extracted into draft Conditions, Goals and a
plan (``$extract``), the heart-failure protocol is applied (``$apply``), and the care manager
activates the plan and its weight goal. Tuesday: the community nurse accepts and starts the
medication reconciliation; the social worker rejects a transport task, first without a
reason (refused), then with one; nobody makes the follow-up call. Observations of the
patient's weight arrive on Tuesday and Thursday. Friday: ``$progress`` and ``$worklist``
show all of it: the call overdue at the top of the care manager's list, the nurse's task
in progress on hers, the rejected task on nobody's, the weight goal improving.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

FHIR_JSON = {"Content-Type": "application/fhir+json"}
PATCH = {"Content-Type": "application/json-patch+json"}
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PATIENT = "Patient/week-patient"
CARE_MANAGER = "PractitionerRole/role-care-manager"
NURSE = "PractitionerRole/role-community-nurse"
SOCIAL_WORKER = "PractitionerRole/role-social-worker"
BODY_WEIGHT = "29463-7"


def example(file: str, id: str) -> dict[str, Any]:
    bundle = json.loads((EXAMPLES / file).read_text())
    found = next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == id)
    return copy.deepcopy(found)


def parameters(**values: Any) -> dict[str, Any]:
    """A Parameters body: ``Type/id`` strings as references, booleans as booleans."""
    out = []
    for name, value in values.items():
        if isinstance(value, bool):
            out.append({"name": name, "valueBoolean": value})
        else:
            out.append({"name": name, "valueReference": {"reference": value}})
    return {"resourceType": "Parameters", "parameter": out}


def parts(parameter: dict[str, Any]) -> dict[str, Any]:
    """A parameter's parts by name, each as its value (the last, for a repeated one)."""
    found: dict[str, Any] = {}
    for part in parameter.get("part") or ():
        value = next((v for k, v in part.items() if k.startswith("value")), part)
        found[part["name"]] = value
    return found


def reasons(entry: dict[str, Any]) -> list[str]:
    return [
        next(p["valueCode"] for p in ext["extension"] if p["url"] == "code")
        for ext in entry.get("search", {}).get("extension") or ()
        if ext["url"] == "urn:fhircare:StructureDefinition:worklist-reason"
    ]


async def patch(client: httpx.AsyncClient, key: str, *ops: dict[str, Any]) -> httpx.Response:
    return await client.patch(key, content=json.dumps(list(ops)), headers=PATCH)


def status(value: str) -> dict[str, Any]:
    return {"op": "replace", "path": "/status", "value": value}


def weight(kilograms: float, when: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": BODY_WEIGHT}]},
        "subject": {"reference": PATIENT},
        "effectiveDateTime": when.isoformat(),
        "valueQuantity": {
            "value": kilograms,
            "unit": "kg",
            "system": "http://unitsofmeasure.org",
            "code": "kg",
        },
    }


async def worklist(client: httpx.AsyncClient, who: str, as_of: datetime) -> list[dict[str, Any]]:
    """Every entry of ``who``'s worklist, walking the pages."""
    url: str | None = f"/{who}/$worklist"
    params: dict[str, str] | None = {"asOf": as_of.isoformat(), "_count": "5"}
    entries: list[dict[str, Any]] = []
    while url:
        answer = await client.get(url, params=params)
        assert answer.status_code == 200, answer.text
        entries += answer.json().get("entry") or []
        links = {link["relation"]: link["url"] for link in answer.json()["link"]}
        url, params = links.get("next", "").removeprefix("http://test/fhir") or None, None
    return entries


async def monday(client: httpx.AsyncClient) -> dict[str, Any]:
    """Intake, extraction, the protocol and the plan made active; what was made."""
    patient = {
        "resourceType": "Patient",
        "id": "week-patient",
        "name": [{"family": "Okonkwo", "given": ["Grace"]}],
        "gender": "female",
        "birthDate": "1954-09-12",
    }
    assert (await client.put(f"/{PATIENT}", json=patient, headers=FHIR_JSON)).status_code == 201
    team = example("04-care-plans.json", "careteam-diabetes-hf")
    team.update(id="week-team", subject={"reference": PATIENT})
    team["participant"] = [
        p for p in team["participant"] if "Patient/" not in p["member"]["reference"]
    ]
    assert (
        await client.put("/CareTeam/week-team", json=team, headers=FHIR_JSON)
    ).status_code == 201

    intake = example("03-assessment.json", "qr-intake-diabetes-hf")
    intake.pop("id")
    intake["subject"] = {"reference": PATIENT}
    answered = await client.post("/QuestionnaireResponse", json=intake, headers=FHIR_JSON)
    assert answered.status_code == 201
    extracted = await client.post(
        f"/QuestionnaireResponse/{answered.json()['id']}/$extract",
        json=parameters(persist=True),
        headers=FHIR_JSON,
    )
    assert extracted.status_code == 200, extracted.text
    made = [e["response"]["location"].split("/_history")[0] for e in extracted.json()["entry"]]
    assert [key.split("/")[0] for key in made].count("Condition") == 5
    goals = [key for key in made if key.startswith("Goal/")]
    assert len(goals) == 3

    applied = await client.post(
        "/PlanDefinition/plandef-hf-post-discharge/$apply",
        json=parameters(
            subject=PATIENT,
            practitioner=CARE_MANAGER,
            organization="Organization/org-riverside-family-practice",
            persist=True,
        ),
        headers=FHIR_JSON,
    )
    assert applied.status_code == 201, applied.text
    plan = applied.json()
    assert plan["status"] == "draft" and plan["subject"] == {"reference": PATIENT}
    tasks = {}
    for activity in plan["activity"]:
        key = activity.get("reference", {}).get("reference", "")
        if key.startswith("Task/"):
            task = (await client.get(f"/{key}")).json()
            tasks[task["owner"]["reference"]] = task
    assert set(tasks) == {CARE_MANAGER, NURSE}
    assert all(t["status"] == "requested" for t in tasks.values())

    plan_key = f"CarePlan/{plan['id']}"
    assert (await patch(client, plan_key, status("active"))).status_code == 200
    weight_goal = None
    for key in goals:
        goal = (await client.get(f"/{key}")).json()
        if any(
            c["code"] == BODY_WEIGHT
            for t in goal.get("target") or ()
            for c in t["measure"]["coding"]
        ):
            weight_goal = key
    assert weight_goal is not None
    activate = {"op": "replace", "path": "/lifecycleStatus", "value": "active"}
    assert (await patch(client, weight_goal, activate)).status_code == 200
    return {"plan": plan_key, "call": tasks[CARE_MANAGER], "reconcile": tasks[NURSE],
            "weight_goal": weight_goal}  # fmt: skip


async def tuesday(client: httpx.AsyncClient, week: dict[str, Any], now: datetime) -> str:
    """The nurse starts her task; the social worker rejects one (a reason needed); weights
    arrive. The rejected task's key."""
    reconcile = f"Task/{week['reconcile']['id']}"
    assert (await patch(client, reconcile, status("in-progress"))).status_code == 422
    assert (await patch(client, reconcile, status("accepted"))).status_code == 200
    started = await patch(client, reconcile, status("in-progress"))
    assert started.status_code == 200
    assert started.json()["executionPeriod"]["start"]

    transport = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "description": "Arrange transport to the heart-failure clinic",
        "for": {"reference": PATIENT},
        "basedOn": [{"reference": week["plan"]}],
        "owner": {"reference": SOCIAL_WORKER},
        "restriction": {"period": {"end": (now + timedelta(days=2)).isoformat()}},
    }
    created = await client.post("/Task", json=transport, headers=FHIR_JSON)
    assert created.status_code == 201
    key = f"Task/{created.json()['id']}"
    refused = await patch(client, key, status("rejected"))
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == ["Task.statusReason"]
    reason = {"op": "add", "path": "/statusReason", "value": {"text": "Family will drive her"}}
    assert (await patch(client, key, status("rejected"), reason)).status_code == 200
    reopened = await patch(client, key, status("requested"))
    assert reopened.status_code == 422
    assert (
        "from rejected it may go to: entered-in-error" in reopened.json()["issue"][0]["diagnostics"]
    )

    for kilograms, when in ((97.2, now - timedelta(days=1)), (96.1, now)):
        posted = await client.post("/Observation", json=weight(kilograms, when), headers=FHIR_JSON)
        assert posted.status_code == 201
    goal = (await client.get(f"/{week['weight_goal']}")).json()
    assert goal["achievementStatus"]["coding"][0]["code"] == "improving"
    return key


async def test_a_care_managers_week(loaded: httpx.AsyncClient) -> None:
    client = loaded
    now = datetime.now(UTC).replace(microsecond=0)
    week = await monday(client)
    rejected = await tuesday(client, week, now)
    friday = now + timedelta(days=4)
    call = f"Task/{week['call']['id']}"
    reconcile = f"Task/{week['reconcile']['id']}"

    progress = await client.get(f"/{week['plan']}/$progress", params={"asOf": friday.isoformat()})
    assert progress.status_code == 200, progress.text
    answer = progress.json()["parameter"]
    activities = {
        parts(p)["reference"]["reference"]: parts(p)
        for p in answer
        if p["name"] == "activity" and "reference" in parts(p)
    }
    assert activities[call]["status"] == "not-started" and activities[call]["overdue"] is True
    assert activities[reconcile]["status"] == "in-progress"
    assert (
        activities[rejected]["status"] == "cancelled" and activities[rejected]["source"] == "linked"
    )
    totals = parts(next(p for p in answer if p["name"] == "totals"))
    assert totals["overdueActivities"] == 1

    mine = await worklist(client, "Practitioner/prac-care-manager", friday)
    keys = [e["fullUrl"].removeprefix("http://test/fhir/") for e in mine]
    assert keys.count(call) == 1 and rejected not in keys and reconcile not in keys
    first_task = next(e for e in mine if e["fullUrl"].endswith(call))
    assert reasons(first_task) == ["overdue-task"]
    tasks = [k for k in keys if k.startswith("Task/")]
    assert tasks[0] == call

    nurse = await worklist(client, NURSE, friday)
    by_key = {e["fullUrl"].removeprefix("http://test/fhir/"): e for e in nurse}
    assert reasons(by_key[reconcile]) in (["open-task"], ["overdue-task"])
    assert call not in by_key and rejected not in by_key
    social = await worklist(client, SOCIAL_WORKER, friday)
    assert rejected not in {e["fullUrl"].removeprefix("http://test/fhir/") for e in social}
