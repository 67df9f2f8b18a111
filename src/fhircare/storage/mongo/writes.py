"""Journaled writes: how ``MongoStore`` commits a version, reindexes, and recovers.

ResourceStore on MongoDB (and FerretDB) with pymongo's native async API.

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

A number that no version will have (a lost race, a dropped write) is marked void in
``sequence``. A writer that finds step 2 done more than half the intent timeout after it
began step 1 withdraws the entry and starts again with a new number: the changes feed
(``changes.py``) takes a number reserved longer ago than the intent timeout, with no
journal entry and no history, for one that will stay a gap.

A crash after step 2 leaves a journal entry that blocks that one resource until it is
older than ``intent_timeout``; then recovery (at start-up, or by the next writer that
meets it) finishes it: steps 3 to 5 are each safe to repeat. No multi-document
transaction is needed, so the same code is correct on FerretDB, a standalone MongoDB and
a replica set. The journal stays a handful of documents, which matters on FerretDB's
SQLite backend, where a lookup that is not an insert scans its collection.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DocumentTooLarge, DuplicateKeyError

from fhircare.storage.mongo.documents import (
    Document,
    current_fields,
    entry_version,
    history_document,
    resource_key,
    to_stored,
    version_document,
    version_key,
)
from fhircare.storage.mongo.sequence import WriteSequence
from fhircare.storage.protocol import (
    WATCHED_TYPES,
    StoredVersion,
    VersionConflict,
    Write,
    WriteTooLarge,
)


class JournaledWrites:
    """``MongoStore``'s writes: commit, reindex (``replace_index``) and recovery, over the
    collections ``MongoStore`` opens."""

    _current: AsyncCollection[Document]
    _history: AsyncCollection[Document]
    _journal: AsyncCollection[Document]
    _sequence: WriteSequence
    _changes: AsyncCollection[Document]
    _intent_timeout: timedelta

    async def settle(self, poll_seconds: float = 0.25) -> int:
        """Start-up: recover, then wait until each journal entry left is either cleared by
        its owner (another live process) or stale (its owner crashed) and recover that,
        so that this process serves nothing half-done; returns how many it recovered.
        Waits at most the intent timeout, and not at all on a clean store."""
        handled = await self.recover()
        pending = [e["_id"] for e in await self._journal.find({}, {"_id": 1}).to_list()]
        while pending:
            await asyncio.sleep(poll_seconds)
            handled += await self.recover()
            left = self._journal.find({"_id": {"$in": pending}}, {"_id": 1})
            pending = [e["_id"] for e in await left.to_list()]
        return handled

    async def recover(self, everything: bool = False) -> int:
        """Finish (or, for an undecided transaction, drop) the interrupted writes whose
        entries are older than the intent timeout; all of them if ``everything`` (only
        when no other process can be writing); returns how many."""
        cutoff = datetime.now(UTC) + (timedelta() if everything else -self._intent_timeout)
        handled = 0
        for entry in sorted(await self._journal.find({}).to_list(), key=lambda e: e["seq"]):
            handled += await self._resolve(entry, entry["reservedAt"] <= cutoff)
        await self._clear_outcomes(cutoff)
        return handled

    async def _resolve(self, entry: Document, stale: bool) -> bool:
        """Finish a single write's stale entry; a transaction's as its outcome says."""
        if "tx" in entry:
            return await self._resolve_transaction_entry(entry, stale)
        if stale:
            await self._finish(entry)
        return stale

    async def _resolve_transaction_entry(self, entry: Document, stale: bool) -> bool:
        raise NotImplementedError  # transactions.py

    async def _clear_outcomes(self, cutoff: datetime) -> None:
        """Nothing to clear without transactions (transactions.py)."""

    async def commit(self, write: Write) -> StoredVersion:
        while True:
            started = time.monotonic()
            version = version_document(write, await self._next_seq())
            entry = {**version, "reservedAt": datetime.now(UTC)}
            try:
                await self._journal.insert_one(entry)
            except DocumentTooLarge as error:  # refused before anything was kept
                await self._sequence.void([version["seq"]])
                raise WriteTooLarge(str(error)) from None
            except DuplicateKeyError:
                await self._sequence.void([version["seq"]])
                await self._take_over_if_stale(version["_id"])
                raise await self._conflict(write) from None
            if self._reserved_too_long(started) and await self._withdraw(entry):
                continue
            if not await self._finish(entry):
                raise await self._conflict(write)
            return to_stored(version)

    def _reserved_too_long(self, started: float) -> bool:
        """Whether step 2 ended more than half the intent timeout after step 1 began (at
        ``time.monotonic()`` ``started``): the changes feed may soon take the number for
        an abandoned one (the other half is a margin for clocks)."""
        return time.monotonic() - started > self._intent_timeout.total_seconds() / 2

    async def _withdraw(self, entry: Document) -> bool:
        """Delete a fresh entry of one's own before anything of it was applied and void its
        number; False when it is gone already (a recoverer took it over)."""
        withdrawn = await self._journal.delete_one({"_id": entry["_id"], "seq": entry["seq"]})
        if withdrawn.deleted_count == 1:
            await self._sequence.void([entry["seq"]])
        return withdrawn.deleted_count == 1

    async def _conflict(self, write: Write) -> VersionConflict:
        latest = await self._current.find_one({"_id": resource_key(write.resource_type, write.id)})
        return VersionConflict(latest["version"] if latest else 0)

    async def _take_over_if_stale(self, key: str) -> None:
        rival = await self._journal.find_one({"_id": key})
        if rival is not None:
            await self._resolve(
                rival, rival["reservedAt"] <= datetime.now(UTC) - self._intent_timeout
            )

    async def _finish(self, entry: Document) -> bool:
        """Steps 3 to 5 for a reserved version; False if the resource moved past it."""
        if entry.get("reindex"):  # a reindex's reservation (replace_index) left behind
            await self._journal.delete_one({"_id": entry["_id"]})
            return False
        version = entry_version(entry)
        landed = await self._set_current(version)
        key = resource_key(version["type"], version["rid"])
        # Past it: its writer set the current document and died before step 4, and others
        # wrote later versions on top (their own keys were free). While this entry holds
        # ``Type/id/version`` nobody else can have written that version, so it is this
        # one, and history must still get it.
        if landed or await self._version_of(key) > version["version"]:
            with suppress(DuplicateKeyError):
                await self._history.insert_one(history_document(version))
            if version["type"] in WATCHED_TYPES:
                await self._changed(version["type"])
        else:
            # never landed, and with the resource elsewhere nobody finishing this entry can
            # land it: its number stays a gap
            await self._sequence.void([version["seq"]])
        await self._journal.delete_one({"_id": version["_id"]})
        return landed

    async def _changed(self, resource_type: str) -> None:
        """A new ``change_token`` for ``resource_type``: after the version landed and
        before its journal entry goes, so recovery renews it if a crash came between."""
        token = {"$set": {"token": uuid.uuid4().hex}}
        try:
            await self._changes.update_one({"_id": resource_type}, token, upsert=True)
        except DuplicateKeyError:  # two first upserts raced; the winner's token is new too
            await self._changes.update_one({"_id": resource_type}, token)

    async def change_token(self, resource_type: str) -> str:
        document = await self._changes.find_one({"_id": resource_type})
        return str(document["token"]) if document else ""

    async def _set_current(self, version: Document) -> bool:
        key = resource_key(version["type"], version["rid"])
        fields = current_fields(version)
        if version["version"] == 1:
            with suppress(DuplicateKeyError):
                await self._current.insert_one({"_id": key, **fields})
                return True
        elif await self._version_of(key) == version["version"] - 1:
            # Only the holder of this version's journal entry may move the resource on from
            # the version before (or a recoverer finishing that same entry, writing the
            # same fields), so reading then writing by ``_id`` alone, the one filter
            # FerretDB serves from an index, is a compare-and-set here.
            await self._current.update_one({"_id": key}, {"$set": fields})
            return True
        current = await self._current.find_one({"_id": key}, {"seq": 1})
        return current is not None and current["seq"] == version["seq"]

    async def _version_of(self, key: str) -> int:
        """The current version of the resource ``Type/id`` (0 when it never existed)."""
        current = await self._current.find_one({"_id": key}, {"version": 1})
        return int(current["version"]) if current else 0

    async def _next_seq(self) -> int:
        return await self._sequence.reserve()

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

    async def replace_index(
        self, version: StoredVersion, index: tuple[dict[str, Any], ...]
    ) -> bool:
        # the fields a commit of ``version`` with ``index`` would set, but for the version's own
        write = version.reindexed(index)
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
            key = resource_key(version.resource_type, version.id)
            current = await self._current.find_one({"_id": key}, {"version": 1, "deleted": 1})
            if current is None or current["version"] != version.version or current["deleted"]:
                return False
            await self._current.update_one({"_id": key}, {"$set": fields})  # as _set_current
            return True
        finally:
            await self._journal.delete_one({"_id": reservation["_id"]})
