"""The SQLite store serves searches and conditional writes from its B-tree indexes.

Every statement the store runs while serving the care-manager searches (the bench's
queries), identifier lookups, conditional creates and updates, and a transaction with
conditional references is recorded, and SQLite's own ``EXPLAIN QUERY PLAN`` for it must
read ``entries`` only through an index, and ``resources`` only by the row ids those give
(or by the write sequence, for what changed since a page's watermark), never walking
every resource of a type. https://www.sqlite.org/eqp.html
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.population import population
from bench.search_queries import queries

from fhircare.app import create_app
from fhircare.settings import Settings
from fhircare.storage.sqlite.store import SqliteStore

FHIR_JSON = {"Content-Type": "application/fhir+json"}
MRN = "http://hospital.example.org/mrn"
SIZE = 1500


@pytest.fixture(scope="module")
async def loaded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Any, ...]]:
    """A store holding a bench population (with identifiers), and a client on it."""
    store = SqliteStore(tmp_path_factory.mktemp("plans") / "plans.sqlite3")
    await store.open()
    pop = population(SIZE, seed=7)
    app = create_app(Settings(), store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
            for start in range(0, len(pop.resources), 250):
                entries = [_put(r) for r in pop.resources[start : start + 250]]
                bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
                answer = await http.post("", json=bundle, headers=FHIR_JSON)
                assert answer.status_code == 200, answer.text[:500]
            yield store, pop, http
    await store.close()


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    if resource["resourceType"] == "Patient":
        resource = {**resource, "identifier": [{"system": MRN, "value": f"mrn-{resource['id']}"}]}
    url = f"{resource['resourceType']}/{resource['id']}"
    return {"resource": resource, "request": {"method": "PUT", "url": url}}


async def statements(store: SqliteStore, work: Any) -> list[str]:
    """The queries ``work()`` makes the store run."""
    seen: list[str] = []
    store.database.trace(seen.append)
    try:
        await work()
    finally:
        store.database.trace(None)
    return [s for s in seen if s.lstrip().upper().startswith("SELECT")]


def plan(path: Path, sql: str) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}")]


ROWS_BY_KEY = re.compile(
    r"INTEGER PRIMARY KEY \(rowid=\?\)"  # by row id
    r"|INDEX sqlite_autoindex_resources_1 \(key=\?"  # by Type/id, the unique key
    r"|INDEX resources_seq \(seq>\?\)"  # written since a page's watermark
)


def scans(path: Path, sql: str) -> list[str]:
    """The plan's steps that read more of ``entries`` or ``resources`` than the index
    entries a search names: a scan, ``resources`` walked by another index, or a check of
    one row's entries that reads the entries of other resources."""
    bad = []
    correlated = False
    for line in plan(path, sql):
        if re.match(r"SCAN (e|r|entries|resources|history)\b", line) or (
            re.match(r"SEARCH r\b", line) and not ROWS_BY_KEY.search(line)
        ):
            bad.append(line)
        elif correlated and re.match(r"SEARCH e\b", line) and "entries_res_p (res=?" not in line:
            bad.append(f"{line} (checking one resource)")
        correlated = line.startswith("CORRELATED")
    return bad


def assert_indexed(store: SqliteStore, found: list[str], what: str) -> None:
    assert any("entries e" in s or "WHERE rid" in s for s in found), f"{what}: no index read"
    for sql in found:
        bad = scans(store.path, sql)
        assert not bad, f"{what}: {bad}\n{sql}\n" + "\n".join(plan(store.path, sql))


async def test_care_manager_searches_use_indexes(loaded: tuple[Any, ...]) -> None:
    store, pop, http = loaded
    for query in queries(pop, 2):
        for pairs in query.params:

            async def run(q: Any = query, p: Any = pairs) -> None:
                answer = await http.get(f"/{q.resource_type}", params=p)
                assert answer.status_code == 200, answer.text[:300]
                assert answer.json()["total"] > 0 or q.chained, (q.name, p)

            assert_indexed(store, await statements(store, run), f"{query.name} {pairs}")


async def test_identifier_lookup_and_conditional_writes_use_indexes(
    loaded: tuple[Any, ...],
) -> None:
    store, pop, http = loaded
    patient = pop.patients[3]
    condition = f"identifier={MRN}|mrn-{patient}"

    async def lookup() -> None:
        found = (await http.get("/Patient", params={"identifier": f"{MRN}|mrn-{patient}"})).json()
        assert [e["resource"]["id"] for e in found["entry"]] == [patient]

    assert_indexed(store, await statements(store, lookup), "identifier lookup")

    async def by_id() -> None:
        found = (await http.get("/Patient", params={"_id": f"{patient},missing"})).json()
        assert [e["resource"]["id"] for e in found["entry"]] == [patient]

    assert_indexed(store, await statements(store, by_id), "_id search")

    async def reverse_chain() -> None:
        query = {"_has:Task:patient:status": "requested", "name": pop.families[0]}
        assert (await http.get("/Patient", params=query)).status_code == 200

    assert_indexed(store, await statements(store, reverse_chain), "_has")

    async def conditional_create() -> None:
        body = {"resourceType": "Patient", "identifier": [{"system": MRN, "value": "new-1"}]}
        headers = {**FHIR_JSON, "If-None-Exist": f"identifier={MRN}|new-1"}
        assert (await http.post("/Patient", json=body, headers=headers)).status_code == 201
        assert (await http.post("/Patient", json=body, headers=headers)).status_code == 200

    assert_indexed(store, await statements(store, conditional_create), "conditional create")

    async def conditional_update() -> None:
        current = (await http.get(f"/Patient/{patient}")).json()
        answer = await http.put(
            f"/Patient?{condition}", json={**current, "gender": "other"}, headers=FHIR_JSON
        )
        assert answer.status_code == 200, answer.text[:300]

    assert_indexed(store, await statements(store, conditional_update), "conditional update")


async def test_instance_history_reads_only_that_resources_versions(
    loaded: tuple[Any, ...],
) -> None:
    store, pop, http = loaded
    task = next(r["id"] for r in pop.resources if r["resourceType"] == "Task")

    async def history() -> None:
        found = (await http.get(f"/Task/{task}/_history")).json()
        assert found["total"] >= 1

    assert_by_resource(store, await statements(store, history))


async def test_paging_past_a_change_reads_only_that_resources_versions(
    loaded: tuple[Any, ...],
) -> None:
    """A page after the watermark places a changed match where its earlier version stood
    (exact paging): looked up among that resource's versions alone."""
    store, pop, http = loaded
    owner = f"Practitioner/{pop.practitioners[0]}"
    first = (await http.get("/Task", params={"owner": owner, "_count": 2})).json()
    changed = first["entry"][0]["resource"]
    answer = await http.put(f"/Task/{changed['id']}", json={**changed, "priority": "urgent"})
    assert answer.status_code == 200, answer.text[:300]
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")

    async def next_page() -> None:
        assert (await http.get(following.split("/fhir", 1)[1])).status_code == 200

    assert_by_resource(store, await statements(store, next_page))


def assert_by_resource(store: SqliteStore, found: list[str]) -> None:
    queries = [s for s in found if "FROM history" in s and "max(seq)" not in s]
    assert queries
    for sql in queries:
        steps = plan(store.path, sql)
        assert all("history_version (type=? AND rid=?" in s for s in steps), steps


async def test_transaction_conditional_references_use_indexes(loaded: tuple[Any, ...]) -> None:
    store, pop, http = loaded
    patient = pop.patients[5]
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "for": {"reference": f"Patient?identifier={MRN}|mrn-{patient}"},
    }
    entry = {"resource": task, "request": {"method": "POST", "url": "Task"}}

    async def transaction() -> None:
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
        answer = await http.post("", json=bundle, headers=FHIR_JSON)
        assert answer.status_code == 200, answer.text[:300]
        created = answer.json()["entry"][0]["response"]["location"].split("/_history")[0]
        stored = (await http.get(f"/{created}")).json()
        assert stored["for"]["reference"] == f"Patient/{patient}"

    assert_indexed(store, await statements(store, transaction), "conditional reference")


async def test_changes_read_history_in_sequence_order_from_an_index(
    loaded: tuple[Any, ...],
) -> None:
    """The push cursor's query walks ``history`` by its primary key (every type) or by
    ``history_type_seq`` (one range per type, merged), already in order: no sort."""
    store = loaded[0]
    cases = {
        None: "USING INTEGER PRIMARY KEY (rowid>?)",
        ("Task",): "USING INDEX history_type_seq (type=? AND seq>?)",
        ("Task", "Patient"): "USING INDEX history_type_seq (type=? AND seq>?)",
    }
    for types, access in cases.items():

        async def changes(t: Any = types) -> None:
            listed = await store.changes(100, t, 50)
            assert len(listed) == 50 and listed[0].seq > 100
            assert t is None or {v.resource_type for v in listed} <= set(t)

        found = await statements(store, changes)
        assert len(found) == 1, found
        steps = plan(store.path, found[0])
        searches = [s for s in steps if s.startswith(("SEARCH", "SCAN"))]
        assert searches and all(access in s for s in searches), steps
        assert len(searches) == len(types or [None]), steps
        assert not any("TEMP B-TREE" in s for s in steps), steps
