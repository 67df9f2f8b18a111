"""The sync adapter against live peers on loopback: HAPI FHIR JPA 8.8.0 and a second
fhircare process (``tests/peers``), both directions.

- The example data pushed and read back field for field, apart from ``id``, ``meta`` and
  references rewritten by the id map; a second run sends nothing.
- A remote create, update and delete pulled back.
- Convergence: random creates, updates and deletes on both sides, sync runs with 20% of
  remote calls failing (refused, 503, or the answer lost after the remote did the work) and
  one run killed with SIGKILL half-way; afterwards both sides hold the same resources, with
  no duplicate and no deleted resource come back.

The peers are shared by the whole session, so each test uses remote names, identifiers
and tags of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhircare.app import context_for
from fhircare.fhir import jsonio
from fhircare.interactions.request import Context
from fhircare.loader import load
from fhircare.settings import Settings
from fhircare.storage.memory import MemoryStore
from fhircare.storage.sqlite.store import SqliteStore
from fhircare.sync import engine
from fhircare.sync import local as local_writes
from fhircare.sync.remotes import CARE_TYPES, parse_remote
from fhircare.sync.state import SyncState
from tests.integration.sync.sides import FHIR_JSON, differences, local_resources
from tests.integration.sync.worker import LEASE_SECONDS
from tests.peers.fixtures import Peer

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
TYPES = (*CARE_TYPES, "Observation", "Encounter", "QuestionnaireResponse")


@pytest.fixture(params=["fhircare", "hapi"])
def peer(request: pytest.FixtureRequest) -> Peer:
    return request.getfixturevalue(f"{request.param}_peer")  # type: ignore[no-any-return]


@pytest.fixture
async def http(peer: Peer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=peer.base_url, timeout=60, headers=FHIR_JSON) as client:
        yield client


async def memory_context() -> Context:
    context = context_for(Settings(), MemoryStore())
    await context.search_parameters.load()
    return context


async def linked_remote(
    context: Context, name: str, http: httpx.AsyncClient, keys: list[str]
) -> dict[str, dict[str, Any]]:
    """The remote resource each local key is linked to, read by id."""
    links = await SyncState(context.store, name).links(keys)
    found = {}
    for key, link in links.items():
        remote_key = f"{key.split('/')[0]}/{link.remote_id}"
        response = await http.get(remote_key)
        if response.status_code == 200:
            found[remote_key] = jsonio.loads(response.content)
    return found


async def test_examples_pushed_and_read_back(peer: Peer, http: httpx.AsyncClient) -> None:
    context = await memory_context()
    await load(context, [EXAMPLES])
    name = f"{peer.name}-{uuid.uuid4().hex[:8]}"
    remote = parse_remote(name, {"base_url": peer.base_url, "types": list(TYPES)})
    report = await engine.run(context, remote, "push")
    assert (report.status, report.failed) == ("completed", 0), report.errors
    mine = await local_resources(context, TYPES)
    assert report.pushed >= len(mine) > 50
    theirs = await linked_remote(context, name, http, sorted(mine))
    assert await differences(context, name, peer.base_url, mine, theirs) == []
    again = await engine.run(context, remote, "push")
    assert (again.pushed, again.deleted, again.failed) == (0, 0, 0)


async def test_remote_create_update_delete_pulled(peer: Peer, http: httpx.AsyncClient) -> None:
    context = await memory_context()
    mark = uuid.uuid4().hex
    patient = (
        await http.post("Patient", json={"resourceType": "Patient", "name": [{"text": mark}]})
    ).json()
    goal_body = {
        "resourceType": "Goal",
        "lifecycleStatus": "proposed",
        "description": {"text": mark},
        "subject": {"reference": f"Patient/{patient['id']}"},
    }
    goal = (await http.post("Goal", json=goal_body)).json()
    remote = parse_remote(
        f"{peer.name}-{mark[:8]}", {"base_url": peer.base_url, "types": ["Patient", "Goal"]}
    )
    first = await engine.run(context, remote, "pull")
    assert first.failed == 0, first.errors

    def mine(resource_type: str) -> dict[str, Any]:
        return {
            k: v
            for k, v in local.items()
            if mark in jsonio.dumps(v).decode() and k.startswith(resource_type)
        }

    local = await local_resources(context, ("Patient", "Goal"))
    ((goal_key, local_goal),) = mine("Goal").items()
    ((patient_key, _),) = mine("Patient").items()
    assert local_goal["subject"]["reference"] == patient_key
    assert local_goal["lifecycleStatus"] == "proposed"

    goal["lifecycleStatus"] = "active"
    assert (await http.put(f"Goal/{goal['id']}", json=goal)).status_code == 200
    second = await engine.run(context, remote, "pull")
    local = await local_resources(context, ("Patient", "Goal"))
    assert local[goal_key]["lifecycleStatus"] == "active"
    assert second.pulled >= 1

    assert (await http.delete(f"Goal/{goal['id']}")).status_code in (200, 204)
    third = await engine.run(context, remote, "pull")
    assert third.deleted >= 1
    current = await context.store.read(*goal_key.split("/"))
    assert current is not None and current.deleted
    fourth = await engine.run(context, remote, "both")
    assert (fourth.pushed, fourth.deleted, fourth.failed) == (0, 0, 0)


# -- convergence -----------------------------------------------------------------------

ROUNDS = 3
OPS_PER_SIDE = 12
FAULT_RATE = 0.2


class World:
    """Both sides and what each identifier should be at the end."""

    def __init__(self, context: Context, http: httpx.AsyncClient, seed: int) -> None:
        self.context = context
        self.http = http
        self.system = f"urn:test:converge:{uuid.uuid4().hex}"
        self.random = random.Random(seed)
        self.expected: dict[str, str | None] = {}  # identifier → marker; None: deleted
        self.counter = 0

    def body(
        self, resource_type: str, value: str, marker: str, patient: str | None
    ) -> dict[str, Any]:
        identifier = [{"system": self.system, "value": value}]
        if resource_type == "Patient":
            return {"resourceType": "Patient", "identifier": identifier, "name": [{"text": marker}]}
        subject = {"reference": patient}
        if resource_type == "Goal":
            return {
                "resourceType": "Goal",
                "identifier": identifier,
                "lifecycleStatus": "active",
                "description": {"text": marker},
                "subject": subject,
            }
        return {
            "resourceType": "Task",
            "identifier": identifier,
            "status": "requested",
            "intent": "order",
            "description": marker,
            "for": subject,
        }

    async def local_side(self) -> dict[str, list[dict[str, Any]]]:
        return self._by_identifier(
            list((await local_resources(self.context, ("Patient", "Goal", "Task"))).values())
        )

    async def remote_side(self) -> dict[str, list[dict[str, Any]]]:
        found = []
        for resource_type in ("Patient", "Goal", "Task"):
            url: str | None = f"{resource_type}?identifier={self.system}|&_count=200"
            while url is not None:
                response = await self.http.get(url)
                assert response.status_code == 200, response.text
                bundle = jsonio.loads(response.content)
                found.extend(e["resource"] for e in bundle.get("entry") or [])
                url = next(
                    (k["url"] for k in bundle.get("link", []) if k["relation"] == "next"), None
                )
        return self._by_identifier(found)

    def _by_identifier(self, resources: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for resource in resources:
            for identifier in resource.get("identifier") or []:
                if identifier.get("system") == self.system:
                    out.setdefault(identifier["value"], []).append(resource)
        return out

    @staticmethod
    def marker(resource: dict[str, Any]) -> str:
        kind = resource["resourceType"]
        if kind == "Patient":
            return str(resource["name"][0]["text"])
        if kind == "Goal":
            return str(resource["description"]["text"])
        return str(resource["description"])

    async def round(self, number: int) -> None:
        """Random creates, updates and deletes on both sides; a resource changes on one
        side only per round (which side wins a conflict has tests of its own)."""
        sides = {"local": await self.local_side(), "remote": await self.remote_side()}
        taken: set[str] = set()
        for side in ("local", "remote"):
            present = sides[side]
            for _ in range(OPS_PER_SIDE):
                self.counter += 1
                marker = f"{side}-r{number}-{self.counter}"
                alive = [
                    v for v, rs in present.items() if rs and v not in taken and self.expected.get(v)
                ]
                patients = [v for v in alive if present[v][0]["resourceType"] == "Patient"]
                leaves = [v for v in alive if present[v][0]["resourceType"] != "Patient"]
                roll = self.random.random()
                if roll < 0.35 or not alive:
                    kind = (
                        "Patient"
                        if not patients or self.random.random() < 0.3
                        else self.random.choice(["Goal", "Task"])
                    )
                    value = f"{side}-{self.counter}"
                    patient = None
                    if kind != "Patient":
                        patient = f"Patient/{present[self.random.choice(patients)][0]['id']}"
                    await self.create(side, self.body(kind, value, marker, patient))
                    taken.add(value)
                    self.expected[value] = marker
                elif roll < 0.75 or not leaves:
                    value = self.random.choice(alive)
                    resource = dict(present[value][0])
                    changed = self.body(resource["resourceType"], value, marker, _subject(resource))
                    await self.update(side, {**changed, "id": resource["id"]})
                    taken.add(value)
                    self.expected[value] = marker
                else:
                    value = self.random.choice(leaves)
                    resource = present[value][0]
                    await self.delete(side, resource["resourceType"], resource["id"])
                    taken.add(value)
                    self.expected[value] = None

    async def create(self, side: str, body: dict[str, Any]) -> None:
        if side == "local":
            await local_writes.put(self.context, {**body, "id": str(uuid.uuid4())}, 0)
        else:
            response = await self.http.post(body["resourceType"], json=body)
            assert response.status_code == 201, response.text

    async def update(self, side: str, body: dict[str, Any]) -> None:
        if side == "local":
            await local_writes.put(self.context, body, None)
        else:
            response = await self.http.put(f"{body['resourceType']}/{body['id']}", json=body)
            assert response.status_code == 200, response.text

    async def delete(self, side: str, resource_type: str, id: str) -> None:
        if side == "local":
            await local_writes.remove(self.context, resource_type, id, None)
        else:
            response = await self.http.delete(f"{resource_type}/{id}")
            assert response.status_code in (200, 204), response.text


def _subject(resource: dict[str, Any]) -> str | None:
    for field in ("subject", "for"):
        if field in resource:
            return str(resource[field]["reference"])
    return None


def run_worker(
    database: Path, fields: dict[str, Any], seed: int, kill_after: int | None = None
) -> dict[str, Any] | None:
    """One sync run in a subprocess with 20% of remote calls failing; killed with SIGKILL
    after ``kill_after`` progress lines. The report, or None when killed."""
    command = [
        sys.executable,
        "-m",
        "tests.integration.sync.worker",
        str(database),
        json.dumps(fields),
        str(FAULT_RATE),
        str(seed),
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    lines = 0
    report = None
    for line in process.stdout:
        if line.startswith("progress"):
            lines += 1
            if kill_after is not None and lines >= kill_after:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return None
        elif line.startswith("report "):
            report = json.loads(line[len("report ") :])
    assert process.wait(timeout=600) == 0
    return report


def settle(database: Path, fields: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """Runs until one completes without a failure (each with 20% of calls failing)."""
    reports = []
    for attempt in range(6):
        report = run_worker(database, fields, seed * 100 + attempt)
        assert report is not None
        reports.append(report)
        if report["status"] == "completed" and report["failed"] == 0:
            return reports
    raise AssertionError(f"no clean run in {len(reports)}: {reports[-1]}")


async def test_convergence_under_faults_and_a_kill(
    peer: Peer, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    database = tmp_path / "local.sqlite3"
    store = SqliteStore(database)
    await store.open()
    context = context_for(Settings(sqlite_path=database), store)
    await context.search_parameters.load()
    seed = random.randrange(1_000_000)
    world = World(context, http, seed)
    name = f"{peer.name}-converge-{uuid.uuid4().hex[:8]}"
    fields = {
        "name": name,
        "base_url": peer.base_url,
        "types": ["Patient", "Goal", "Task"],
        "page_size": 4,
        "retries": 10,
        "backoff": 0.02,
        "max_backoff": 0.1,
    }
    try:
        await world.round(0)
        killed = run_worker(database, fields, seed, kill_after=3 + seed % 6)  # pull or push
        assert killed is None, "the run ended before it could be killed"
        await asyncio.sleep(LEASE_SECONDS + 0.5)  # the killed run's lease runs out
        reports = settle(database, fields, seed)
        for number in range(1, ROUNDS + 1):
            await world.round(number)
            reports += settle(database, fields, seed + number)
        here, there = await world.local_side(), await world.remote_side()
        for value, marker in world.expected.items():
            for side, found in (("local", here), ("remote", there)):
                resources = found.get(value, [])
                if marker is None:
                    assert resources == [], f"{value} deleted, yet on the {side} side"
                else:
                    assert len(resources) == 1, f"{value}: {len(resources)} on the {side} side"
                    assert World.marker(resources[0]) == marker, f"{value} on the {side} side"
        assert set(here) <= set(world.expected) and set(there) <= set(world.expected)
        retried = sum(r["retries"] for r in reports)
        assert retried > 0, "no call failed: the faults were not injected"
        print(
            f"\nconvergence with {peer.name}: {len(world.expected)} resources, "
            f"{sum(1 for m in world.expected.values() if m is None)} deleted, "
            f"{len(reports) + 1} runs (one killed), {retried} retried calls, "
            "0 duplicates, 0 resurrected"
        )
    finally:
        await store.close()
