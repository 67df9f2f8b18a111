"""The sync engine against a scripted remote (``httpx.MockTransport``) for the cases a live
peer cannot be made to show on demand: equal timestamps at a page boundary, a page served
twice, a malformed entry, a resource the remote rejects, a remote that stays down.
https://hl7.org/fhir/R4/http.html#history and #transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from fhircare.app import context_for
from fhircare.interactions.request import Context
from fhircare.settings import Settings
from fhircare.storage.memory import MemoryStore
from fhircare.sync import engine
from fhircare.sync.remotes import parse_remote
from fhircare.sync.state import LeaseHeld, SyncState

BASE = "http://remote.test/fhir"


@dataclass
class ScriptedRemote:
    """Goals with given ``lastUpdated`` times, served by search or history in pages."""

    goals: list[dict[str, Any]] = field(default_factory=list)
    history: bool = False
    page: int = 2
    calls: list[str] = field(default_factory=list)
    on_post: Callable[[dict[str, Any]], httpx.Response] | None = None

    def add(self, id: str, at: str, version: int = 1, status: str = "active") -> None:
        self.goals = [g for g in self.goals if g["id"] != id]
        self.goals.append(
            {
                "resourceType": "Goal",
                "id": id,
                "meta": {"versionId": str(version), "lastUpdated": at},
                "lifecycleStatus": status,
                "description": {"text": id},
                "subject": {"reference": "Patient/p1"},
            }
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url}")
        path = request.url.path.removeprefix("/fhir/")
        query = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        if path == "metadata":
            interactions = [{"code": "history-type"}] if self.history else []
            resource = {"type": "Goal", "interaction": interactions}
            return httpx.Response(
                200,
                json={"resourceType": "CapabilityStatement", "rest": [{"resource": [resource]}]},
            )
        if request.method == "POST" and self.on_post is not None:
            return self.on_post(json.loads(request.content))
        ordered = sorted(
            self.goals, key=lambda g: g["meta"]["lastUpdated"], reverse=path.endswith("_history")
        )
        since = query.get("_since") or query.get("_lastUpdated", "ge")[2:]
        if since:
            ordered = [g for g in ordered if g["meta"]["lastUpdated"] >= since]
        offset = int(query.get("_offset", "0"))
        chunk = ordered[offset : offset + self.page]
        links = []
        if offset + self.page < len(ordered):
            links.append(
                {
                    "relation": "next",
                    "url": f"{BASE}/{path}?{_with_offset(query, offset + self.page)}",
                }
            )
        entries = [{"fullUrl": f"{BASE}/Goal/{g['id']}", "resource": g} for g in chunk]
        return httpx.Response(
            200,
            json={"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries},
        )


def _with_offset(query: dict[str, str], offset: int) -> str:
    return "&".join(f"{k}={v}" for k, v in {**query, "_offset": str(offset)}.items())


@pytest.fixture
async def context() -> Context:
    context = context_for(Settings(), MemoryStore())
    await context.search_parameters.load()
    return context


def remote(**fields: Any):  # type: ignore[no-untyped-def]
    return parse_remote(
        "scripted", {"base_url": BASE, "types": ["Goal"], "retries": 1, "backoff": 0, **fields}
    )


async def local_goals(context: Context) -> dict[str, str]:
    """Local Goals by their description (the remote id) → lifecycleStatus."""
    out = {}
    async for page in context.store.iterate_current("Goal"):
        for version in page:
            body = json.loads(version.body or b"{}")
            assert body["description"]["text"] not in out, "a remote resource twice"
            out[body["description"]["text"]] = body["lifecycleStatus"]
    return out


@pytest.mark.parametrize("history", [False, True])
async def test_equal_timestamps_at_a_page_boundary(context: Context, history: bool) -> None:
    """Three Goals share one instant across a page boundary; a later run (``ge`` the newest
    seen, minus the overlap) sees them again with a new one at that same instant."""
    scripted = ScriptedRemote(history=history)
    for id in ("a", "b", "c"):
        scripted.add(id, "2026-01-01T10:00:00.000Z")
    scripted.add("d", "2026-01-01T10:00:01.000Z")
    transport = httpx.MockTransport(scripted.handler)
    first = await engine.run(context, remote(), "pull", transport=transport)
    assert (first.pulled, first.failed) == (4, 0)
    scripted.add("e", "2026-01-01T10:00:01.000Z")
    scripted.add("b", "2026-01-01T10:00:01.000Z", version=2, status="completed")
    second = await engine.run(context, remote(), "pull", transport=transport)
    assert (second.pulled, second.failed) == (2, 0)
    assert second.skipped == 0  # a, c and d are recognised by id and version, not rewritten
    assert await local_goals(context) == {
        "a": "active",
        "b": "completed",
        "c": "active",
        "d": "active",
        "e": "active",
    }
    assert any("_since=" in c or "_lastUpdated=ge" in c for c in scripted.calls[-3:])


async def test_page_served_twice_changes_nothing(context: Context) -> None:
    """A history whose next page repeats what the last one held (a write landed at its
    head meanwhile): nothing is written twice."""
    scripted = ScriptedRemote(history=True, page=2)
    for index, id in enumerate("abcde"):
        scripted.add(id, f"2026-01-01T10:00:0{index}.000Z")
    original = scripted.handler

    def shifting(request: httpx.Request) -> httpx.Response:
        if "_offset=2" in str(request.url):  # a new version pushed everything down one
            request = httpx.Request(
                request.method, str(request.url).replace("_offset=2", "_offset=1")
            )
        return original(request)

    report = await engine.run(context, remote(), "pull", transport=httpx.MockTransport(shifting))
    assert report.failed == 0
    assert set(await local_goals(context)) == set("abcde")
    assert report.pulled == 5


async def test_malformed_entry_is_reported_and_the_rest_pulled(context: Context) -> None:
    scripted = ScriptedRemote(page=10)
    scripted.add("a", "2026-01-01T10:00:00.000Z")
    original = scripted.handler

    def broken(request: httpx.Request) -> httpx.Response:
        response = original(request)
        if request.url.path.endswith("/Goal"):
            bundle = json.loads(response.content)
            bundle["entry"].append({"request": {"method": "DELETE"}})  # names no resource
            return httpx.Response(200, json=bundle)
        return response

    report = await engine.run(context, remote(), "pull", transport=httpx.MockTransport(broken))
    assert report.failed == 1 and "entry[1]" in report.errors[0]["diagnostics"]
    assert report.status == "completed with errors"


async def test_resource_the_remote_rejects_is_recorded_and_the_run_goes_on(
    context: Context,
) -> None:
    from fhircare.sync import local as local_writes

    for id in ("good", "bad"):
        body = {
            "resourceType": "Goal",
            "id": id,
            "lifecycleStatus": "active",
            "description": {"text": id},
            "subject": {"reference": "Patient/p1"},
        }
        await local_writes.put(context, body, 0)

    def refuse(body: dict[str, Any]) -> httpx.Response:
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": "processing", "diagnostics": "transactions are off"}
            ],
        }
        return httpx.Response(400, json=outcome)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return refuse({})
        if request.method == "PUT" and request.url.path.endswith("/bad"):
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "error",
                        "code": "invalid",
                        "diagnostics": "Goal.subject: no such patient",
                        "expression": ["Goal.subject"],
                    }
                ],
            }
            return httpx.Response(422, json=outcome)
        if request.method == "PUT":
            body = json.loads(request.content)
            return httpx.Response(
                201,
                json={**body, "meta": {"versionId": "1"}},
                headers={"ETag": 'W/"1"', "Location": f"{BASE}/Goal/{body['id']}/_history/1"},
            )
        return httpx.Response(
            200,
            json={
                "resourceType": "CapabilityStatement",
                "rest": [{"resource": [{"type": "Goal", "updateCreate": True}]}],
            },
        )

    report = await engine.run(context, remote(), "push", transport=httpx.MockTransport(handler))
    assert (report.pushed, report.failed) == (1, 1)
    assert report.errors[0]["resource"] == "Goal/bad"
    assert report.errors[0]["field"] == "Goal.subject"
    assert "no such patient" in report.errors[0]["diagnostics"]
    cursor = await SyncState(context.store, "scripted").cursor("push")
    assert cursor["seq"] > 0  # the run went past the rejected resource


async def test_remote_down_fails_the_run_and_moves_no_cursor(context: Context) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    report = await engine.run(
        context, remote(retries=2), "pull", transport=httpx.MockTransport(down)
    )
    assert report.status == "failed" and report.retries == 2
    assert await SyncState(context.store, "scripted").cursor("pull/Goal") == {}


async def test_lease_keeps_a_second_worker_off(context: Context) -> None:
    holder = SyncState(context.store, "scripted")
    await holder.acquire(60)
    with pytest.raises(LeaseHeld):
        await engine.run(
            context, remote(), "pull", transport=httpx.MockTransport(lambda r: httpx.Response(500))
        )
    await holder.release()
    scripted = ScriptedRemote()
    report = await engine.run(
        context, remote(), "pull", transport=httpx.MockTransport(scripted.handler)
    )
    assert report.status == "completed"
