"""Which queries the server answers from an index, as its ``explain`` reports.

Lookups by key (reads, vreads, ``_include``) use the ``_id`` index on every store; on
FerretDB only because its build fixes the ``_id`` expression (``storage/mongo/ferretdb.py``),
an unfixed v1.24.2 answers them with ``SCAN``. The care-manager searches are served by
the compound multikey indexes on ``idx`` on MongoDB; FerretDB's SQLite backend pushes no
filter but ``_id`` down to SQLite, so there they are a strict xfail: the day FerretDB (or
a MongoDB given by ``MONGODB_URI``) serves them from an index, the xfail fails the run.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest

from fhircare.fhir.ids import now
from fhircare.interactions.request import Context
from fhircare.interactions.search_chains import resolve_clauses
from fhircare.search.indexer import Indexer
from fhircare.search.parse import parse
from fhircare.storage.mongo.documents import resource_key, version_key
from fhircare.storage.mongo.search import search_filter
from fhircare.storage.mongo.store import MongoStore
from fhircare.storage.protocol import SearchQuery, Write


def uses_index(explained: dict[str, Any]) -> bool:
    """FerretDB reports SQLite's plan lines; MongoDB its winning plan's stages."""
    planner = explained.get("queryPlanner", {})
    if "Plan" in planner:  # FerretDB: "id=.. detail=SEARCH t USING INDEX ..."
        lines = planner["Plan"]
        return bool(lines) and all("SCAN" not in line for line in lines)
    stages = str(planner.get("winningPlan", {}))
    return any(s in stages for s in ("IDHACK", "IXSCAN", "EXPRESS")) and "COLLSCAN" not in stages


async def explain(store: MongoStore, collection: str, key: str) -> dict[str, Any]:
    database = store._db
    return await database.command("explain", {"find": collection, "filter": {"_id": key}})


@pytest.fixture
async def written(mongo_store: MongoStore) -> MongoStore:
    for n in range(3):
        body = b'{"resourceType":"Patient","id":"p%d"}' % n
        await mongo_store.commit(Write("Patient", f"p{n}", 1, now(), "POST", body))
    return mongo_store


@pytest.mark.parametrize(
    ("collection", "key"),
    [("resources", resource_key("Patient", "p1")), ("history", version_key("Patient", "p1", 1))],
)
async def test_reads_by_key_use_the_id_index(
    written: MongoStore, collection: str, key: str
) -> None:
    assert uses_index(await explain(written, collection, key))
    assert await written._db[collection].find_one({"_id": key}) is not None


async def test_a_filter_on_other_fields_is_reported_as_a_scan(written: MongoStore) -> None:
    # the detector above can fail: a filter no index serves is reported as a scan
    explained = await written._db.command("explain", {"find": "resources", "filter": {"rid": "p1"}})
    assert not uses_index(explained)


CARE_MANAGER_SEARCHES = [
    "Task?patient=Patient/p1&status=requested",
    "CarePlan?category=http://hl7.org/fhir/us/core/CodeSystem/careplan-category|assess-plan",
    "Task?period=ge2026-01-01&period=lt2026-02-01",
    "Task?owner=Practitioner/nurse",
    "Task?focus=CarePlan/plan1",
    "Task?subject:Patient.name=smith",
    "Provenance?target=Task/t1",  # what _revinclude=Provenance:target asks; _include reads
]


async def search_filters(store: MongoStore, url: str) -> list[dict[str, Any]]:
    """The filter ``url`` sends to the server (after its chains are resolved)."""
    resource_type, _, query = url.partition("?")
    context = Context(store)
    parsed = parse(
        resource_type, parse_qsl(query), context.registry.lookup, context.search_limits, True
    )
    predicates = await resolve_clauses(context, parsed, Indexer(context.registry, None))
    return [search_filter(SearchQuery(resource_type, (p,)), store._per_entry) for p in predicates]


@pytest.fixture
async def care_data(written: MongoStore) -> MongoStore:
    patient = b'{"resourceType":"Patient","id":"p1","name":[{"family":"Smith"}]}'
    await written.commit(Write("Patient", "p1", 2, now(), "PUT", patient))
    return written


@pytest.mark.parametrize("url", CARE_MANAGER_SEARCHES)
async def test_care_manager_searches_use_an_index(
    care_data: MongoStore, url: str, request: pytest.FixtureRequest
) -> None:
    build = await care_data._db.client.admin.command("buildInfo")
    if "ferretdbVersion" in build:
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                raises=AssertionError,
                reason="FerretDB's SQLite backend indexes only _id",
            )
        )
    for criteria in await search_filters(care_data, url):
        explained = await care_data._db.command(
            "explain", {"find": "resources", "filter": criteria}
        )
        assert uses_index(explained), (url, criteria, explained.get("queryPlanner"))
