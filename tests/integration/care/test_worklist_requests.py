"""``$worklist`` lists the messages someone is asked to send (``message-to-send``), over
HTTP on every store: an active CommunicationRequest whose ``sender`` is in the scope and
that no completed Communication ``basedOn`` it fulfils, in order with the other entries
of the scenario of ``test_worklist.py`` (pinned at ``asOf=2030-06-15``)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.bundle_helpers import FHIR_JSON
from tests.integration.care.test_worklist import (
    OTHER,
    PRAC,
    PRAC_LIST,
    QUIET,
    ROLE,
    TEAM,
    listed,
    message,
    part,
    put_all,
    ref,
    scenario,
    worklist,
)

REQUEST = "CommunicationRequest"
SENT_LATE = "CommunicationRequest/wl-req-sent-late"


def request(id: str, sender: str, status: str = "active", **more: Any) -> dict[str, Any]:
    return {
        "resourceType": REQUEST,
        "id": id,
        "status": status,
        "subject": ref("Patient/wl-pat"),
        "recipient": [{"reference": "Patient/wl-pat", "display": "the patient"}],
        "payload": [{"contentString": id}],
        "sender": ref(sender),
        **more,
    }


def based_on(id: str, status: str, *requests: str) -> dict[str, Any]:
    """A Communication to the patient, ``basedOn`` each of ``requests``."""
    sent = message(id, ROLE, "Patient/wl-pat", "2030-06-14T09:00:00Z", status=status)
    return {**sent, "basedOn": [ref(r) for r in requests]}


def requests() -> list[dict[str, Any]]:
    """Requests sent, or to be sent, by wl-prac, their role wl-role, and wl-other."""
    return [
        request("wl-req-overdue", ROLE, occurrenceDateTime="2030-06-05T12:00:00Z"),
        request("wl-req-asap", PRAC, authoredOn="2030-06-11T08:00:00Z"),
        request("wl-req-soon", PRAC, occurrencePeriod={"start": "2030-06-16", "end": "2030-06-18"}),
        request("wl-req-open-ended", ROLE, occurrencePeriod={"start": "2030-06-01"}),
        # a message in progress has not gone out whole: still to send
        request("wl-req-sent-late", ROLE, occurrenceDateTime="2030-06-14"),
        based_on("wl-req-sent-late-call", "in-progress", SENT_LATE),
        based_on("wl-req-draft-reply", "preparation", SENT_LATE),
        # sent: off the list
        request("wl-req-fulfilled", ROLE, occurrenceDateTime="2030-06-01"),
        based_on("wl-req-fulfilled-call", "completed", "CommunicationRequest/wl-req-fulfilled"),
        # not (or no longer) asked for
        request("wl-req-on-hold", ROLE, "on-hold", occurrenceDateTime="2030-06-01"),
        request("wl-req-draft", PRAC, "draft", occurrenceDateTime="2030-06-01"),
        request("wl-req-completed", PRAC, "completed", occurrenceDateTime="2030-06-01"),
        request("wl-req-revoked", ROLE, "revoked", occurrenceDateTime="2030-06-01"),
        request("wl-req-do-not", PRAC, doNotPerform=True, occurrenceDateTime="2030-06-01"),
        # wl-prac's role is to receive this one: it is wl-other's to send
        {
            **request("wl-req-to-them", OTHER, occurrenceDateTime="2030-06-02"),
            "recipient": [ref(ROLE)],
        },
    ]


def with_requests(entries: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """``entries`` (the scenario's list) with wl-prac's requests in their places."""
    placed = {
        # due 5 Jun noon: after the task due 2 Jun, before the message received 10 Jun
        "Communication/wl-msg-unanswered": "CommunicationRequest/wl-req-overdue",
        # authored 11 Jun: due since then, before the message received 12 Jun
        "Communication/wl-msg-team": "CommunicationRequest/wl-req-asap",
        # due all of 14 Jun, past at the start of the 15th: the last overdue entry
        "Task/wl-task-soon": SENT_LATE,
    }
    out: list[tuple[str, list[str]]] = []
    for key, codes in entries:
        if key in placed:
            out.append((placed[key], ["message-to-send"]))
        if key == "Task/wl-task-soon":  # due 18 Jun: the first of the dated entries
            out.append(("CommunicationRequest/wl-req-soon", ["message-to-send"]))
        if key == "Task/wl-task-for-ref":  # no deadline: undated, ``Type/id`` first
            out.append(("CommunicationRequest/wl-req-open-ended", ["message-to-send"]))
        out.append((key, codes))
    return out


async def test_the_practitioner_sends_for_themselves_and_their_role_in_due_order(
    client: httpx.AsyncClient,
) -> None:
    await put_all(client, scenario() + requests())
    status, bundle = await worklist(client, PRAC, **QUIET)
    assert status == 200, bundle
    expected = with_requests(PRAC_LIST)
    assert listed(bundle) == expected
    assert bundle["total"] == len(expected)
    reasons = {
        key: e["search"]["extension"][0]
        for (key, _), e in zip(listed(bundle), bundle["entry"], strict=True)
    }
    overdue = reasons["CommunicationRequest/wl-req-overdue"]
    assert part(overdue, "due") == "2030-06-05T12:00:00Z"
    assert "the patient" in part(overdue, "text")
    assert part(reasons["CommunicationRequest/wl-req-asap"], "due") == "2030-06-11T08:00:00Z"
    assert part(reasons["CommunicationRequest/wl-req-soon"], "due") == "2030-06-18"
    assert part(reasons[SENT_LATE], "due") == "2030-06-14"
    assert part(reasons["CommunicationRequest/wl-req-open-ended"], "due") is None


async def test_a_role_sends_only_its_own(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario() + requests())
    _, bundle = await worklist(client, ROLE, **QUIET)
    mine = [key for key, _ in listed(bundle) if key.startswith(f"{REQUEST}/")]
    assert mine == [
        "CommunicationRequest/wl-req-overdue",
        SENT_LATE,
        "CommunicationRequest/wl-req-open-ended",
    ]


async def test_the_sender_not_the_recipient_is_asked(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario() + requests())
    _, theirs = await worklist(client, OTHER, **QUIET)
    assert ("CommunicationRequest/wl-req-to-them", ["message-to-send"]) in listed(theirs)
    for subject in (PRAC, ROLE):
        _, mine = await worklist(client, subject, **QUIET)
        assert "CommunicationRequest/wl-req-to-them" not in {key for key, _ in listed(mine)}


async def test_a_care_team_is_never_the_sender(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario() + requests())
    # the team's worklist is its own work, not its members': their requests stay off it
    _, bundle = await worklist(client, TEAM, **QUIET)
    assert not [key for key, _ in listed(bundle) if key.startswith(f"{REQUEST}/")]
    # and R4 allows no CareTeam as a CommunicationRequest's sender
    refused = await client.put(
        f"/{REQUEST}/wl-req-team", json=request("wl-req-team", TEAM), headers=FHIR_JSON
    )
    assert refused.status_code in (400, 422), refused.text
    assert "sender" in refused.text


async def test_sending_it_or_ending_it_takes_it_off(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario() + requests())
    _, before = await worklist(client, PRAC, **QUIET)
    assert "CommunicationRequest/wl-req-asap" in {key for key, _ in listed(before)}
    await put_all(
        client,
        [
            based_on("wl-req-sent-late-done", "completed", SENT_LATE),
            request("wl-req-overdue", ROLE, "completed", occurrenceDateTime="2030-06-05"),
            request("wl-req-asap", PRAC, "revoked", authoredOn="2030-06-11T08:00:00Z"),
        ],
    )
    _, after = await worklist(client, PRAC, **QUIET)
    gone = {SENT_LATE, "CommunicationRequest/wl-req-overdue", "CommunicationRequest/wl-req-asap"}
    assert listed(after) == [item for item in with_requests(PRAC_LIST) if item[0] not in gone]
