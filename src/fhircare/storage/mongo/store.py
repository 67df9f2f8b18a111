"""ResourceStore on MongoDB (and FerretDB) with pymongo's native async API.

A write is made of steps that are each safe to repeat, then one linearization point:

1. allocate a write sequence number (``findAndModify`` ``$inc`` on a counter);
2. insert the history document ``Type/id/version`` with ``applied: false``: its unique
   ``_id`` reserves the version, so of two writers racing for it one gets a duplicate-key
   error and reports a conflict (after helping the winner land);
3. compare-and-set the current document from ``version - 1`` to ``version``;
4. mark the history document applied (history lists only applied versions).

A crash after step 2 leaves an intent that ``open`` (start-up recovery) or the next writer
of that resource rolls forward. No multi-document transaction is needed, so the same code
is correct on FerretDB, a standalone MongoDB and a replica set.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from fhircare.storage.mongo.documents import (
    current_fields,
    history_document,
    history_key,
    resource_key,
    to_stored,
)
from fhircare.storage.protocol import HistoryQuery, StoredVersion, VersionConflict, Write

Document = dict[str, Any]


class MongoStore:
    """Resources in ``resources`` (current) and ``history`` (every version)."""

    def __init__(self, client: AsyncMongoClient[Document], database: str) -> None:
        self._client = client
        self._db: AsyncDatabase[Document] = client[database]
        self._current = self._db["resources"]
        self._history = self._db["history"]
        self._counters = self._db["counters"]

    async def open(self) -> None:
        await self._history.create_index([("seq", DESCENDING)], name="seq")
        await self._history.create_index(
            [("type", ASCENDING), ("seq", DESCENDING)], name="type_seq"
        )
        await self._history.create_index(
            [("type", ASCENDING), ("rid", ASCENDING), ("seq", DESCENDING)], name="instance_seq"
        )
        await self._history.create_index([("applied", ASCENDING)], name="applied")
        await self.recover()

    async def recover(self) -> int:
        """Roll every pending intent forward; returns how many there were."""
        pending = await self._history.find({"applied": False}).sort("seq", ASCENDING).to_list()
        for document in pending:
            await self._apply(document)
        return len(pending)

    async def close(self) -> None:
        await self._client.close()

    async def drop(self) -> None:
        """Remove this store's database (tests and benchmarks)."""
        await self._client.drop_database(self._db.name)

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        document = await self._current.find_one({"_id": resource_key(resource_type, id)})
        return None if document is None else to_stored(document)

    async def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        document = await self._history.find_one(
            {"_id": history_key(resource_type, id, version), "applied": True}
        )
        return None if document is None else to_stored(document)

    async def commit(self, write: Write) -> StoredVersion:
        current = await self.read(write.resource_type, write.id)
        current_version = current.version if current else 0
        if current_version != write.version - 1:
            raise VersionConflict(current_version)
        document = history_document(write, await self._next_seq())
        try:
            await self._history.insert_one(document)
        except DuplicateKeyError:
            rival = await self._history.find_one({"_id": document["_id"]})
            if rival is not None:
                await self._apply(rival)
            latest = await self.read(write.resource_type, write.id)
            raise VersionConflict(latest.version if latest else 0) from None
        if not await self._apply(document):
            latest = await self.read(write.resource_type, write.id)
            raise VersionConflict(latest.version if latest else 0)
        return to_stored(document)

    async def _apply(self, history: Document) -> bool:
        """Make ``history`` the current version if it follows it; True once it has landed."""
        key = resource_key(history["type"], history["rid"])
        fields = current_fields(history)
        if history["version"] == 1:
            try:
                await self._current.insert_one({"_id": key, **fields})
                landed = True
            except DuplicateKeyError:
                landed = await self._landed(key, history)
        else:
            result = await self._current.update_one(
                {"_id": key, "version": history["version"] - 1}, {"$set": fields}
            )
            landed = result.modified_count == 1 or await self._landed(key, history)
        if landed:
            await self._history.update_one({"_id": history["_id"]}, {"$set": {"applied": True}})
        return landed

    async def _landed(self, key: str, history: Document) -> bool:
        current = await self._current.find_one({"_id": key}, {"version": 1})
        return current is not None and current["version"] >= history["version"]

    async def _next_seq(self) -> int:
        counter = await self._counters.find_one_and_update(
            {"_id": "seq"},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None  # upsert with ReturnDocument.AFTER always returns one
        return int(counter["value"])

    @staticmethod
    def _filter(query: HistoryQuery) -> Document:
        criteria: Document = {"applied": True}
        if query.resource_type is not None:
            criteria["type"] = query.resource_type
        if query.id is not None:
            criteria["rid"] = query.id
        if query.since is not None:
            criteria["lastUpdated"] = {"$gte": query.since}
        return criteria

    async def history(self, query: HistoryQuery) -> list[StoredVersion]:
        criteria = self._filter(query)
        if query.before_seq is not None:
            criteria["seq"] = {"$lt": query.before_seq}
        cursor = self._history.find(criteria).sort("seq", DESCENDING).limit(query.count)
        return [to_stored(d) for d in await cursor.to_list()]

    async def count_history(self, query: HistoryQuery) -> int:
        return await self._history.count_documents(self._filter(query))


def connect(uri: str, database: str) -> MongoStore:
    """One client per process, created by the app lifespan or the CLI."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True, connect=False)
    return MongoStore(client, database)
