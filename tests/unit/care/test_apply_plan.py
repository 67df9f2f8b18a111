"""Building the draft plan of ``$apply`` without a store: which PlanDefinitions and
ActivityDefinitions are refused, the request each kind makes, the care-team member a
participant's role picks, and the plan's two forms (contained, and a transaction).

https://hl7.org/fhir/R4/plandefinition.html#12.23.4.3 and
https://hl7.org/fhir/R4/activitydefinition.html#12.22.4.1.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fhircare.care.apply.lookup import Member, member_for
from fhircare.care.apply.plan import check_plan_definition, contained, draft_plan, transaction
from fhircare.care.apply.requests import Setting, check_kind, make_request
from fhircare.care.apply.timing import Window
from fhircare.fhir.errors import Category, FhirError

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STAMP = "2026-03-02T08:00:00.000Z"
ROLES = "http://fhircare.example.org/CodeSystem/care-team-role"
PATIENT = "Patient/pat-1"


def role(code: str, text: str) -> dict[str, Any]:
    return {"coding": [{"system": ROLES, "code": code}], "text": text}


NURSE = Member("PractitionerRole/nurse", (role("community-nurse", "Community nurse"),))
MANAGER = Member("PractitionerRole/manager", (role("care-manager", "Care manager"),))
SPOUSE = Member("RelatedPerson/spouse", (role("family-caregiver", "Family caregiver"),))
SETTING = Setting(PATIENT, NOW, "PractitionerRole/gp", "Encounter/enc-1", (NURSE, MANAGER, SPOUSE))


def definition(kind: str, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "ActivityDefinition",
        "id": f"ad-{kind.lower()}",
        "url": f"http://example.org/ActivityDefinition/{kind.lower()}",
        "version": "2.1",
        "status": "active",
        "kind": kind,
        **more,
    }


def test_a_task_is_requested_of_the_role_holder_by_its_deadline() -> None:
    ad = definition(
        "Task",
        title="Call",
        description="Telephone the patient.",
        code={"text": "Call"},
        priority="urgent",
        participant=[{"type": "practitioner", "role": role("care-manager", "Manager")}],
        location={"reference": "Location/clinic"},
    )
    window = Window(NOW, NOW + timedelta(hours=72), count=None)
    task = make_request(ad, {"title": "Call within 72 hours"}, window, ["#goal-1"], SETTING)
    assert task == {
        "resourceType": "Task",
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal",
                "valueReference": {"reference": "#goal-1"},
            }
        ],
        "instantiatesCanonical": "http://example.org/ActivityDefinition/task|2.1",
        "basedOn": [{"reference": "#"}],
        "status": "requested",
        "intent": "order",
        "priority": "urgent",
        "code": {"text": "Call"},
        "description": "Call within 72 hours",
        "for": {"reference": PATIENT},
        "encounter": {"reference": "Encounter/enc-1"},
        "authoredOn": STAMP,
        "requester": {"reference": "PractitionerRole/gp"},
        "owner": {"reference": "PractitionerRole/manager"},
        "location": {"reference": "Location/clinic"},
        "restriction": {"period": {"end": "2026-03-05T08:00:00.000Z"}},
        "note": [{"text": "Telephone the patient."}],
    }


def test_a_repeating_service_request_carries_its_timing_and_performers() -> None:
    ad = definition(
        "ServiceRequest",
        code={"text": "Weigh"},
        doNotPerform=False,
        participant=[
            {"type": "patient"},
            {"type": "related-person", "role": role("family-caregiver", "Caregiver")},
            {"type": "practitioner", "role": {"text": "Dietitian"}},
        ],
    )
    timing = {"repeat": {"boundsPeriod": {"start": STAMP}, "frequency": 1, "period": 1}}
    request = make_request(ad, {}, Window(NOW, None, timing), [], SETTING)
    assert request["instantiatesCanonical"] == [
        "http://example.org/ActivityDefinition/servicerequest|2.1"
    ]
    assert (request["status"], request["intent"], request["doNotPerform"]) == (
        "draft",
        "order",
        False,
    )
    assert request["subject"] == {"reference": PATIENT} and "for" not in request
    assert request["occurrenceTiming"] == timing and "occurrencePeriod" not in request
    assert request["performer"] == [{"reference": PATIENT}, {"reference": "RelatedPerson/spouse"}]
    assert request["performerType"] == role("family-caregiver", "Caregiver")  # the first role
    assert "extension" not in request and "note" not in request
    later = Window(NOW + timedelta(days=7), NOW + timedelta(days=21))
    request = make_request(ad, {"priority": "asap"}, later, [], SETTING)
    assert request["occurrencePeriod"] == {
        "start": "2026-03-09T08:00:00.000Z",
        "end": "2026-03-23T08:00:00.000Z",
    }
    assert request["priority"] == "asap"  # the action's own priority wins


def test_an_appointment_is_proposed_with_the_patient_and_the_roles() -> None:
    ad = definition(
        "Appointment",
        title="Visit",
        code={"text": "Follow-up"},
        description="Review.",
        participant=[
            {"type": "patient"},
            {"type": "practitioner", "role": role("community-nurse", "Nurse")},
            {"type": "practitioner", "role": {"text": "Cardiologist"}},
            {"type": "practitioner"},
        ],
        location={"reference": "Location/clinic"},
    )
    appointment = make_request(ad, {}, Window(NOW, NOW + timedelta(days=7)), ["#goal-2"], SETTING)
    assert appointment["extension"][0] == {
        "url": "http://hl7.org/fhir/StructureDefinition/workflow-instantiatesCanonical",
        "valueCanonical": "http://example.org/ActivityDefinition/appointment|2.1",
    }
    assert appointment["extension"][1]["valueReference"] == {"reference": "#goal-2"}
    assert appointment["status"] == "proposed"
    assert appointment["appointmentType"] == {"text": "Follow-up"}
    assert (appointment["description"], appointment["comment"]) == ("Visit", "Review.")
    assert appointment["requestedPeriod"] == [{"end": "2026-03-09T08:00:00.000Z"}]
    needs = {"required": "required", "status": "needs-action"}
    assert appointment["participant"] == [
        {"actor": {"reference": PATIENT}, **needs},
        {
            "type": [role("community-nurse", "Nurse")],
            "actor": {"reference": NURSE.reference},
            **needs,
        },
        {"type": [{"text": "Cardiologist"}], **needs},  # nobody holds it: the role alone
        {"actor": {"reference": "Location/clinic"}, **needs},
    ]


@pytest.mark.parametrize(
    ("ad", "words"),
    [
        (definition("MedicationRequest"), "kind 'MedicationRequest'"),
        ({"resourceType": "ActivityDefinition", "id": "x"}, "kind 'None'"),
        (definition("Task", doNotPerform=True), "doNotPerform"),
        (definition("Task", dynamicValue=[{"path": "priority"}]), "dynamicValue"),
    ],
)
def test_definitions_fhircare_cannot_apply_are_422(ad: dict[str, Any], words: str) -> None:
    with pytest.raises(FhirError) as error:
        check_kind(ad, "PlanDefinition.action[3].definitionCanonical")
    assert error.value.category is Category.PROCESSING
    assert error.value.issues[0].expression == ("PlanDefinition.action[3].definitionCanonical",)
    assert words in str(error.value)
    assert check_kind(definition("ServiceRequest", doNotPerform=True), "x") == "ServiceRequest"


def test_a_role_picks_the_one_member_holding_it() -> None:
    team = (NURSE, MANAGER, SPOUSE, Member("PractitionerRole/other", (role("x", "Care manager"),)))
    practitioner = "practitioner"
    by_code = {
        "type": practitioner,
        "role": {"coding": [{"system": ROLES, "code": "care-manager"}]},
    }
    assert member_for(team, by_code) == MANAGER.reference
    by_text = {"type": practitioner, "role": {"text": " community NURSE "}}
    assert member_for(team, by_text) == NURSE.reference
    two_hold_it = {"type": practitioner, "role": {"text": "Care manager"}}
    assert member_for(team, two_hold_it) is None
    wrong_type = {"type": practitioner, "role": role("family-caregiver", "Family caregiver")}
    assert member_for(team, wrong_type) is None
    assert member_for(team, {**wrong_type, "type": "related-person"}) == SPOUSE.reference
    other_system = {"type": practitioner, "role": {"coding": [{"code": "care-manager"}]}}
    assert member_for(team, other_system) is None
    assert member_for(team, {"type": practitioner}) is None


def plan(**more: Any) -> dict[str, Any]:
    return {
        "resourceType": "PlanDefinition",
        "id": "pd",
        "url": "http://example.org/PlanDefinition/pd",
        "status": "active",
        "goal": [{"id": "g", "description": {"text": "Goal"}}],
        **more,
    }


@pytest.mark.parametrize(
    ("plan_definition", "expression"),
    [
        (plan(status="retired"), "status"),
        ({**plan(), "url": ""}, "url"),
        (plan(action=[{}, {"action": [{"title": "x"}]}]), "PlanDefinition.action[1].action"),
        (
            plan(action=[{"condition": [{"kind": "applicability"}]}]),
            "PlanDefinition.action[0].condition",
        ),
        (plan(action=[{"dynamicValue": [{"path": "x"}]}]), "PlanDefinition.action[0].dynamicValue"),
        (plan(action=[{"definitionUri": "http://x"}]), "PlanDefinition.action[0].definitionUri"),
        (plan(action=[{"transform": "http://x"}]), "PlanDefinition.action[0].transform"),
        (plan(action=[{"goalId": ["g", "nope"]}]), "PlanDefinition.action[0].goalId"),
    ],
)
def test_plan_definitions_fhircare_cannot_apply_faithfully_are_422(
    plan_definition: dict[str, Any], expression: str
) -> None:
    with pytest.raises(FhirError) as error:
        check_plan_definition(plan_definition)
    assert error.value.category is Category.PROCESSING
    assert error.value.issues[0].expression == (expression,)


def test_the_plan_contained_and_as_a_transaction() -> None:
    pd = plan(
        version="3",
        title="Protocol",
        description="What it does.",
        goal=[
            {
                "id": "g",
                "description": {"text": "Goal"},
                "start": {"text": "discharge"},
                "target": [{"measure": {"text": "m"}, "due": {"value": 1, "code": "mo"}}],
            },
            {"id": "h", "description": {"text": "Other"}, "priority": {"text": "high"}},
        ],
        action=[
            {"title": "Call", "goalId": ["h", "g"], "definitionCanonical": "x"},
            {"description": "Talk", "code": [{"text": "talk"}], "goalId": ["g"]},
        ],
    )
    ad = definition("Task")
    draft = draft_plan(
        pd,
        [ad, None],
        [Window(NOW), Window(NOW, NOW + timedelta(days=2))],
        [["Condition/c1", "Condition/c2"], ["Condition/c2"]],
        SETTING,
        "Organization/org",
    )
    body = contained(draft)
    assert list(body)[:2] == ["resourceType", "contained"]
    goal, other, task = body["contained"]
    assert goal == {
        "resourceType": "Goal",
        "id": "goal-1",
        "lifecycleStatus": "proposed",
        "description": {"text": "Goal"},
        "subject": {"reference": PATIENT},
        "startCodeableConcept": {"text": "discharge"},
        "target": [{"measure": {"text": "m"}, "dueDate": "2026-04-02"}],
        "addresses": [{"reference": "Condition/c1"}, {"reference": "Condition/c2"}],
    }
    assert other["startDate"] == "2026-03-02" and other["priority"] == {"text": "high"}
    assert (task["resourceType"], task["id"]) == ("Task", "activity-1")
    assert [e["valueReference"]["reference"] for e in task["extension"]] == ["#goal-2", "#goal-1"]
    assert body["instantiatesCanonical"] == ["http://example.org/PlanDefinition/pd|3"]
    assert (body["status"], body["intent"], body["title"]) == ("draft", "plan", "Protocol")
    assert body["description"] == "What it does."
    assert body["subject"] == {"reference": PATIENT}
    assert body["encounter"] == {"reference": "Encounter/enc-1"}
    assert body["period"] == {"start": STAMP} and body["created"] == STAMP
    assert body["author"] == {"reference": "PractitionerRole/gp"}
    assert body["contributor"] == [{"reference": "Organization/org"}]
    assert body["addresses"] == [{"reference": "Condition/c1"}, {"reference": "Condition/c2"}]
    assert body["goal"] == [{"reference": "#goal-1"}, {"reference": "#goal-2"}]
    assert body["activity"] == [
        {"reference": {"reference": "#activity-1", "display": "Call"}},
        {
            "detail": {
                "code": {"text": "talk"},
                "goal": [{"reference": "#goal-1"}],
                "status": "not-started",
                "scheduledPeriod": {"end": "2026-03-04T08:00:00.000Z"},
                "description": "Talk",
            }
        },
    ]

    bundle = transaction(draft)
    entries = bundle["entry"]
    assert bundle["type"] == "transaction"
    assert [e["request"] for e in entries] == [
        {"method": "POST", "url": kind} for kind in ("CarePlan", "Goal", "Goal", "Task")
    ]
    urls = [e["fullUrl"] for e in entries]
    assert len(set(urls)) == 4 and all(u.startswith("urn:uuid:") for u in urls)
    care_plan, first_goal, second_goal, made_task = (e["resource"] for e in entries)
    assert all("id" not in e["resource"] and "contained" not in e["resource"] for e in entries)
    assert care_plan["goal"] == [{"reference": urls[1]}, {"reference": urls[2]}]
    assert care_plan["activity"][0]["reference"] == {"reference": urls[3], "display": "Call"}
    assert care_plan["activity"][1]["detail"]["goal"] == [{"reference": urls[1]}]
    assert made_task["basedOn"] == [{"reference": urls[0]}]
    assert [e["valueReference"]["reference"] for e in made_task["extension"]] == urls[2:0:-1]
    assert first_goal["subject"] == second_goal["subject"] == {"reference": PATIENT}


def test_a_plan_without_goals_or_actions_is_a_bare_care_plan() -> None:
    draft = draft_plan(plan(goal=[]), [], [], [], Setting(PATIENT, NOW))
    body = contained(draft)
    assert "contained" not in body and "goal" not in body and "activity" not in body
    assert "author" not in body and "encounter" not in body
    assert [e["request"]["url"] for e in transaction(draft)["entry"]] == ["CarePlan"]
