"""``PlanDefinition/[id]/$apply`` over HTTP with the examples loaded, on every store.

https://hl7.org/fhir/R4/plandefinition-operation-apply.html: each protocol of the examples
(heart-failure follow-up after discharge and type 2 diabetes care management in
examples/08-protocols.json, COPD post-discharge in examples/04-care-plans.json) applied to
a patient answers a draft CarePlan with its Goals and requests contained, checked field by
field; the contained form is a valid CarePlan. Inputs and refusals:
``test_apply_inputs.py``; ``persist=true``: ``test_apply_persist.py``.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from fhircare.fhir.ids import format_instant
from tests.integration.bundle_helpers import FHIR_JSON

HF = "plandef-hf-post-discharge"
T2DM = "plandef-t2dm-care-management"
COPD = "plandef-copd-post-discharge"
HAROLD = "Patient/pat-diabetes-hf"
MARGARET = "Patient/pat-copd"
CARE_MANAGER = "PractitionerRole/role-care-manager"
GP = "PractitionerRole/role-gp"
NURSE = "PractitionerRole/role-community-nurse"
PRACTICE = "Organization/org-riverside-family-practice"
EXAMPLE = "http://fhircare.example.org/fhir"
PERTAINS = "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal"
INSTANTIATES = "http://hl7.org/fhir/StructureDefinition/workflow-instantiatesCanonical"


def ref(key: str) -> dict[str, str]:
    return {"reference": key}


def at(moment: datetime) -> str:
    return format_instant(moment)


def months_later(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.month - 1 + months, 12)
    year, month = moment.year + year, month + 1
    return moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))


def canonical(kind: str, slug: str) -> str:
    return f"{EXAMPLE}/{kind}/{slug}|1.0.0"


def parameters(**given: str | bool) -> dict[str, Any]:
    parameter = []
    for name, value in given.items():
        if isinstance(value, bool):
            parameter.append({"name": name, "valueBoolean": value})
        else:
            parameter.append({"name": name, "valueReference": ref(value)})
    return {"resourceType": "Parameters", "parameter": parameter}


async def applied(
    client: httpx.AsyncClient, plan: str, post: bool = False, **given: str
) -> tuple[dict[str, Any], datetime]:
    """The CarePlan ``$apply`` answers, and when it says it was made (checked to be now)."""
    before = datetime.now(UTC) - timedelta(seconds=1)
    path = f"/PlanDefinition/{plan}/$apply"
    if post:
        answer = await client.post(path, json=parameters(**given), headers=FHIR_JSON)
    else:
        answer = await client.get(path, params=given)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["resourceType"] == "CarePlan" and "id" not in body
    made = datetime.fromisoformat(body["created"].replace("Z", "+00:00"))
    assert before <= made <= datetime.now(UTC)
    assert body["period"] == {"start": body["created"]}
    return body, made


def contained(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"#{part['id']}": part for part in body["contained"]}


def requests(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The contained request each activity refers to, in the activities' order."""
    parts = contained(body)
    return [parts[a["reference"]["reference"]] for a in body["activity"] if "reference" in a]


def goals_of(request: dict[str, Any]) -> list[str]:
    return [e["valueReference"]["reference"] for e in request["extension"] if e["url"] == PERTAINS]


def code_of(concept: dict[str, Any]) -> str:
    return str(concept["coding"][0]["code"])


async def test_heart_failure_follow_up_for_harold(loaded: httpx.AsyncClient) -> None:
    body, made = await applied(
        loaded,
        HF,
        subject=HAROLD,
        practitioner=CARE_MANAGER,
        organization=PRACTICE,
        encounter="Encounter/enc-diabetes-hf-annual-review",
    )
    encounter = ref("Encounter/enc-diabetes-hf-annual-review")
    assert body["instantiatesCanonical"] == [
        canonical("PlanDefinition", "heart-failure-post-discharge-follow-up")
    ]
    assert (body["status"], body["intent"]) == ("draft", "plan")
    assert body["title"] == "Heart failure follow-up after discharge"
    assert body["description"].startswith("Transitional care for patients discharged")
    assert (body["subject"], body["encounter"]) == (ref(HAROLD), encounter)
    assert body["author"] == ref(CARE_MANAGER) and body["contributor"] == [ref(PRACTICE)]
    assert body["addresses"] == [ref("Condition/cond-diabetes-hf-heart-failure")]

    parts = contained(body)
    assert body["goal"] == [ref("#goal-1"), ref("#goal-2")]
    readmission, weights = parts["#goal-1"], parts["#goal-2"]
    for goal in (readmission, weights):
        assert goal["lifecycleStatus"] == "proposed" and goal["subject"] == ref(HAROLD)
        assert goal["startDate"] == made.date().isoformat()
        assert goal["addresses"] == [ref("Condition/cond-diabetes-hf-heart-failure")]
    assert readmission["description"]["text"].startswith("No hospital readmission within 30 days")
    assert code_of(readmission["category"][0]) == "safety"
    assert code_of(readmission["priority"]) == "high-priority"
    assert readmission["target"][0]["dueDate"] == (made + timedelta(days=30)).date().isoformat()
    assert readmission["target"][0]["detailQuantity"]["value"] == 0
    assert code_of(readmission["target"][0]["measure"]) == "readmissions-30d"
    assert weights["target"][0]["dueDate"] == (made + timedelta(days=14)).date().isoformat()

    call, visit, reconciliation, daily, education = requests(body)
    assert [r["resourceType"] for r in requests(body)] == [
        "Task",
        "Appointment",
        "Task",
        "ServiceRequest",
        "ServiceRequest",
    ]
    assert [a["reference"].get("display") for a in body["activity"][:5]] == [
        "Telephone follow-up within 72 hours",
        "Clinic visit within 7 days",
        "Medication reconciliation within 7 days",
        "Daily weights for 30 days",
        "Self-care education in the 14 days after the clinic visit",
    ]
    for task in (call, reconciliation):
        assert (task["status"], task["intent"], task["priority"]) == (
            "requested",
            "order",
            "urgent",
        )
        assert task["basedOn"] == [ref("#")]
        assert task["for"] == ref(HAROLD) and task["encounter"] == encounter
        assert task["requester"] == ref(CARE_MANAGER) and task["authoredOn"] == body["created"]
        assert goals_of(task) == ["#goal-1"]
    assert call["instantiatesCanonical"] == canonical(
        "ActivityDefinition", "hf-post-discharge-call"
    )
    assert call["code"] == {"text": "Post-discharge telephone follow-up"}
    assert call["owner"] == ref(CARE_MANAGER)
    assert call["restriction"] == {"period": {"end": at(made + timedelta(hours=72))}}
    assert call["note"][0]["text"].startswith("The care manager telephones within 48 to 72 hours")
    assert code_of(reconciliation["code"]) == "430193006"
    assert reconciliation["owner"] == ref(NURSE)
    assert reconciliation["restriction"] == {"period": {"end": at(made + timedelta(days=7))}}

    assert visit["status"] == "proposed"
    assert visit["extension"][0] == {
        "url": INSTANTIATES,
        "valueCanonical": canonical("ActivityDefinition", "hf-clinic-visit"),
    }
    assert goals_of(visit) == ["#goal-1"]
    assert code_of(visit["appointmentType"]) == "FOLLOWUP"
    assert visit["requestedPeriod"] == [{"end": at(made + timedelta(days=7))}]
    assert [p.get("actor") for p in visit["participant"]] == [
        ref(HAROLD),
        ref(GP),
        ref("Location/loc-riverside-clinic"),
    ]
    assert all(p["status"] == "needs-action" for p in visit["participant"])

    for request in (daily, education):
        assert (request["status"], request["intent"]) == ("draft", "order")
        assert request["basedOn"] == [ref("#")] and request["subject"] == ref(HAROLD)
        assert request["requester"] == ref(CARE_MANAGER) and request["encounter"] == encounter
    assert daily["instantiatesCanonical"] == [canonical("ActivityDefinition", "hf-daily-weight")]
    assert code_of(daily["code"]) == "29463-7" and goals_of(daily) == ["#goal-2"]
    assert daily["occurrenceTiming"] == {
        "repeat": {
            "boundsPeriod": {"start": body["created"], "end": at(made + timedelta(days=30))},
            "frequency": 1,
            "period": 1,
            "periodUnit": "d",
            "timeOfDay": ["07:30:00"],
        }
    }
    assert daily["performer"] == [ref(HAROLD)] and "performerType" not in daily
    # 14 days from the end of the clinic visit's window (the action's relatedAction)
    assert education["occurrencePeriod"] == {
        "start": at(made + timedelta(days=7)),
        "end": at(made + timedelta(days=21)),
    }
    assert education["performerType"] == {"text": "Heart failure specialist nurse"}
    assert "performer" not in education  # nobody in Harold's care team holds that role
    assert goals_of(education) == ["#goal-2", "#goal-1"]

    assert body["activity"][5] == {
        "detail": {
            "goal": [ref("#goal-1")],
            "status": "not-started",
            "description": "Go through the warning signs (breathlessness, swelling, weight gain) "
            "and what to do about each with the patient and the family caregiver.",
        }
    }


async def test_type_2_diabetes_care_management_for_harold(loaded: httpx.AsyncClient) -> None:
    body, made = await applied(loaded, T2DM, post=True, subject=HAROLD)
    assert body["instantiatesCanonical"] == [
        canonical("PlanDefinition", "type-2-diabetes-care-management")
    ]
    assert "author" not in body and "encounter" not in body and "contributor" not in body
    assert body["addresses"] == [ref("Condition/cond-diabetes-hf-t2dm")]
    parts = contained(body)
    hba1c, pressure, education_goal = (parts[f"#goal-{n}"] for n in (1, 2, 3))
    target = hba1c["target"][0]
    assert code_of(target["measure"]) == "4548-4"
    assert target["detailQuantity"] == {
        "value": 7.0,
        "comparator": "<",
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    }
    assert target["dueDate"] == months_later(made, 6).date().isoformat()
    assert pressure["target"][0]["detailQuantity"]["code"] == "mm[Hg]"
    assert pressure["target"][0]["dueDate"] == months_later(made, 3).date().isoformat()
    assert "target" not in education_goal and "addresses" not in education_goal

    monitoring, review, medication, dsmes, foot = requests(body)
    assert [r["resourceType"] for r in (monitoring, review, medication, dsmes, foot)] == [
        "ServiceRequest",
        "Appointment",
        "Task",
        "ServiceRequest",
        "ServiceRequest",
    ]
    assert all("requester" not in r for r in (monitoring, medication, dsmes, foot))
    assert monitoring["occurrenceTiming"]["repeat"] == {
        "boundsPeriod": {"start": body["created"], "end": at(months_later(made, 12))},
        "frequency": 1,
        "period": 3,
        "periodUnit": "mo",
    }
    assert monitoring["performer"] == [ref(GP)]
    assert code_of(monitoring["performerType"]) == "primary-care-physician"
    assert code_of(review["appointmentType"]) == "CHECKUP"
    assert review["requestedPeriod"] == [{"end": at(made + timedelta(weeks=4))}]
    assert goals_of(review) == ["#goal-1", "#goal-2"]
    assert code_of(medication["code"]) == "430193006" and medication["owner"] == ref(CARE_MANAGER)
    assert medication["restriction"] == {"period": {"end": at(made + timedelta(days=14))}}
    assert dsmes["code"]["text"].startswith("Diabetes self-management education")
    assert dsmes["locationReference"][0]["reference"] == "Location/loc-northside-wellness-center"
    assert dsmes["performerType"] == {"text": "Diabetes educator"} and "performer" not in dsmes
    assert dsmes["occurrencePeriod"] == {"end": at(made + timedelta(days=30))}
    assert goals_of(dsmes) == ["#goal-3"]
    assert code_of(foot["code"]) == "401191002" and "extension" not in foot
    assert foot["occurrencePeriod"] == {"end": at(months_later(made, 3))}
    detail = body["activity"][5]["detail"]
    assert detail["goal"] == [ref("#goal-1"), ref("#goal-3")]
    assert detail["scheduledPeriod"] == {"end": at(made + timedelta(weeks=4))}
    assert detail["description"].startswith("Agree when to check capillary glucose")


async def test_the_copd_protocol_of_the_examples_for_margaret(loaded: httpx.AsyncClient) -> None:
    body, _ = await applied(loaded, COPD, subject=MARGARET, practitioner=GP)
    assert body["instantiatesCanonical"] == [
        canonical("PlanDefinition", "copd-post-discharge-follow-up")
    ]
    assert body["title"] == "COPD post-discharge follow-up protocol"
    goal = contained(body)["#goal-1"]
    # the goal addresses the exacerbation's code: Margaret's (resolved) exacerbation
    assert goal["addresses"] == [ref("Condition/cond-copd-exacerbation")]
    assert goal["target"][0]["detailQuantity"]["code"] == "{admissions}"
    call, visit, rehab = requests(body)
    # the ActivityDefinitions name their roles by text: Margaret's care team's holders
    assert call["resourceType"] == "Task" and call["owner"] == ref(CARE_MANAGER)
    assert call["requester"] == ref(GP) and "restriction" not in call  # no timing
    assert call["priority"] == "urgent" and call["description"] == (
        "Telephone follow-up within 2 business days"
    )
    assert visit["resourceType"] == "Appointment" and "requestedPeriod" not in visit
    assert [p["actor"] for p in visit["participant"]] == [ref(MARGARET), ref(GP)]
    assert rehab["resourceType"] == "ServiceRequest" and "performer" not in rehab
    assert rehab["performerType"] == {"text": "Pulmonary rehabilitation team"}
    assert rehab["instantiatesCanonical"] == [
        canonical("ActivityDefinition", "pulmonary-rehab-referral")
    ]
    assert body["activity"][3] == {
        "detail": {
            "goal": [ref("#goal-1")],
            "status": "not-started",
            "description": "Community nurse home visit within 3 weeks of discharge.",
        }
    }


@pytest.mark.parametrize(("plan", "patient"), [(HF, HAROLD), (T2DM, HAROLD), (COPD, MARGARET)])
async def test_the_contained_plan_is_a_valid_care_plan(
    loaded: httpx.AsyncClient, plan: str, patient: str
) -> None:
    body, _ = await applied(loaded, plan, subject=patient, practitioner=CARE_MANAGER)
    created = await loaded.post("/CarePlan", json=body, headers=FHIR_JSON)
    assert created.status_code == 201, created.text
    stored = created.json()
    assert stored["contained"] == body["contained"] and stored["activity"] == body["activity"]
