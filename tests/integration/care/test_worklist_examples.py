"""``$worklist`` on the examples (``examples/``), on every store: the care manager (Maria
Gonzalez, Practitioner behind role-care-manager) and the GP's role, at two moments; and
the community nurse's role once the rehab reminder is hers to send.

The examples were stored just now, so ``inactiveDays=36500`` keeps their plans active
whatever the date the tests run on."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.bundle_helpers import FHIR_JSON

MANAGER = "Practitioner/prac-care-manager"
GP_ROLE = "PractitionerRole/role-gp"
NURSE_ROLE = "PractitionerRole/role-community-nurse"
REMINDER = "CommunicationRequest/commreq-copd-rehab-reminder"
KEEP_ACTIVE = {"inactiveDays": "36500"}


async def worklist(client: httpx.AsyncClient, subject: str, **params: str) -> dict[str, Any]:
    response = await client.get(f"/{subject}/$worklist", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def listed(bundle: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [
        (
            f"{e['resource']['resourceType']}/{e['resource']['id']}",
            [
                part["valueCode"]
                for reason in e["search"]["extension"]
                for part in reason["extension"]
                if part["url"] == "code"
            ],
        )
        for e in bundle.get("entry", [])
    ]


def reason_of(bundle: dict[str, Any], index: int) -> dict[str, Any]:
    """The parts of the first reason of entry ``index``, by name."""
    parts = bundle["entry"][index]["search"]["extension"][0]["extension"]
    return {p["url"]: next(v for k, v in p.items() if k.startswith("value")) for p in parts}


async def test_the_care_manager_now_has_one_unanswered_message(
    loaded: httpx.AsyncClient,
) -> None:
    # the nurse's booking confirmation of 20 Nov is the only message to Maria nobody
    # answered; her only owned task (the medication reconciliation) is completed
    bundle = await worklist(loaded, MANAGER, asOf="2026-12-07", **KEEP_ACTIVE)
    assert listed(bundle) == [("Communication/comm-copd-home-visit-4", ["unanswered-message"])]


async def test_the_care_manager_after_the_goals_fell_due(loaded: httpx.AsyncClient) -> None:
    # the rehab reminder (commreq-copd-rehab-reminder), due 16 Dec and never sent, is not
    # here: Maria requested it, but the rehab program (a HealthcareService) is to send it
    bundle = await worklist(loaded, MANAGER, asOf="2027-01-20", **KEEP_ACTIVE)
    assert listed(bundle) == [
        ("Communication/comm-copd-home-visit-4", ["unanswered-message"]),
        ("Goal/goal-copd-6mwt", ["goal-overdue"]),
        ("Goal/goal-diabetes-hf-hba1c", ["goal-overdue"]),
        ("Goal/goal-diabetes-hf-weight", ["goal-overdue"]),
        ("CarePlan/careplan-copd", ["plan-ending"]),
    ]


async def test_the_gp_role_has_its_referral_and_task(loaded: httpx.AsyncClient) -> None:
    # the pulmonary rehab referral has results (6MWT observations based on it); the
    # diabetes education referral of 16 Nov has none
    bundle = await worklist(loaded, GP_ROLE, asOf="2026-12-07", **KEEP_ACTIVE)
    assert listed(bundle) == [
        ("ServiceRequest/sr-diabetes-hf-dsmes-referral", ["referral-without-result"]),
        ("Task/task-copd-oxygen-assessment", ["open-task"]),
    ]


async def test_the_rehab_reminder_handed_to_the_nurse_is_hers_until_sent(
    loaded: httpx.AsyncClient,
) -> None:
    reminder = (await loaded.get(f"/{REMINDER}")).json()
    reminder["sender"] = {"reference": NURSE_ROLE}
    response = await loaded.put(f"/{REMINDER}", json=reminder, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    before = await worklist(loaded, NURSE_ROLE, asOf="2026-12-07", **KEEP_ACTIVE)
    assert listed(before) == [
        ("Task/task-copd-home-safety-visit", ["overdue-task"]),
        (REMINDER, ["message-to-send"]),  # to call by 16 Dec, 10:00
        ("Task/task-copd-pulm-rehab-referral", ["open-task"]),
    ]
    # overdue the day after, still between the two tasks by due date
    late = await worklist(loaded, NURSE_ROLE, asOf="2026-12-17", **KEEP_ACTIVE)
    assert listed(late) == listed(before)
    assert reason_of(late, 1)["due"] == "2026-12-16T10:00:00-06:00"
    assert "overdue" in reason_of(late, 1)["text"]
    assert "overdue" not in reason_of(before, 1)["text"]
    call = {
        "resourceType": "Communication",
        "id": "comm-copd-rehab-reminder-call",
        "basedOn": [{"reference": REMINDER}],
        "status": "completed",
        "subject": {"reference": "Patient/pat-copd"},
        "sent": "2026-12-16T09:40:00-06:00",
        "sender": {"reference": NURSE_ROLE},
        "recipient": [{"reference": "Patient/pat-copd"}],
    }
    response = await loaded.put(f"/Communication/{call['id']}", json=call, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    after = await worklist(loaded, NURSE_ROLE, asOf="2026-12-17", **KEEP_ACTIVE)
    assert REMINDER not in [key for key, _ in listed(after)]
    assert len(listed(after)) == 2
