"""``POST [base]/$sync`` and ``GET|POST [base]/$sync-status`` (``sync/operations.py``) over
the in-process app on every store: https://hl7.org/fhir/R4/operations.html (parameters in
the query or a Parameters body, the answer a Parameters resource, errors as
OperationOutcome), their OperationDefinitions in ``profiles/`` and the CapabilityStatement
naming them; and one ``$sync`` pushing to and pulling from a live fhircare peer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhircare.app import create_app
from fhircare.interactions.capabilities import SYSTEM_OPERATIONS
from fhircare.interactions.request import Limits
from fhircare.interactions.resource_body import check_resource
from fhircare.settings import Settings
from fhircare.storage.mongo.ferretdb import free_port
from fhircare.storage.protocol import ResourceStore
from fhircare.storage.sqlite.store import SqliteStore
from fhircare.sync.operations import (
    STATUS_INPUTS,
    SYNC_INPUTS,
    SYNC_STATUS_URL,
    SYNC_URL,
    report_parameters,
)
from fhircare.sync.report import RunReport
from fhircare.sync.state import SyncState
from tests.peers.fixtures import Peer

PROFILES = Path(__file__).resolve().parents[3] / "profiles"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def remotes(tmp_path: Path) -> Path:
    """A remotes file naming ``down``: a loopback port nothing listens on, no retries."""
    path = tmp_path / "remotes.toml"
    path.write_text(
        f"""
[remotes.down]
base_url = "http://127.0.0.1:{free_port()}/fhir"
retries = 0
timeout = 5
types = ["Patient", "Goal"]
"""
    )
    return path


@pytest.fixture
def settings(remotes: Path) -> Settings:
    """The ``client`` fixture's settings, with the remotes file."""
    return Settings(max_body_bytes=64 * 1024, max_count=50, sync_remotes=remotes)


def parameters(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": n, **v} for n, v in pairs]}


def values(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """name → value of a Parameters' parameters (or a parameter's parts); repeated names
    (``error``, ``run``) → a list."""
    out: dict[str, Any] = {}
    for part in parts:
        value = (
            part["part"]
            if "part" in part
            else next(v for k, v in part.items() if k.startswith("value"))
        )
        if part["name"] in ("error", "run", "remote") and "part" in part:
            out.setdefault(part["name"], []).append(value)
        else:
            out[part["name"]] = value
    return out


def assert_outcome(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == code, body
    return body["issue"][0]


def assert_valid(resource: dict[str, Any]) -> None:
    for engine in ("fhirkit", "models"):
        check_resource(resource, resource["resourceType"], Limits(validator=engine))


async def test_an_unknown_remote_is_404(client: httpx.AsyncClient) -> None:
    body = parameters(("remote", {"valueString": "nowhere"}))
    issue = assert_outcome(await client.post("/$sync", json=body), 404, "not-found")
    assert "nowhere" in issue["diagnostics"] and "down" in issue["diagnostics"]
    issue = assert_outcome(await client.get("/$sync-status?remote=nowhere"), 404, "not-found")


@pytest.mark.parametrize(
    ("query", "body", "expression"),
    [
        (
            "",
            parameters(("remote", {"valueString": "down"}), ("direction", {"valueCode": "up"})),
            "Parameters.parameter[1].valueCode",
        ),
        ("?remote=down&direction=sideways", None, "direction"),
        ("?remote=down&dryRun=maybe", None, "dryRun"),
        ("", parameters(("direction", {"valueCode": "pull"})), "remote"),
        ("?remote=down&since=2026", None, "since"),
        ("?remote=down&remote=down", None, "remote"),
        ("", parameters(("remote", {"valueInteger": 7})), "Parameters.parameter[0].value[x]"),
        (
            "",
            parameters(("remote", {"valueString": "down"}), ("other", {"valueString": "x"})),
            "Parameters.parameter[1]",
        ),
    ],
)
async def test_bad_parameters_are_400(
    client: httpx.AsyncClient, query: str, body: dict[str, Any] | None, expression: str
) -> None:
    response = (
        await client.post(f"/$sync{query}", json=body)
        if body
        else await client.post(f"/$sync{query}")
    )
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == [expression], issue


async def test_a_body_that_is_not_parameters_is_400(client: httpx.AsyncClient) -> None:
    patient = {"resourceType": "Patient", "id": "x"}
    assert_outcome(await client.post("/$sync", json=patient), 400, "invalid")
    assert_outcome(await client.post("/$sync", content=b"{", headers=FHIR_JSON), 400, "structure")
    response = await client.post(
        "/$sync?remote=down", content=b"<x/>", headers={"Content-Type": "application/fhir+xml"}
    )
    assert response.status_code == 415


async def test_a_remote_that_is_down_answers_200_failed_and_status_lists_the_run(
    client: httpx.AsyncClient,
) -> None:
    body = parameters(("remote", {"valueString": "down"}), ("direction", {"valueCode": "pull"}))
    response = await client.post("/$sync", json=body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert_valid(report)
    found = values(report["parameter"])
    assert found["remote"] == "down" and found["direction"] == "pull"
    assert found["status"] == "failed" and found["dryRun"] is False
    assert found["failed"] == 1 and found["pulled"] == 0
    [error] = found["error"]
    error_values = values(error)
    assert error_values["resource"] == "run" and error_values["side"] == "remote"
    assert "127.0.0.1" in error_values["diagnostics"]

    dry = await client.post("/$sync?remote=down&dryRun=true")
    assert dry.status_code == 200, dry.text
    assert values(dry.json()["parameter"])["dryRun"] is True
    assert values(dry.json()["parameter"])["direction"] == "both"  # the remote's own

    for status in (
        await client.get("/$sync-status"),
        await client.get("/$sync-status?remote=down&count=5"),
        await client.post("/$sync-status", json=parameters(("remote", {"valueString": "down"}))),
    ):
        assert status.status_code == 200, status.text
        assert_valid(status.json())
        listed = values(status.json()["parameter"])
        runs = [values(run) for run in listed["run"]]
        assert [run["id"] for run in runs] == [values(dry.json()["parameter"])["id"], found["id"]]
        assert runs[1]["status"] == "failed" and values(runs[1]["error"][0])["side"] == "remote"
        assert listed["openConflicts"] == 0
        [remote] = [values(r) for r in listed["remote"]]
        assert remote["name"] == "down" and remote["openConflicts"] == 0
    one = await client.get("/$sync-status?count=1")
    assert len(values(one.json()["parameter"])["run"]) == 1
    assert_outcome(await client.get("/$sync-status?count=0"), 400, "invalid")


async def test_open_conflicts_are_counted(client: httpx.AsyncClient, store: ResourceStore) -> None:
    await SyncState(store, "down").add_conflict(
        "Patient",
        "p1",
        {
            "resource": "Patient/p1",
            "remote": "Patient/9",
            "found": "pull",
            "local_version": 2,
            "local_deleted": False,
            "remote_version": "3",
            "remote_deleted": False,
            "remote_resource": {"resourceType": "Patient", "id": "9"},
        },
    )
    response = await client.get("/$sync-status")
    assert values(response.json()["parameter"])["openConflicts"] == 1


async def test_a_remote_another_worker_runs_is_409(
    client: httpx.AsyncClient, store: ResourceStore
) -> None:
    await SyncState(store, "down").acquire(60)  # another worker's lease
    issue = assert_outcome(await client.post("/$sync?remote=down"), 409, "conflict")
    assert "another worker" in issue["diagnostics"]


async def test_an_unusable_remotes_file_is_503_naming_the_field(
    client: httpx.AsyncClient, remotes: Path
) -> None:
    remotes.write_text('[remotes.down]\nbase_url = "http://127.0.0.1:1/fhir"\npage_size = 0\n')
    issue = assert_outcome(await client.post("/$sync?remote=down"), 503, "exception")
    assert "remotes.down.page_size" in issue["diagnostics"]
    remotes.write_text(
        '[remotes.down]\nbase_url = "http://127.0.0.1:1/fhir"\n'
        '[remotes.down.auth]\nkind = "bearer"\ntoken_env = "FHIRCARE_TEST_UNSET_TOKEN"\n'
    )
    issue = assert_outcome(await client.post("/$sync?remote=down"), 503, "exception")
    assert "token_env" in issue["diagnostics"]


async def test_the_capability_statement_names_both_operations(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    operations = statement["rest"][0]["operation"]
    assert {"name": "sync", "definition": SYNC_URL} in operations
    assert {"name": "sync-status", "definition": SYNC_STATUS_URL} in operations
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths["/$sync"]) == {"post"}
    assert set(paths["/$sync-status"]) == {"get", "post"}
    assert (await client.get("/$sync")).status_code == 405


def test_the_operation_definitions_match_what_is_served() -> None:
    """``profiles/`` holds valid OperationDefinitions whose canonical URLs the statement
    names and whose parameters are the ones the operations read and write."""
    definitions = {
        path.stem.removeprefix("OperationDefinition-"): json.loads(path.read_text())
        for path in PROFILES.glob("OperationDefinition-*.json")
    }
    definitions = {code: d for code, d in definitions.items() if d["system"]}
    assert set(definitions) == {"sync", "sync-status"}
    declared = {op["name"]: op["definition"] for op in SYSTEM_OPERATIONS}
    for code, definition in definitions.items():
        assert_valid(definition)
        assert definition["code"] == code and definition["system"] is True
        assert definition["url"] == declared[code]
    sync, status = definitions["sync"], definitions["sync-status"]
    report = RunReport("down", "both")
    report.error("Patient/1", "refused", "remote", "Patient.name")
    report.finish("completed with errors")
    emitted = values(report_parameters(report.as_dict()))

    def names(definition: dict[str, Any], use: str) -> set[str]:
        return {p["name"] for p in definition["parameter"] if p["use"] == use}

    def parts(definition: dict[str, Any], name: str) -> list[dict[str, Any]]:
        return next(p["part"] for p in definition["parameter"] if p["name"] == name)

    assert names(sync, "in") == set(SYNC_INPUTS)
    assert names(status, "in") == set(STATUS_INPUTS)
    assert names(sync, "out") == set(emitted)
    assert {p["name"] for p in parts(sync, "error")} == set(values(emitted["error"][0]))
    assert {p["name"] for p in parts(status, "run")} == set(emitted)
    assert names(status, "out") == {"run", "remote", "openConflicts"}


# -- against a live fhircare peer -----------------------------------------------------------


@dataclass
class Local:
    http: httpx.AsyncClient
    tag: tuple[str, str]


@pytest.fixture
async def local(tmp_path: Path, fhircare_peer: Peer) -> AsyncIterator[Local]:
    """The in-process app on a SQLite file, with ``peer`` in its remotes file: the live
    fhircare peer, narrowed to this test's tagged Patients (the peer is shared)."""
    tag = ("urn:test:sync-operations", uuid.uuid4().hex[:12])
    remotes = tmp_path / "peer-remotes.toml"
    remotes.write_text(
        f"""
[remotes.peer]
base_url = "{fhircare_peer.base_url}"
retries = 2
types = [{{ type = "Patient", filter = "_tag={tag[0]}|{tag[1]}" }}]
"""
    )
    store = SqliteStore(tmp_path / "local.sqlite3")
    app = create_app(Settings(sync_remotes=remotes), store)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
                yield Local(http, tag)
    finally:
        await store.close()


async def test_sync_pushes_to_and_pulls_from_a_live_fhircare_peer(
    local: Local, fhircare_peer: Peer
) -> None:
    system, code = local.tag
    tagged = {"meta": {"tag": [{"system": system, "code": code}]}}
    mine = {"resourceType": "Patient", "name": [{"family": "Local"}], **tagged}
    created = await local.http.post("/Patient", json=mine, headers=FHIR_JSON)
    assert created.status_code == 201, created.text

    pushed = await local.http.post("/$sync?remote=peer&direction=push")
    assert pushed.status_code == 200, pushed.text
    report = values(pushed.json()["parameter"])
    assert report["status"] == "completed" and report["pushed"] == 1, report

    async with httpx.AsyncClient(base_url=fhircare_peer.base_url, timeout=30) as peer:
        found = await peer.get("/Patient", params={"_tag": f"{system}|{code}"})
        names = [e["resource"]["name"] for e in found.json().get("entry", [])]
        assert names == [[{"family": "Local"}]]
        theirs = {"resourceType": "Patient", "name": [{"family": "Remote"}], **tagged}
        assert (await peer.post("/Patient", json=theirs, headers=FHIR_JSON)).status_code == 201

    body = parameters(("remote", {"valueString": "peer"}), ("direction", {"valueCode": "pull"}))
    pulled = await local.http.post("/$sync", json=body)
    report = values(pulled.json()["parameter"])
    assert report["status"] == "completed" and report["pulled"] == 1, report
    here = await local.http.get("/Patient", params={"_tag": f"{system}|{code}"})
    families = sorted(e["resource"]["name"][0]["family"] for e in here.json()["entry"])
    assert families == ["Local", "Remote"]
