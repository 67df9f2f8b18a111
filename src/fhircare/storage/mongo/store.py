"""ResourceStore on MongoDB (and FerretDB) with pymongo's native async API.

The only operation that is race-proof on every store is an insert into a unique ``_id``:
FerretDB runs a conditional ``update`` (and ``$inc``) as a read then a write, so two
concurrent ones can both succeed. A write therefore reserves what must be unique by
inserting it, and updates only what its reservation makes its own:

1. reserve a write sequence number: insert ``{_id: n}`` into ``sequence``;
2. reserve the version: insert the version into ``journal`` as ``Type/id/version``; of two
   writers racing for a version, one gets a duplicate key and reports a conflict;
3. set the current document (insert for version 1, else update from ``version - 1``);
4. insert the version into ``history``;
5. delete the journal entry.

A crash after step 2 leaves a journal entry that blocks that one resource until it is
older than ``intent_timeout``; then recovery (at start-up, or by the next writer that
meets it) finishes it: steps 3 to 5 are each safe to repeat. No multi-document
transaction is needed, so the same code is correct on FerretDB, a standalone MongoDB and
a replica set. The journal stays a handful of documents, which matters on FerretDB's
SQLite backend, where a lookup that is not an insert scans its collection.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from fhircare.search.match import matches
from fhircare.storage.mongo.documents import (
    current_fields,
    history_document,
    resource_key,
    to_stored,
    version_document,
    version_key,
)
from fhircare.storage.mongo.query import prefilter
from fhircare.storage.protocol import (
    HistoryQuery,
    SearchQuery,
    StoredVersion,
    VersionConflict,
    Write,
)

Document = dict[str, Any]


class MongoStore:
    """Resources in ``resources`` (current), ``history`` (every version) and ``journal``."""

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
        self._sequence = self._db["sequence"]
        self._intent_timeout = intent_timeout
        self._last_seq = 0

    async def open(self) -> None:
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
        await self.recover()

    async def recover(self, everything: bool = False) -> int:
        """Finish the interrupted writes older than the intent timeout (all if
        ``everything``, when no other process can be writing); returns how many."""
        cutoff = datetime.now(UTC) + (timedelta() if everything else -self._intent_timeout)
        pending = await self._journal.find({"reservedAt": {"$lte": cutoff}}).to_list()
        for entry in sorted(pending, key=lambda e: e["seq"]):
            await self._finish(entry)
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
        document = await self._history.find_one({"_id": version_key(resource_type, id, version)})
        if document is None:
            # between steps 3 and 4 the version is current but not yet in history
            current = await self.read(resource_type, id)
            return current if current is not None and current.version == version else None
        return to_stored(document)

    async def commit(self, write: Write) -> StoredVersion:
        version = version_document(write, await self._next_seq())
        entry = {**version, "reservedAt": datetime.now(UTC)}
        try:
            await self._journal.insert_one(entry)
        except DuplicateKeyError:
            await self._take_over_if_stale(version["_id"])
            raise await self._conflict(write) from None
        if not await self._finish(entry):
            raise await self._conflict(write)
        return to_stored(version)

    async def _conflict(self, write: Write) -> VersionConflict:
        latest = await self.read(write.resource_type, write.id)
        return VersionConflict(latest.version if latest else 0)

    async def _take_over_if_stale(self, key: str) -> None:
        rival = await self._journal.find_one({"_id": key})
        if rival is not None and rival["reservedAt"] <= datetime.now(UTC) - self._intent_timeout:
            await self._finish(rival)

    async def _finish(self, entry: Document) -> bool:
        """Steps 3 to 5 for a reserved version; False if the resource moved past it."""
        version = {k: v for k, v in entry.items() if k != "reservedAt"}
        landed = await self._set_current(version)
        if landed:
            with suppress(DuplicateKeyError):
                await self._history.insert_one(history_document(version))
        await self._journal.delete_one({"_id": version["_id"]})
        return landed

    async def _set_current(self, version: Document) -> bool:
        key = resource_key(version["type"], version["rid"])
        fields = current_fields(version)
        if version["version"] == 1:
            with suppress(DuplicateKeyError):
                await self._current.insert_one({"_id": key, **fields})
                return True
        else:
            previous = {"_id": key, "version": version["version"] - 1}
            if (await self._current.update_one(previous, {"$set": fields})).modified_count:
                return True
        current = await self._current.find_one({"_id": key}, {"seq": 1})
        return current is not None and current["seq"] == version["seq"]

    async def _next_seq(self) -> int:
        """Reserve the next free sequence number; on a clash jump ahead by growing steps."""
        if not self._last_seq:
            latest = await self._sequence.find_one({}, sort=[("_id", DESCENDING)])
            self._last_seq = int(latest["_id"]) if latest else 0
        step = 1
        while True:
            candidate = self._last_seq + step
            try:
                await self._sequence.insert_one({"_id": candidate})
            except DuplicateKeyError:
                self._last_seq = candidate
                step *= 2
                continue
            self._last_seq = candidate
            return candidate

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
        criteria = self._filter(query)
        if query.before_seq is not None:
            criteria["seq"] = {"$lt": query.before_seq}
        cursor = self._history.find(criteria).sort("seq", DESCENDING).limit(query.count)
        return [to_stored(d) for d in await cursor.to_list()]

    async def count_history(self, query: HistoryQuery) -> int:
        return await self._history.count_documents(self._filter(query))

    @staticmethod
    def _search_filter(query: SearchQuery) -> Document:
        criteria: Document = {"deleted": False}
        if query.resource_type is not None:
            criteria["type"] = query.resource_type
        narrowing = [f for f in (prefilter(p) for p in query.predicates) if f]
        if narrowing:
            criteria["$and"] = narrowing
        return criteria

    async def _matching(self, query: SearchQuery, limit: int | None) -> list[Document]:
        """Candidates in key order, kept when the exact predicates hold (see query.py)."""
        criteria = self._search_filter(query)
        batch = max(100, 2 * (limit or 0))
        after = query.after_key
        found: list[Document] = []
        while limit is None or len(found) < limit:
            page_filter = criteria if after is None else {**criteria, "_id": {"$gt": after}}
            cursor = self._current.find(page_filter).sort("_id", ASCENDING).limit(batch)
            candidates = await cursor.to_list()
            for document in candidates:
                fields = {"rid": document["rid"], "lastUpdated": document["lastUpdated"]}
                entries = document.get("idx") or ()
                if all(matches(p, entries, fields) for p in query.predicates):
                    found.append(document)
            if len(candidates) < batch:
                break
            after = candidates[-1]["_id"]
        return found if limit is None else found[:limit]

    async def search(self, query: SearchQuery) -> list[StoredVersion]:
        return [to_stored(d) for d in await self._matching(query, query.count)]

    async def count(self, query: SearchQuery) -> int:
        return len(await self._matching(replace(query, after_key=None), None))


def connect(uri: str, database: str) -> MongoStore:
    """One client per process, created by the app lifespan or the CLI."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True, connect=False)
    return MongoStore(client, database)
