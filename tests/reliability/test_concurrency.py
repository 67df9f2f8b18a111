"""Concurrency across processes: three ``fhircare serve`` processes (their own ports) share
one database, so only the store can keep the writes apart; no lock in any one process
can. On SQLite each has two workers, six processes writing one file.

1. Many clients update five Tasks with ``If-Match``
   (https://hl7.org/fhir/R4/http.html#concurrency), re-reading and retrying on 412: every
   success is the one version after the one it read, no version is lost or doubled, and
   each version holds the content its writer sent.
2. Fifty identical conditional creates (http.html#ccreate) make one resource.
3. Readers never see a resource half-written while writers change it.
4. Concurrent transactions over shared resources (http.html#transaction) land whole or not
   at all.

The default sizes keep ``make test`` short; ``FHIRCARE_TEST_LONG=1`` runs the full ones
(20 clients x 50 updates, and more of everything else).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from fhircare.processes import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("FHIRCARE_TEST_LONG") == "1"
SERVERS = 3
CLIENTS, UPDATES = (20, 50) if LONG else (10, 20)
TASKS = 5
CONDITIONAL_CREATES = 50
TORN_WRITERS, TORN_WRITES, TORN_READERS = (3, 100, 6) if LONG else (3, 25, 6)
TRANSACTIONS, IF_MATCH_TRANSACTIONS = (60, 15) if LONG else (20, 5)
HANG_GUARD = 600 if LONG else 240  # seconds for a whole workload; only against a hang
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module", params=["sqlite", "mongo"])
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """The base URLs of three server processes over one fresh database: on SQLite, three
    processes of two workers each on one file; on MongoDB (FerretDB), one worker each."""
    database = f"concurrency_{uuid.uuid4().hex[:8]}"
    logs = tmp_path_factory.mktemp("concurrency")
    sqlite = request.param == "sqlite"
    store = str(logs / "store.sqlite3") if sqlite else request.getfixturevalue("mongo_uri")
    started: list[ServerProcess] = []
    try:
        for n in range(SERVERS):  # started together, then waited for
            log = logs / f"server{n}.log"
            workers = 2 if sqlite else 1
            started.append(ServerProcess(store, database, workers=workers, log_path=log, cwd=ROOT))
        for server in started:
            server.wait_ready()
        assert len({s.port for s in started}) == SERVERS
        yield [s.base_url for s in started]
    finally:
        for server in started:
            server.stop()
        if not sqlite:
            with MongoClient(store) as mongo:
                mongo.drop_database(database)


@asynccontextmanager
async def clients(base_urls: list[str]) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One HTTP client per server; client ``n`` of a workload uses ``https[n % 3]``."""
    limits = httpx.Limits(max_connections=64)
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=120, limits=limits)
            )
            for url in base_urls
        ]


def version_of(response: httpx.Response) -> int:
    """The version an ``ETag: W/"n"`` header names."""
    etag = response.headers["etag"]
    assert etag.startswith('W/"') and etag.endswith('"'), etag
    return int(etag[3:-1])


def task(id: str, description: str, **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "id": id,
        "status": "requested",
        "intent": "order",
        "description": description,
        **fields,
    }


async def put(http: httpx.AsyncClient, resource: dict[str, Any], **headers: str) -> httpx.Response:
    url = f"/{resource['resourceType']}/{resource['id']}"
    return await http.put(url, json=resource, headers={**FHIR_JSON, **headers})


async def history_versions(http: httpx.AsyncClient, path: str) -> tuple[int, list[dict]]:
    """``total`` of an instance history and every version it lists, walking each page."""
    url: str | None = f"{path}/_history?_count=1000"
    total = None
    versions: list[dict] = []
    while url is not None:
        page = await http.get(url)
        assert page.status_code == 200, page.text
        bundle = page.json()
        total = bundle["total"] if total is None else total
        versions += [entry["resource"] for entry in bundle.get("entry", [])]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert total is not None
    return total, versions


async def check_history(http: httpx.AsyncClient, path: str, expected_last: int) -> list[dict]:
    """The resource is at ``expected_last`` and its history holds exactly 1..that, once each;
    returns the versions, oldest first."""
    current = await http.get(path)
    assert current.status_code == 200, current.text
    latest = current.json()["meta"]["versionId"]
    assert latest == str(expected_last), f"{path} is at version {latest}, not {expected_last}"
    assert version_of(current) == expected_last
    total, versions = await history_versions(http, path)
    numbers = sorted(int(v["meta"]["versionId"]) for v in versions)
    assert total == expected_last, f"{path}: history total {total}, expected {expected_last}"
    assert numbers == list(range(1, expected_last + 1)), f"{path}: history has {numbers}"
    return sorted(versions, key=lambda v: int(v["meta"]["versionId"]))


@dataclass(frozen=True)
class Success:
    """An update the server acknowledged: the version it read, the one it got, what it sent."""

    read: int
    version: int
    marker: str


async def test_if_match_updates_from_many_clients_across_three_servers(
    servers: list[str],
) -> None:
    run = uuid.uuid4().hex[:8]
    ids = [f"im-{run}-{k}" for k in range(TASKS)]
    successes: dict[str, list[Success]] = defaultdict(list)
    refused: Counter[str] = Counter()

    async def one_client(http: httpx.AsyncClient, c: int) -> None:
        for j in range(UPDATES):
            id = ids[(c + j) % TASKS]
            attempt = 0
            while True:
                attempt += 1
                read = await http.get(f"/Task/{id}")
                assert read.status_code == 200, read.text
                body = read.json()
                assert version_of(read) == int(body["meta"]["versionId"])
                marker = f"client {c} update {j} attempt {attempt}"
                body["description"] = marker
                answer = await put(http, body, **{"If-Match": read.headers["etag"]})
                if answer.status_code == 412:
                    refused[id] += 1
                    continue
                assert answer.status_code == 200, answer.text
                got = version_of(answer)
                assert answer.json()["meta"]["versionId"] == str(got)
                successes[id].append(Success(version_of(read), got, marker))
                break

    async with clients(servers) as https:
        for id in ids:
            created = await put(https[0], task(id, "created"))
            assert created.status_code == 201, created.text
        workload = asyncio.gather(*(one_client(https[c % SERVERS], c) for c in range(CLIENTS)))
        await asyncio.wait_for(workload, HANG_GUARD)

        assert sum(len(s) for s in successes.values()) == CLIENTS * UPDATES
        for n, id in enumerate(ids):
            mine = successes[id]
            # If-Match made each success the version right after the one its writer read
            lost = [s for s in mine if s.version != s.read + 1]
            assert not lost, f"Task/{id}: updates that did not build on what they read: {lost}"
            claimed = sorted(s.version for s in mine)
            assert claimed == list(range(2, len(mine) + 2)), f"Task/{id}: versions {claimed}"
            http = https[n % SERVERS]
            versions = await check_history(http, f"/Task/{id}", 1 + len(mine))
            for s in mine:  # the history and vread agree with what each writer was told
                assert versions[s.version - 1]["description"] == s.marker
                vread = await http.get(f"/Task/{id}/_history/{s.version}")
                assert vread.status_code == 200 and vread.json()["description"] == s.marker
    print(f"If-Match: {CLIENTS * UPDATES} updates, {sum(refused.values())} answered 412")


async def test_identical_conditional_creates_across_three_servers_make_one(
    servers: list[str],
) -> None:
    system, value = "http://example.org/mrn", f"cc-{uuid.uuid4().hex[:8]}"
    body = {"resourceType": "Patient", "identifier": [{"system": system, "value": value}]}
    headers = {**FHIR_JSON, "If-None-Exist": f"identifier={system}|{value}"}
    async with clients(servers) as https:
        requests = (
            https[n % SERVERS].post("/Patient", json=body, headers=headers)
            for n in range(CONDITIONAL_CREATES)
        )
        results = await asyncio.wait_for(asyncio.gather(*requests), HANG_GUARD)
        statuses = Counter(r.status_code for r in results)
        assert statuses == {201: 1, 200: CONDITIONAL_CREATES - 1}, [
            r.text for r in results if r.status_code not in (200, 201)
        ]
        named = {
            r.headers["location"].split("/fhir/", 1)[1].split("/_history/")[0] for r in results
        }
        assert len(named) == 1, named
        assert {f"Patient/{r.json()['id']}" for r in results} == named
        for http in https:  # every server finds the one resource
            params = {"identifier": f"{system}|{value}", "_total": "accurate"}
            found = (await http.get("/Patient", params=params)).json()
            assert found["total"] == 1, found
            assert [f"Patient/{e['resource']['id']}" for e in found["entry"]] == list(named)


PADDING = 400  # the counter repeated in a long note, so a body is some kilobytes


def torn_task(id: str, counter: str) -> dict[str, Any]:
    """A Task whose ``description``, first note and (repeated) second note carry one
    counter: a body mixing two versions breaks that."""
    notes = [{"text": counter}, {"text": " ".join([counter] * PADDING)}]
    return task(id, counter, note=notes)


def check_whole(response: httpx.Response) -> int:
    """A read of a ``torn_task``: valid JSON, consistent, and its version."""
    assert response.status_code == 200, response.text
    body = response.json()  # raises on a body that is not JSON
    version = body["meta"]["versionId"]
    assert response.headers["etag"] == f'W/"{version}"', (response.headers["etag"], version)
    counter = body["description"]
    assert body["note"][0]["text"] == counter, (counter, body["note"][0]["text"])
    assert body["note"][1]["text"] == " ".join([counter] * PADDING), counter
    return int(version)


async def test_readers_never_see_a_torn_resource(servers: list[str]) -> None:
    id = f"torn-{uuid.uuid4().hex[:8]}"
    done = asyncio.Event()
    landed: list[int] = []
    seen: list[set[int]] = [set() for _ in range(TORN_READERS)]

    async def writer(http: httpx.AsyncClient, w: int) -> None:
        for i in range(TORN_WRITES):
            answer = await put(http, torn_task(id, f"writer {w} write {i}"))
            # without If-Match a lost race is retried on the newer version; 409 if it
            # keeps losing, and then nothing landed
            assert answer.status_code in (200, 409), answer.text
            if answer.status_code == 200:
                landed.append(version_of(answer))

    async def reader(http: httpx.AsyncClient, r: int) -> None:
        last = 0
        while not done.is_set():
            version = check_whole(await http.get(f"/Task/{id}"))
            assert version >= last, f"reader {r} saw version {version} after {last}"
            last = version
            seen[r].add(version)

    async def writers(https: list[httpx.AsyncClient]) -> None:
        try:
            await asyncio.gather(*(writer(https[w % SERVERS], w) for w in range(TORN_WRITERS)))
        finally:
            done.set()

    async with clients(servers) as https:
        assert (await put(https[0], torn_task(id, "created"))).status_code == 201
        readers = [reader(https[r % SERVERS], r) for r in range(TORN_READERS)]
        await asyncio.wait_for(asyncio.gather(writers(https), *readers), HANG_GUARD)

        assert sorted(landed) == list(range(2, len(landed) + 2)), landed
        versions = await check_history(https[1], f"/Task/{id}", 1 + len(landed))
        for version in versions:
            assert version["note"][0]["text"] == version["description"]
    reads = sum(len(s) for s in seen)
    # the readers did read while the writers wrote: several versions each, between them
    assert all(len(s) > 1 for s in seen), [sorted(s) for s in seen]
    print(f"torn reads: {len(landed)} writes landed; readers saw {reads} distinct versions")


async def test_concurrent_transactions_land_whole_or_not_at_all(servers: list[str]) -> None:
    """``TRANSACTIONS`` bundles each PUT three of five shared Tasks, without ``ifMatch``
    (200, or 409 when one keeps losing); ``IF_MATCH_TRANSACTIONS`` more, among them, carry
    ``ifMatch`` on their last entry with the version read just before (200, or 412 when it
    moved meanwhile). Every 200 is visible in full, anything else left nothing behind."""
    run = uuid.uuid4().hex[:8]
    ids = [f"tx-{run}-{k}" for k in range(TASKS)]
    count = TRANSACTIONS + IF_MATCH_TRANSACTIONS
    touched = [
        [ids[(b + k) % TASKS] for k in ((0, 1, 3) if b % 2 else (0, 1, 2))] for b in range(count)
    ]

    async def transaction(b: int) -> httpx.Response:
        http = https[b % SERVERS]
        entries: list[dict[str, Any]] = [
            {"request": {"method": "PUT", "url": f"Task/{id}"}, "resource": task(id, f"tx {b}")}
            for id in touched[b]
        ]
        if b >= TRANSACTIONS:
            last = await http.get(f"/Task/{touched[b][-1]}")
            entries[-1]["request"]["ifMatch"] = last.headers["etag"]
        document = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        return await http.post("", json=document, headers=FHIR_JSON)

    async with clients(servers) as https:
        for id in ids:
            assert (await put(https[0], task(id, "created"))).status_code == 201
        posts = (transaction(b) for b in range(count))
        results = await asyncio.wait_for(asyncio.gather(*posts), HANG_GUARD)
        statuses = Counter(r.status_code for r in results)
        for b, r in enumerate(results):
            allowed = (200, 409) if b < TRANSACTIONS else (200, 409, 412)
            assert r.status_code in allowed, (b, r.status_code, r.text[:500])
            if r.status_code != 200:
                assert r.json()["resourceType"] == "OperationOutcome", r.text[:500]
        assert statuses[200] > 0, statuses
        committed = {b for b, r in enumerate(results) if r.status_code == 200}

        # what each committed transaction was told: the version of each of its entries
        told: dict[str, dict[int, int]] = defaultdict(dict)  # id → version → transaction
        for b in committed:
            answers = results[b].json()["entry"]
            assert len(answers) == 3
            for id, answer in zip(touched[b], answers, strict=True):
                assert answer["response"]["status"].startswith("200"), answer
                version = int(answer["response"]["etag"][3:-1])
                assert version not in told[id], f"Task/{id} version {version} given twice"
                told[id][version] = b

        for n, id in enumerate(ids):
            expected = 1 + sum(1 for b in committed if id in touched[b])
            versions = await check_history(https[n % SERVERS], f"/Task/{id}", expected)
            writers = [v["description"] for v in versions[1:]]
            # each version is the content of the transaction that was told it, and no
            # failed transaction wrote any
            assert writers == [f"tx {told[id].get(v)}" for v in range(2, expected + 1)], (
                f"Task/{id}: versions written by {writers}, transactions told {told[id]}"
            )
    print(f"transactions: {dict(statuses)}")
