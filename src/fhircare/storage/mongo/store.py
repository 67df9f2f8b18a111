"""ResourceStore on MongoDB (and FerretDB) with pymongo's native async API.

``MongoStore`` opens the collections and reads; its writes are journaled (``writes.py``,
which explains why: FerretDB makes only an insert into a unique ``_id`` race-proof), its
searches are prefiltered keyset pages (``search.py``), the write sequence is listed in
order past writes in flight (``changes.py``) and the state records are in ``state.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from fhircare.storage.mongo.changes import MongoChanges
from fhircare.storage.mongo.documents import Document, resource_key, to_stored, version_key
from fhircare.storage.mongo.search import MongoSearch, keyset, live_filter, sort_fields
from fhircare.storage.mongo.sequence import WriteSequence
from fhircare.storage.mongo.state import MongoState
from fhircare.storage.protocol import HistoryQuery, StoredVersion

__all__ = ["Document", "MongoStore", "connect", "keyset", "sort_fields"]


class MongoStore(MongoState, MongoChanges, MongoSearch):
    """Resources in ``resources`` (current), ``history`` (every version) and ``journal``;
    transactions' ``outcomes``, conditional operations' ``claims`` and the ``state``
    records."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        database: str,
        intent_timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        self._client = client
        self._db: AsyncDatabase[Document] = client[database]
        self._current = self._db["resources"]
        self._history = self._db["history"]
        self._journal = self._db["journal"]
        self._sequence = WriteSequence(self._db["sequence"])
        self._outcomes = self._db["outcomes"]
        self._claims = self._db["claims"]
        self._changes = self._db["changes"]
        self._state = self._db["state"]
        self._intent_timeout = intent_timeout
        self._per_entry = False

    async def open(self) -> None:
        build = await self._client.admin.command("buildInfo")
        self._per_entry = "ferretdbVersion" not in build
        await self._sequence.open()
        await self._history.create_index([("seq", DESCENDING)], name="seq")
        await self._history.create_index(
            [("type", ASCENDING), ("seq", DESCENDING)], name="type_seq"
        )
        await self._history.create_index(
            [("type", ASCENDING), ("rid", ASCENDING), ("seq", DESCENDING)], name="instance_seq"
        )
        for name, field in (("idx_c", "c"), ("idx_v", "v"), ("idx_r", "r"), ("idx_lo", "lo")):
            await self._current.create_index(
                [("idx.p", ASCENDING), (f"idx.{field}", ASCENDING)], name=name
            )
        await self._current.create_index([("type", ASCENDING), ("_id", ASCENDING)], name="type_key")
        await self._state.create_index([("space", ASCENDING), ("key", ASCENDING)], name="space_key")
        await self.settle()

    async def close(self) -> None:
        await self._client.close()

    async def drop(self) -> None:
        """Remove this store's database (tests and benchmarks)."""
        await self._client.drop_database(self._db.name)

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        document = await self._current.find_one(
            {"_id": resource_key(resource_type, id)}, {"idx": 0, "sk": 0}
        )
        return None if document is None else to_stored(document)

    async def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        document = await self._history.find_one(
            {"_id": version_key(resource_type, id, version)}, {"sk": 0}
        )
        if document is None:
            # between steps 3 and 4 (writes.py) the version is current but not yet in history
            current = await self.read(resource_type, id)
            return current if current is not None and current.version == version else None
        return to_stored(document)

    @staticmethod
    def _filter(query: HistoryQuery) -> Document:
        criteria: Document = {}
        if query.resource_type is not None:
            criteria["type"] = query.resource_type
        if query.id is not None:
            criteria["rid"] = query.id
        if query.since is not None:
            criteria["lastUpdated"] = {"$gte": query.since}
        return criteria

    async def history(self, query: HistoryQuery) -> list[StoredVersion]:
        if query.resource_type is not None and query.id is not None and query.since is None:
            return await self._instance_history(query)
        criteria = self._filter(query)
        if query.before_seq is not None:
            criteria["seq"] = {"$lt": query.before_seq}
        cursor = self._history.find(criteria).sort("seq", DESCENDING).limit(query.count)
        return [to_stored(d) for d in await cursor.to_list()]

    async def _instance_history(self, query: HistoryQuery) -> list[StoredVersion]:
        """One resource's versions, newest first, by ``_id`` (``Type/id/version``): its
        versions are 1 to the current one, so no query but lookups by key is needed
        (FerretDB serves no other from an index). A version between steps 3 and 4 of its
        write (``writes.py``) is not in history yet; the current document stands in."""
        assert query.resource_type is not None and query.id is not None
        key = resource_key(query.resource_type, query.id)
        current = await self._current.find_one({"_id": key}, {"idx": 0, "sk": 0})
        found: list[StoredVersion] = []
        version = 0 if current is None else int(current["version"])
        while version > 0 and len(found) < query.count:
            document = await self._history.find_one(
                {"_id": version_key(query.resource_type, query.id, version)}, {"sk": 0}
            )
            if document is None and current is not None and current["version"] == version:
                document = current
            if document is not None and (
                query.before_seq is None or document["seq"] < query.before_seq
            ):
                found.append(to_stored(document))
            version -= 1
        return found

    async def count_history(self, query: HistoryQuery) -> int:
        if query.resource_type is not None and query.id is not None and query.since is None:
            # versions are numbered densely from 1, each immutable once written
            return await self._version_of(resource_key(query.resource_type, query.id))
        return await self._history.count_documents(self._filter(query))

    async def iterate_current(
        self, resource_type: str | None, batch: int = 500
    ) -> AsyncIterator[list[StoredVersion]]:
        criteria = live_filter(resource_type)
        after: str | None = None
        while True:
            page_filter = criteria if after is None else {**criteria, "_id": {"$gt": after}}
            cursor = self._current.find(page_filter, {"idx": 0}).sort("_id", ASCENDING)
            documents = await cursor.limit(batch).to_list()
            if documents:
                yield [to_stored(d) for d in documents]
            if len(documents) < batch:
                return
            after = documents[-1]["_id"]

    async def count_current(self, resource_type: str | None) -> int:
        return await self._current.count_documents(live_filter(resource_type))


def connect(
    uri: str, database: str, intent_timeout: timedelta = timedelta(seconds=10)
) -> MongoStore:
    """One client per process, created by the app lifespan or the CLI."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True, connect=False)
    return MongoStore(client, database, intent_timeout)
