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

from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from fhircare.search.match import matches
from fhircare.search.request import SortKey
from fhircare.search.sort_values import (
    ASC,
    DESC,
    HAS,
    RESOURCE_FIELDS,
    SortValue,
    compare,
    field_name,
    sort_key,
    values_of,
)
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
    Position,
    SearchPage,
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
        if entry.get("reindex"):  # a reindex's reservation (replace_index) left behind
            await self._journal.delete_one({"_id": entry["_id"]})
            return False
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

    def _exact(self, query: SearchQuery, document: Document) -> bool:
        fields = {"rid": document["rid"], "lastUpdated": document["lastUpdated"]}
        entries = document.get("idx") or ()
        return all(matches(p, entries, fields) for p in query.predicates)

    async def _matching(
        self, query: SearchQuery, criteria: Document, limit: int | None
    ) -> list[tuple[Document, Position]]:
        """Candidates in ``query.sort`` order after ``query.after``, kept when the exact
        predicates hold (see query.py). Keyset pages: sorted on the sort fields and ``_id``,
        each batch starts after the position of the previous batch's last candidate."""
        order = sort_fields(query.sort)
        batch = max(100, 2 * (limit or 0))
        after = query.after
        found: list[tuple[Document, Position]] = []
        while limit is None or len(found) < limit:
            page_filter = (
                criteria if after is None else {"$and": [criteria, keyset(query.sort, after)]}
            )
            cursor = self._current.find(page_filter).sort(order).limit(batch)
            candidates = await cursor.to_list()
            for document in candidates:
                if self._exact(query, document):
                    found.append((document, self._position(query, document)))
            if len(candidates) < batch:
                break
            after = self._position(query, candidates[-1])
        return found if limit is None else found[:limit]

    @staticmethod
    def _position(query: SearchQuery, document: Document) -> Position:
        fields = {"rid": document["rid"], "lastUpdated": document["lastUpdated"]}
        values = values_of(query.sort, document.get("sk"), fields)
        return Position(values, resource_key(document["type"], document["rid"]))

    async def _watermark(self) -> int:
        """The highest write sequence number reserved so far (every landed write is at or
        below it)."""
        latest = await self._sequence.find_one({}, sort=[("_id", DESCENDING)])
        return max(self._last_seq, int(latest["_id"]) if latest else 0)

    async def _moved(
        self, query: SearchQuery, criteria: Document, as_of: int
    ) -> list[tuple[Document, Position]]:
        """Matches written after ``as_of``, each placed where its version current at
        ``as_of`` stood (from history); those created after ``as_of`` are left out."""
        documents = await self._current.find({**criteria, "seq": {"$gt": as_of}}).to_list()
        documents = [d for d in documents if self._exact(query, d)]
        if not documents:
            return []
        then: dict[str, Document] = {}
        rids = sorted({d["rid"] for d in documents})
        earlier = self._history.find({"rid": {"$in": rids}, "seq": {"$lte": as_of}})
        for version in await earlier.to_list():
            key = resource_key(version["type"], version["rid"])
            if key not in then or version["seq"] > then[key]["seq"]:
                then[key] = version
        placed = []
        for document in documents:
            stood = then.get(document["_id"])
            if stood is None or stood["json"] is None:
                continue  # created, or recreated, after the walk began
            position = self._position(query, stood)
            if query.after is None or compare(query.sort, _pair(position), _pair(query.after)) > 0:
                placed.append((document, position))
        return placed

    async def search(self, query: SearchQuery) -> list[StoredVersion]:
        if query.as_of is not None:
            return (await self.search_page(query)).versions
        # no walk to keep exact: current positions, without the watermark's two queries
        found = await self._matching(query, self._search_filter(query), query.count)
        return [to_stored(d) for d, _ in found]

    async def search_page(self, query: SearchQuery) -> SearchPage:
        as_of = await self._watermark() if query.as_of is None else query.as_of
        criteria = self._search_filter(query)
        stable = {**criteria, "seq": {"$lte": as_of}}
        found = await self._matching(query, stable, query.count)
        found += await self._moved(query, criteria, as_of)
        found.sort(key=lambda f: sort_key(query.sort)(_pair(f[1])))
        found = found[: query.count]
        return SearchPage([to_stored(d) for d, _ in found], [p for _, p in found], as_of)

    async def count(self, query: SearchQuery) -> int:
        criteria = self._search_filter(query)
        return len(await self._matching(replace(query, after=None), criteria, None))

    # Reindexing. ``replace_index`` may only change the index of the version it was given,
    # and on FerretDB a conditional update is a read and then a write of the *whole*
    # document: a writer's step 3 landing in between would be undone (the current document
    # set back to the old version). So it reserves the next version in the journal first,
    # exactly as a writer would: while it holds ``Type/id/version+1`` no writer can move the
    # resource, and a writer that holds it already makes the reindex skip the resource (it
    # indexes its new version itself). A writer meeting the reservation gets a conflict and
    # retries as after any lost race; one left by a crash is dropped by recovery (``_finish``).

    # What a version document holds of the version itself; the rest derives from its index.
    _OWN_FIELDS = frozenset(
        ("_id", "type", "rid", "version", "seq", "lastUpdated", "method", "json")
    )

    def _live_filter(self, resource_type: str | None) -> Document:
        criteria: Document = {"deleted": False}
        if resource_type is not None:
            criteria["type"] = resource_type
        return criteria

    async def iterate_current(
        self, resource_type: str | None, batch: int = 500
    ) -> AsyncIterator[list[StoredVersion]]:
        criteria = self._live_filter(resource_type)
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
        return await self._current.count_documents(self._live_filter(resource_type))

    async def replace_index(
        self, version: StoredVersion, index: tuple[dict[str, Any], ...]
    ) -> bool:
        # the fields a commit of ``version`` with ``index`` would set, but for the version's own
        write = Write(
            version.resource_type,
            version.id,
            version.version,
            version.last_updated,
            version.method,
            version.body,
            index,
        )
        fields = {
            k: v
            for k, v in version_document(write, version.seq).items()
            if k not in self._OWN_FIELDS
        }
        reservation = {
            "_id": version_key(version.resource_type, version.id, version.version + 1),
            "reindex": True,
            "seq": 0,
            "reservedAt": datetime.now(UTC),
        }
        try:
            await self._journal.insert_one(reservation)
        except DuplicateKeyError:
            return False  # a writer is committing the next version
        try:
            current = {
                "_id": resource_key(version.resource_type, version.id),
                "version": version.version,
                "deleted": False,
            }
            result = await self._current.update_one(current, {"$set": fields})
            return bool(result.matched_count)
        finally:
            await self._journal.delete_one({"_id": reservation["_id"]})


def _pair(position: Position) -> tuple[tuple[SortValue, ...], str]:
    return position.values, position.key


def sort_fields(sort: tuple[SortKey, ...]) -> list[tuple[str, int]]:
    """The MongoDB sort of ``sort`` then ``_id``: missing values last in both directions
    (the ``sk.h`` flag, descending, goes before an ascending value)."""
    order: list[tuple[str, int]] = []
    for key in sort:
        if key.code in RESOURCE_FIELDS:
            order.append((RESOURCE_FIELDS[key.code], DESCENDING if key.descending else ASCENDING))
        elif key.descending:
            order.append((f"sk.{DESC}.{field_name(key.code)}", DESCENDING))
        else:
            order.append((f"sk.{HAS}.{field_name(key.code)}", DESCENDING))
            order.append((f"sk.{ASC}.{field_name(key.code)}", ASCENDING))
    order.append(("_id", ASCENDING))
    return order


def keyset(sort: tuple[SortKey, ...], after: Position) -> Document:
    """Documents strictly after ``after`` in ``sort_fields`` order: an ``$or`` over each
    key of (every earlier key equal, this one after), and finally (all equal, ``_id``
    greater). A missing value is after every value and equal only to another missing."""
    terms: list[Document] = []
    equal: list[Document] = []
    for key, value in zip(sort, after.values, strict=True):
        if key.code in RESOURCE_FIELDS:
            name = RESOURCE_FIELDS[key.code]
        else:
            name = f"sk.{DESC if key.descending else ASC}.{field_name(key.code)}"
        if value is None:
            equal.append({name: {"$exists": False}})
            continue
        beyond: Document = {name: {"$lt" if key.descending else "$gt": value}}
        if key.code not in RESOURCE_FIELDS:
            beyond = {"$or": [beyond, {name: {"$exists": False}}]}
        terms.append({"$and": [*equal, beyond]} if equal else beyond)
        equal.append({name: value})
    last: Document = {"_id": {"$gt": after.key}}
    terms.append({"$and": [*equal, last]} if equal else last)
    return terms[0] if len(terms) == 1 else {"$or": terms}


def connect(uri: str, database: str) -> MongoStore:
    """One client per process, created by the app lifespan or the CLI."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True, connect=False)
    return MongoStore(client, database)
