"""``$worklist`` thresholds over HTTP, on every store: ``asOf``, ``endingWithinDays`` and
``referralDays`` move what is due; a plan is inactive when neither it nor a linked Task
(``basedOn``, ``focus`` or named in its ``activity``) changed in ``inactiveDays``."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from fhircare.fhir.ids import format_instant, parse_instant
from tests.integration.care.test_worklist import (
    PRAC,
    QUIET,
    TEAM,
    listed,
    part,
    plan,
    put_all,
    ref,
    scenario,
    task,
    worklist,
)


async def test_the_parameters_move_the_thresholds(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario())
    _, later = await worklist(client, PRAC, asOf="2030-06-26", inactiveDays="5000")
    reasons = dict(listed(later))
    assert reasons["Task/wl-task-soon"] == ["overdue-task"]
    assert reasons["CarePlan/wl-plan-ending"] == ["plan-ending"]  # ended, still active
    ended = next(e for e in later["entry"] if e["resource"]["id"] == "wl-plan-ending")
    assert "still active" in part(ended["search"]["extension"][0], "text")
    _, narrow = await worklist(client, PRAC, endingWithinDays="5", referralDays="60", **QUIET)
    keys = {k for k, _ in listed(narrow)}
    assert "CarePlan/wl-plan-ending" not in keys  # ends 10 days on
    assert "ServiceRequest/wl-ref-open" not in keys  # 45 days old
    _, wide = await worklist(client, PRAC, endingWithinDays="600", **QUIET)
    assert "CarePlan/wl-plan-far" in {k for k, _ in listed(wide)}


async def test_a_plan_is_inactive_when_neither_it_nor_its_tasks_changed(
    client: httpx.AsyncClient,
) -> None:
    await put_all(client, scenario())
    team = ref(TEAM)
    plans = [
        plan("wl-quiet", "active", "Patient/wl-pat", "2035-01-01", careTeam=[team]),
        plan("wl-busy", "active", "Patient/wl-pat", "2035-01-01", careTeam=[team]),
        plan(
            "wl-named",
            "active",
            "Patient/wl-pat",
            "2035-01-01",
            careTeam=[team],
            activity=[{"reference": ref("Task/wl-named-task")}],
        ),
    ]
    stamps = await put_all(client, plans)
    await asyncio.sleep(0.01)
    linked = [
        task(
            "wl-busy-task", "Practitioner/wl-other", "requested", basedOn=[ref("CarePlan/wl-busy")]
        ),
        task("wl-named-task", "Practitioner/wl-other", "requested"),
    ]
    changed = await put_all(client, linked)
    moment = min(parse_instant(v, "lastModified") for v in changed.values())
    assert moment > max(parse_instant(v, "lastModified") for v in stamps.values())
    as_of = format_instant(moment + timedelta(days=1))
    _, bundle = await worklist(client, TEAM, asOf=as_of, inactiveDays="1")
    reasons = dict(listed(bundle))
    assert reasons["CarePlan/wl-quiet"] == ["plan-inactive"]
    assert "CarePlan/wl-busy" not in reasons
    assert "CarePlan/wl-named" not in reasons
    _, quiet = await worklist(client, TEAM, asOf=as_of, inactiveDays="5000")
    assert "CarePlan/wl-quiet" not in dict(listed(quiet))
