"""Lookups by key are served by the ``_id`` index, not a collection scan.

On FerretDB this holds only because its build fixes the ``_id`` expression (see
``storage/mongo/ferretdb.py``); an unfixed v1.24.2 answers these with ``SCAN``.
"""

from __future__ import annotations

from typing import Any

import pytest

from fhircare.fhir.ids import now
from fhircare.storage.mongo.documents import resource_key, version_key
from fhircare.storage.mongo.store import MongoStore
from fhircare.storage.protocol import Write


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
