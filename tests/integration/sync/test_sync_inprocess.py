"""The sync engine between two fhircare apps in-process (``httpx.ASGITransport``), the
remote on the memory store and the local one on every store: push, pull, echo
suppression, deletes, conflicts and each way of creating on the remote.

The same behaviours against live peers on loopback (HAPI and a second fhircare process)
are in ``test_sync_live.py``; this module pins the engine's logic quickly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhircare.app import context_for, create_app
from fhircare.interactions.request import Context
from fhircare.loader import load
from fhircare.settings import Settings
from fhircare.storage.memory import MemoryStore
from fhircare.storage.protocol import ResourceStore
from fhircare.sync import engine
from fhircare.sync.remotes import CARE_TYPES, Remote, parse_remote
from fhircare.sync.state import SyncState
from tests.integration.sync.sides import FHIR_JSON, differences, local_resources, remote_resources

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
BASE = "http://peer/fhir"
TYPES = (*CARE_TYPES, "Observation", "Encounter", "QuestionnaireResponse")


@dataclass
class Peer:
    http: httpx.AsyncClient
    transport: httpx.AsyncBaseTransport
    context: Context


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    store = MemoryStore()
    app = create_app(Settings(), store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield Peer(http, transport, app.state.context)


@pytest.fixture
async def local(store: ResourceStore) -> Context:
    """The local side on each store (``tests/conftest.py``): the id map, cursors,
    conflicts and leases live in the store, so the engine runs on every one."""
    context = context_for(Settings(), store)
    await context.search_parameters.load()
    return context


def remote(**fields: Any) -> Remote:
    return parse_remote("peer", {"base_url": BASE, "types": list(TYPES), "retries": 0, **fields})


async def sync(context: Context, peer: Peer, direction: str, **fields: Any) -> engine.RunReport:
    return await engine.run(context, remote(**fields), direction, transport=peer.transport)  # type: ignore[arg-type]


async def _create(peer: Peer, resource: dict[str, Any]) -> dict[str, Any]:
    response = await peer.http.post(resource["resourceType"], json=resource, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("client_ids", ["yes", "no"])
async def test_examples_pushed_match_field_for_field(
    local: Context, peer: Peer, client_ids: str
) -> None:
    await load(local, [EXAMPLES])
    report = await sync(local, peer, "push", client_ids=client_ids)
    assert report.failed == 0, report.errors
    mine = await local_resources(local, TYPES)
    assert report.pushed >= len(mine) > 50
    theirs = await remote_resources(peer.http, TYPES)
    assert await differences(local, "peer", BASE, mine, theirs) == []
    if client_ids == "no":  # the remote assigned ids: none is ours
        assert not set(theirs) & set(mine)
    again = await sync(local, peer, "both", client_ids=client_ids)
    assert (again.pushed, again.pulled, again.deleted, again.failed) == (0, 0, 0, 0)


async def test_remote_create_update_delete_pulled(local: Context, peer: Peer) -> None:
    patient = await _create(peer, {"resourceType": "Patient", "name": [{"family": "Okafor"}]})
    plan = await _create(
        peer,
        {
            "resourceType": "CarePlan",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": f"Patient/{patient['id']}"},
        },
    )
    first = await sync(local, peer, "pull")
    assert (first.pulled, first.failed) == (2, 0)
    state = SyncState(local.store, "peer")
    ids = await state.local_ids([f"CarePlan/{plan['id']}", f"Patient/{patient['id']}"], False)
    local_plan = await local.store.read("CarePlan", ids[f"CarePlan/{plan['id']}"])
    assert local_plan is not None and local_plan.body is not None
    local_patient = ids[f"Patient/{patient['id']}"]
    assert f'"Patient/{local_patient}"'.encode() in local_plan.body

    plan["status"] = "completed"
    assert (
        await peer.http.put(f"CarePlan/{plan['id']}", json=plan, headers=FHIR_JSON)
    ).status_code == 200
    assert (await peer.http.delete(f"Patient/{patient['id']}")).status_code in (200, 204)
    second = await sync(local, peer, "pull")
    assert (second.pulled, second.deleted, second.failed) == (1, 1, 0)
    updated = await local.store.read("CarePlan", local_plan.id)
    assert updated is not None and updated.body is not None and b'"completed"' in updated.body
    gone = await local.store.read("Patient", local_patient)
    assert gone is not None and gone.deleted

    third = await sync(local, peer, "both")
    assert (third.pulled, third.pushed, third.deleted) == (0, 0, 0)


async def test_reference_before_its_target_resolves(local: Context, peer: Peer) -> None:
    """Goal is pulled before Patient (remote types order): the reference reserved a local
    id, and the patient lands on it."""
    patient = await _create(peer, {"resourceType": "Patient", "name": [{"family": "Late"}]})
    await _create(
        peer,
        {
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "description": {"text": "walk"},
            "subject": {"reference": f"Patient/{patient['id']}"},
        },
    )
    report = await engine.run(
        local, remote(types=["Goal", "Patient"]), "pull", transport=peer.transport
    )
    assert report.pulled == 2
    (goal,) = (await local_resources(local, ("Goal",))).values()
    target = goal["subject"]["reference"]
    assert await local.store.read(*target.split("/")) is not None


async def _diverged_goal(local: Context, peer: Peer, policy: str) -> tuple[str, dict[str, Any]]:
    """A Goal pulled from the peer, then made active here and cancelled there; its local
    key and the peer's copy."""
    from fhircare.sync import local as local_writes

    theirs = await _create(
        peer,
        {
            "resourceType": "Goal",
            "lifecycleStatus": "proposed",
            "description": {"text": "g"},
            "subject": {"reference": "Patient/p1"},
        },
    )
    await sync(local, peer, "pull", conflicts=policy)
    ((key, mine),) = (await local_resources(local, ("Goal",))).items()
    await local_writes.put(local, {**mine, "lifecycleStatus": "active"}, None)
    theirs["lifecycleStatus"] = "cancelled"
    answer = await peer.http.put(f"Goal/{theirs['id']}", json=theirs, headers=FHIR_JSON)
    assert answer.status_code == 200
    return key, theirs


@pytest.mark.parametrize(
    ("policy", "winner"), [("remote-wins", "remote"), ("local-wins", "local"), ("manual", None)]
)
async def test_conflict_policies(
    local: Context, peer: Peer, policy: str, winner: str | None
) -> None:
    key, theirs = await _diverged_goal(local, peer, policy)
    report = await sync(local, peer, "both", conflicts=policy)
    assert report.conflicted >= 1
    here = (await local_resources(local, ("Goal",)))[key]["lifecycleStatus"]
    there = (await peer.http.get(f"Goal/{theirs['id']}")).json()["lifecycleStatus"]
    if winner == "remote":
        assert here == there == "cancelled"
    elif winner == "local":
        assert here == there == "active"
    else:
        assert (here, there) == ("active", "cancelled")
        conflicts = await SyncState(local.store, "peer").conflicts()
        assert [c.value["resource"] for c in conflicts] == [key]


async def test_local_delete_pushed_and_not_resurrected(local: Context, peer: Peer) -> None:
    await load(local, [EXAMPLES / "02-patients.json"])
    await sync(local, peer, "push")
    mine = await local_resources(local, ("Patient",))
    victim = sorted(mine)[0]
    from fhircare.sync import local as local_writes

    await local_writes.remove(local, *victim.split("/"), None)
    report = await sync(local, peer, "both")
    assert report.deleted == 1
    theirs = await remote_resources(peer.http, ("Patient",))
    assert victim not in theirs and len(theirs) == len(mine) - 1
    again = await sync(local, peer, "both")
    assert (again.pulled, again.pushed, again.deleted) == (0, 0, 0)
    current = await local.store.read(*victim.split("/"))
    assert current is not None and current.deleted


async def test_dry_run_changes_nothing(local: Context, peer: Peer) -> None:
    await load(local, [EXAMPLES / "02-patients.json"])
    report = await engine.run(local, remote(), "push", dry_run=True, transport=peer.transport)
    assert report.pushed > 0 and report.dry_run
    assert await remote_resources(peer.http, ("Patient",)) == {}
    real = await sync(local, peer, "push")
    assert real.pushed == report.pushed


@pytest.mark.parametrize("keep", ["local", "remote"])
async def test_manual_conflict_resolved(local: Context, peer: Peer, keep: str) -> None:
    from fhircare.sync import conflicts

    key, theirs = await _diverged_goal(local, peer, "manual")
    await sync(local, peer, "both", conflicts="manual")
    (open_conflict,) = await conflicts.list_conflicts(local, "peer")
    assert open_conflict["resource"] == key

    report = await conflicts.resolve(
        local,
        remote(conflicts="manual"),
        key,
        keep,
        transport=peer.transport,  # type: ignore[arg-type]
    )
    assert report.failed == 0, report.errors
    assert await conflicts.list_conflicts(local, "peer") == []
    expected = "active" if keep == "local" else "cancelled"
    here = (await local_resources(local, ("Goal",)))[key]["lifecycleStatus"]
    there = (await peer.http.get(f"Goal/{theirs['id']}")).json()["lifecycleStatus"]
    assert here == there == expected
    after = await sync(local, peer, "both", conflicts="manual")
    assert (after.conflicted, after.pulled, after.pushed) == (0, 0, 0)
    with pytest.raises(conflicts.NoSuchConflict):
        await conflicts.resolve(local, remote(), key, "local", transport=peer.transport)
