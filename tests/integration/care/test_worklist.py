"""``$worklist`` over HTTP, on every store: each kind of entry with its reason, in order,
for a practitioner, a role and a care team; what is left out. The thresholds
(``test_worklist_thresholds.py``), paging and errors (``test_worklist_paging.py``) are
tested on the same scenario.

The scenario is pinned at ``asOf=2030-06-15``; its plans were stored just now, so the tests
that are not about inactivity pass ``inactiveDays=5000`` (no stored version is that old).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.bundle_helpers import FHIR_JSON, entry

AS_OF = "2030-06-15"
QUIET = {"asOf": AS_OF, "inactiveDays": "5000"}
REASON = "urn:fhircare:StructureDefinition:worklist-reason"
PRAC, ROLE, TEAM = "Practitioner/wl-prac", "PractitionerRole/wl-role", "CareTeam/wl-team"
OTHER = "Practitioner/wl-other"
REFERRAL = {"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}
LAB = {"coding": [{"system": "http://snomed.info/sct", "code": "108252007"}]}


def ref(key: str) -> dict[str, str]:
    return {"reference": key}


def task(id: str, owner: str, status: str, due: str | None = None, **more: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": id,
        "status": status,
        "intent": "order",
        "for": ref("Patient/wl-pat"),
        "owner": ref(owner),
        **more,
    }
    if due is not None:
        resource["restriction"] = {"period": {"end": due}}
    if status in ("cancelled", "rejected", "failed"):
        resource["statusReason"] = {"text": "no longer needed"}
    return resource


def plan(id: str, status: str, subject: str, end: str, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": id,
        "status": status,
        "intent": "plan",
        "subject": ref(subject),
        "period": {"start": "2030-01-01", "end": end},
        **more,
    }


def goal(id: str, subject: str, lifecycle: str, due: str, achievement: str) -> dict[str, Any]:
    return {
        "resourceType": "Goal",
        "id": id,
        "lifecycleStatus": lifecycle,
        "achievementStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/goal-achievement",
                    "code": achievement,
                }
            ]
        },
        "description": {"text": id},
        "subject": ref(subject),
        "target": [{"dueDate": due}],
    }


def message(id: str, sender: str, recipient: str, received: str, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "id": id,
        "status": "completed",
        "subject": ref("Patient/wl-pat"),
        "sender": ref(sender),
        "recipient": [ref(recipient)],
        "received": received,
        "payload": [{"contentString": id}],
        **more,
    }


def referral(id: str, requester: str, authored: str, category: Any = REFERRAL) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": id,
        "status": "active",
        "intent": "order",
        "category": [category],
        "code": {"text": id},
        "subject": ref("Patient/wl-pat"),
        "requester": ref(requester),
        "authoredOn": authored,
    }


def scenario() -> list[dict[str, Any]]:
    """The care manager wl-prac (role wl-role, on care team wl-team; once on the inactive
    wl-old-team) and a colleague, wl-other, with work of every kind for and around them."""
    people = [
        {"resourceType": "Practitioner", "id": "wl-prac", "name": [{"family": "Manager"}]},
        {"resourceType": "Practitioner", "id": "wl-other", "name": [{"family": "Colleague"}]},
        {"resourceType": "PractitionerRole", "id": "wl-role", "practitioner": ref(PRAC)},
        {"resourceType": "PractitionerRole", "id": "wl-other-role", "practitioner": ref(OTHER)},
        *({"resourceType": "Patient", "id": f"wl-pat{n}"} for n in ("", "2", "3", "4")),
        {
            "resourceType": "CareTeam",
            "id": "wl-team",
            "status": "active",
            "participant": [{"member": ref(ROLE)}, {"member": ref(OTHER)}],
        },
        {
            "resourceType": "CareTeam",
            "id": "wl-old-team",
            "status": "inactive",
            "participant": [{"member": ref(PRAC)}],
        },
        {
            "resourceType": "CareTeam",
            "id": "wl-other-team",
            "status": "active",
            "participant": [{"member": ref("PractitionerRole/wl-other-role")}],
        },
    ]
    tasks = [
        task("wl-task-overdue", PRAC, "accepted", "2030-06-02T17:00:00Z"),
        task("wl-task-overdue-older", ROLE, "on-hold", "2030-05-20T12:00:00Z"),
        task("wl-task-soon", TEAM, "requested", "2030-06-20T17:00:00Z"),
        task("wl-task-later", PRAC, "in-progress", "2030-07-01T17:00:00Z"),
        task("wl-task-nodue", PRAC, "ready"),
        task("wl-task-done", PRAC, "completed", "2030-05-01T17:00:00Z"),
        task("wl-task-cancelled", PRAC, "cancelled", "2030-05-01T17:00:00Z"),
        task("wl-task-draft", PRAC, "draft", "2030-05-01T17:00:00Z"),
        task("wl-task-others", OTHER, "requested", "2030-05-01T17:00:00Z"),
        task("wl-task-old-team", "CareTeam/wl-old-team", "requested", "2030-05-01T17:00:00Z"),
        task(
            "wl-task-for-ref",
            PRAC,
            "accepted",
            basedOn=[ref("ServiceRequest/wl-ref-owned")],
            focus=ref("ServiceRequest/wl-ref-owned"),
        ),
        task("wl-ref-task", OTHER, "completed", basedOn=[ref("ServiceRequest/wl-ref-task-done")]),
    ]
    plans = [
        plan("wl-plan-ending", "active", "Patient/wl-pat", "2030-06-25", careTeam=[ref(TEAM)]),
        plan("wl-plan-far", "active", "Patient/wl-pat2", "2031-12-31", author=ref(PRAC)),
        plan("wl-plan-contrib", "active", "Patient/wl-pat4", "2030-06-28", contributor=[ref(ROLE)]),
        plan("wl-plan-done", "completed", "Patient/wl-pat", "2030-06-16", careTeam=[ref(TEAM)]),
        plan(
            "wl-plan-others",
            "active",
            "Patient/wl-pat3",
            "2030-06-16",
            careTeam=[ref("CareTeam/wl-other-team")],
        ),
    ]
    goals = [
        goal("wl-goal-overdue", "Patient/wl-pat", "active", "2030-06-01", "in-progress"),
        goal("wl-goal-achieved", "Patient/wl-pat", "active", "2030-06-01", "achieved"),
        goal("wl-goal-worsening", "Patient/wl-pat2", "active", "2030-09-01", "worsening"),
        goal("wl-goal-completed", "Patient/wl-pat", "completed", "2030-01-01", "in-progress"),
        goal("wl-goal-others", "Patient/wl-pat3", "active", "2030-01-01", "in-progress"),
    ]
    messages = [
        message("wl-msg-unanswered", OTHER, ROLE, "2030-06-10T09:00:00Z"),
        message("wl-msg-team", OTHER, TEAM, "2030-06-12T09:00:00Z"),
        message("wl-msg-own", ROLE, TEAM, "2030-06-13T09:00:00Z"),
        message("wl-msg-answered", OTHER, PRAC, "2030-06-05T09:00:00Z"),
        message(
            "wl-msg-reply",
            PRAC,
            OTHER,
            "2030-06-05T10:00:00Z",
            inResponseTo=[ref("Communication/wl-msg-answered")],
        ),
        message("wl-msg-others", PRAC, OTHER, "2030-06-05T09:00:00Z"),
    ]
    referrals = [
        referral("wl-ref-open", ROLE, "2030-05-01"),
        referral("wl-ref-owned", OTHER, "2030-05-02"),
        referral("wl-ref-done", ROLE, "2030-05-01"),
        referral("wl-ref-task-done", PRAC, "2030-05-01"),
        referral("wl-ref-recent", PRAC, "2030-06-10"),
        referral("wl-ref-not-referral", PRAC, "2030-05-01", LAB),
        referral("wl-ref-others", OTHER, "2030-05-01"),
        {
            "resourceType": "Observation",
            "id": "wl-ref-obs",
            "status": "final",
            "basedOn": [ref("ServiceRequest/wl-ref-done")],
            "code": {"text": "result"},
            "subject": ref("Patient/wl-pat"),
        },
    ]
    return [*people, *tasks, *plans, *goals, *messages, *referrals]


PRAC_LIST = [
    ("ServiceRequest/wl-ref-open", ["referral-without-result"]),
    ("ServiceRequest/wl-ref-owned", ["referral-without-result"]),
    ("Task/wl-task-overdue-older", ["overdue-task"]),
    ("Goal/wl-goal-overdue", ["goal-overdue"]),
    ("Task/wl-task-overdue", ["overdue-task"]),
    ("Communication/wl-msg-unanswered", ["unanswered-message"]),
    ("Communication/wl-msg-team", ["unanswered-message"]),
    ("Task/wl-task-soon", ["open-task"]),
    ("CarePlan/wl-plan-ending", ["plan-ending"]),
    ("CarePlan/wl-plan-contrib", ["plan-ending"]),
    ("Task/wl-task-later", ["open-task"]),
    ("Goal/wl-goal-worsening", ["goal-not-achieving"]),
    ("Task/wl-task-for-ref", ["open-task"]),
    ("Task/wl-task-nodue", ["open-task"]),
]
"""wl-prac's worklist at 2030-06-15: overdue by due date, then dated, then undated."""


async def put_all(client: httpx.AsyncClient, resources: list[dict[str, Any]]) -> dict[str, str]:
    """Store ``resources`` in one transaction; their ``meta.lastUpdated`` by ``Type/id``."""
    entries = [entry("PUT", f"{r['resourceType']}/{r['id']}", r) for r in resources]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = await client.post("", json=bundle, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    stamps = {}
    for item in response.json()["entry"]:
        location = item["response"]["location"].split("/_history")[0]
        stamps[location] = item["response"]["lastModified"]
    return stamps


async def worklist(
    client: httpx.AsyncClient, subject: str, **params: str
) -> tuple[int, dict[str, Any]]:
    response = await client.get(f"/{subject}/$worklist", params=params)
    return response.status_code, response.json()


def listed(bundle: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(Type/id, [reason codes]) of each entry, in order."""
    out = []
    for item in bundle.get("entry", []):
        key = "/".join(item["fullUrl"].split("/")[-2:])
        out.append((key, [part(r, "code") for r in item["search"]["extension"]]))
    return out


def part(reason: dict[str, Any], name: str) -> Any:
    assert reason["url"] == REASON
    values = [p for p in reason["extension"] if p["url"] == name]
    return next(iter(values[0][k] for k in values[0] if k.startswith("value"))) if values else None


async def test_the_practitioner_sees_each_kind_with_its_reason_overdue_first(
    client: httpx.AsyncClient,
) -> None:
    await put_all(client, scenario())
    status, bundle = await worklist(client, PRAC, **QUIET)
    assert status == 200, bundle
    assert bundle["type"] == "searchset"
    assert listed(bundle) == PRAC_LIST
    assert bundle["total"] == len(PRAC_LIST)
    assert all(e["search"]["mode"] == "match" for e in bundle["entry"])
    first = bundle["entry"][0]
    assert first["resource"]["id"] == "wl-ref-open"
    reason = first["search"]["extension"][0]
    assert part(reason, "due") == "2030-05-15T00:00:00.000Z"
    assert "14 days" in part(reason, "text")
    dues = {
        key: part(e["search"]["extension"][0], "due")
        for key, e in zip([k for k, _ in listed(bundle)], bundle["entry"], strict=True)
    }
    assert dues["Task/wl-task-overdue"] == "2030-06-02T17:00:00Z"
    assert dues["Goal/wl-goal-overdue"] == "2030-06-01"
    assert dues["Communication/wl-msg-team"] == "2030-06-12T09:00:00Z"
    assert dues["Task/wl-task-nodue"] is None


async def test_a_role_sees_its_own_work_and_its_care_teams(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario())
    status, bundle = await worklist(client, ROLE, **QUIET)
    assert status == 200, bundle
    assert listed(bundle) == [
        ("ServiceRequest/wl-ref-open", ["referral-without-result"]),
        ("Task/wl-task-overdue-older", ["overdue-task"]),
        ("Goal/wl-goal-overdue", ["goal-overdue"]),
        ("Communication/wl-msg-unanswered", ["unanswered-message"]),
        ("Communication/wl-msg-team", ["unanswered-message"]),
        ("Task/wl-task-soon", ["open-task"]),
        ("CarePlan/wl-plan-ending", ["plan-ending"]),
        ("CarePlan/wl-plan-contrib", ["plan-ending"]),
    ]


async def test_a_care_team_sees_what_it_owns_and_receives(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario())
    status, bundle = await worklist(client, TEAM, **QUIET)
    assert status == 200, bundle
    # wl-msg-own came from a member's role: not the team itself, so the team awaits a reply
    assert listed(bundle) == [
        ("Goal/wl-goal-overdue", ["goal-overdue"]),
        ("Communication/wl-msg-team", ["unanswered-message"]),
        ("Communication/wl-msg-own", ["unanswered-message"]),
        ("Task/wl-task-soon", ["open-task"]),
        ("CarePlan/wl-plan-ending", ["plan-ending"]),
    ]


async def test_closed_and_other_peoples_work_stays_off(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario())
    _, bundle = await worklist(client, "Practitioner/wl-other", **QUIET)
    others = {key for key, _ in listed(bundle)}
    assert {"Task/wl-task-others", "ServiceRequest/wl-ref-others"} <= others
    _, mine = await worklist(client, PRAC, **QUIET)
    keys = {key for key, _ in listed(mine)}
    for left_out in (
        "Task/wl-task-done",
        "Task/wl-task-cancelled",
        "Task/wl-task-draft",
        "Task/wl-task-others",
        "Task/wl-task-old-team",
        "Goal/wl-goal-achieved",
        "Goal/wl-goal-completed",
        "Goal/wl-goal-others",
        "CarePlan/wl-plan-done",
        "CarePlan/wl-plan-others",
        "CarePlan/wl-plan-far",
        "Communication/wl-msg-answered",
        "Communication/wl-msg-own",
        "ServiceRequest/wl-ref-done",
        "ServiceRequest/wl-ref-task-done",
        "ServiceRequest/wl-ref-recent",
        "ServiceRequest/wl-ref-not-referral",
    ):
        assert left_out not in keys
    # ending the overdue task takes it off; answering the message does too
    done = task("wl-task-overdue", PRAC, "cancelled", "2030-06-02T17:00:00Z")
    reply = message(
        "wl-msg-reply-2",
        ROLE,
        OTHER,
        "2030-06-14T09:00:00Z",
        inResponseTo=[ref("Communication/wl-msg-unanswered")],
    )
    await put_all(client, [done, reply])
    _, after = await worklist(client, PRAC, **QUIET)
    assert [k for k, _ in listed(after)] == [
        k
        for k, _ in PRAC_LIST
        if k not in ("Task/wl-task-overdue", "Communication/wl-msg-unanswered")
    ]


def next_link(bundle: dict[str, Any]) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


def self_link(bundle: dict[str, Any]) -> str:
    return next(link["url"] for link in bundle["link"] if link["relation"] == "self")
