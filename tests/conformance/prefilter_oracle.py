"""A store that checks the MongoDB prefilters against an independent query engine.

``MongoStore`` asks the server for a necessary condition (``storage/mongo/query.py``) and
keeps the candidates the exact predicates accept. On MongoDB that condition uses
``$elemMatch``, which FerretDB cannot run, so no test here could reach it through the
wire. This store searches as ``MemoryStore`` does and, for every search, evaluates both
renderings of the prefilter (per entry, as on MongoDB, and dotted, as on FerretDB) with
montydb, a MongoDB query engine written in Python, over the documents ``MongoStore``
would hold: an exact match the prefilter would drop fails the search.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from montydb import MontyClient

from fhircare.storage.memory import MemoryStore
from fhircare.storage.mongo.documents import resource_key
from fhircare.storage.mongo.search import search_filter
from fhircare.storage.protocol import SearchQuery, StoredVersion

_ENGINE: list[MontyClient] = []


def engine() -> MontyClient:
    """One in-memory engine per process (montydb configures itself once)."""
    if not _ENGINE:
        _ENGINE.append(MontyClient(":memory:", use_bson=True))
    return _ENGINE[0]


class PrefilterCheckingStore(MemoryStore):
    """``MemoryStore`` whose searches also assert the prefilters pass every match."""

    def __init__(self) -> None:
        super().__init__()
        self.checked = 0

    def _found(self, query: SearchQuery) -> list[StoredVersion]:
        found = super()._found(query)
        collection = engine()["oracle"]["resources"]
        collection.drop()
        documents = [self._document(key, stored) for key, stored in self._current.items()]
        if documents:
            collection.insert_many(naive(documents))
        wanted = {resource_key(v.resource_type, v.id) for v in found}
        for per_entry in (True, False):
            criteria = naive(search_filter(query, per_entry))
            passed = {d["_id"] for d in collection.find(criteria)}
            dropped = wanted - passed
            assert not dropped, f"prefilter (per_entry={per_entry}) drops {sorted(dropped)}"
        self.checked += 1
        return found

    def _document(self, key: tuple[str, str], stored: StoredVersion) -> dict[str, Any]:
        return {
            "_id": resource_key(*key),
            "type": stored.resource_type,
            "rid": stored.id,
            "deleted": stored.deleted,
            "lastUpdated": stored.last_updated,
            "idx": [dict(entry) for entry in self._index.get(key, ())],
        }


def naive(value: Any) -> Any:
    """Aware datetimes as naive UTC, the only kind montydb compares (order is kept)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, dict):
        return {k: naive(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [naive(v) for v in value]
    return value
