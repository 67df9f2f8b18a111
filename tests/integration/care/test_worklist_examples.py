"""``$worklist`` on the examples (``examples/``), on every store: the care manager (Maria
Gonzalez, Practitioner behind role-care-manager) and the GP's role, at two moments.

The examples were stored just now, so ``inactiveDays=36500`` keeps their plans active
whatever the date the tests run on."""

from __future__ import annotations

from typing import Any

import httpx

MANAGER = "Practitioner/prac-care-manager"
GP_ROLE = "PractitionerRole/role-gp"
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


async def test_the_care_manager_now_has_one_unanswered_message(
    loaded: httpx.AsyncClient,
) -> None:
    # the nurse's booking confirmation of 20 Nov is the only message to Maria nobody
    # answered; her only owned task (the medication reconciliation) is completed
    bundle = await worklist(loaded, MANAGER, asOf="2026-12-07", **KEEP_ACTIVE)
    assert listed(bundle) == [("Communication/comm-copd-home-visit-4", ["unanswered-message"])]


async def test_the_care_manager_after_the_goals_fell_due(loaded: httpx.AsyncClient) -> None:
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
