"""All-or-nothing ``commit_all`` on any MongoDB, FerretDB included, and claims.

A transaction reserves every version as a single write does (``writes.py``), each journal
entry tagged with the transaction's id, then decides by inserting ``{_id: tx, outcome}``
into ``outcomes``: a unique insert, so of the owner (committing) and a recoverer (aborting
a transaction whose owner seems dead) exactly one wins. Before that insert nothing of the
transaction is visible; after it, steps 3 to 5 of each entry are applied by the owner or,
after a crash, by recovery, which finishes a committed transaction's entries and
aborts an undecided one, once its entries are older than the intent timeout (its owner is
then taken for dead; ``settle`` makes start-up wait for that). The steps:

1. ``sequence``: reserve a write sequence number per write;
2. ``journal``: insert every entry, in one ordered ``insert_many`` (a duplicate key is a
   conflict: the entries inserted so far are deleted and ``VersionConflict`` names the
   write);
3. ``checked``: each resource is still at the version before its write;
4. ``decided``: insert the outcome ``commit`` (the commit point);
5. ``current``, ``history``: set every current document, copy every version to history
   (batched), then clear the entries;
6. ``cleared``: delete the outcome.

Before step 3, a transaction whose entries were journaled too late after its numbers were
reserved withdraws them and starts again, as a single write does (``writes.py``); an
aborted transaction's numbers are marked void.

An abort outcome outlives its entries for ten intent timeouts: an owner stalled past the
timeout, whose entries a recoverer dropped, then finds it and cannot decide ``commit``.

Readers may see a committed transaction's resources change one by one during step 5
(each resource is never torn), as with MongoDB's own multi-document transactions read
outside a snapshot; they never see anything of an aborted one. ``_step`` marks each step
boundary; the fault-injection tests raise there.

A claim is a document in ``claims`` keyed by its name: a unique insert takes it, and one
older than the intent timeout is taken over by whoever first inserts a take-over marker.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DocumentTooLarge, DuplicateKeyError

from fhircare.storage.mongo.documents import (
    Document,
    current_fields,
    entry_version,
    history_document,
    resource_key,
    to_stored,
    version_document,
)
from fhircare.storage.mongo.writes import JournaledWrites
from fhircare.storage.protocol import (
    WATCHED_TYPES,
    StoredVersion,
    VersionConflict,
    Write,
    WriteTooLarge,
)

COMMIT, ABORT = "commit", "abort"
DUPLICATE_KEY = 11000


class _Withdrawn(Exception):
    """The entries were journaled too late after the numbers were reserved."""


class JournaledTransactions(JournaledWrites):
    """``MongoStore``'s ``commit_all``, ``claim`` and ``release``."""

    _outcomes: AsyncCollection[Document]
    _claims: AsyncCollection[Document]

    async def _step(self, name: str) -> None:
        """A step boundary of ``commit_all`` (a hook for fault-injection tests)."""

    async def commit_all(self, writes: Sequence[Write]) -> list[StoredVersion]:
        while True:
            started = time.monotonic()
            tx = uuid.uuid4().hex
            seqs = await self._sequence.reserve_many(len(writes))
            versions = [version_document(w, n) for w, n in zip(writes, seqs, strict=True)]
            await self._step("sequence")
            reserved_at = datetime.now(UTC)
            entries = [{**v, "tx": tx, "reservedAt": reserved_at} for v in versions]
            try:
                try:
                    await self._reserve(entries, writes)
                except DocumentTooLarge as error:  # the entries before it are dropped below
                    raise WriteTooLarge(str(error)) from None
                await self._step("journal")
                if self._reserved_too_long(started):
                    raise _Withdrawn  # as a single write withdraws (writes.py)
                await self._check_versions(writes)
                if await self._journal.count_documents({"tx": tx}) != len(entries):
                    raise VersionConflict(writes[0].version - 1, 0)  # a recoverer aborted it
                await self._step("checked")
                if await self._decide(tx, COMMIT) != COMMIT:
                    raise VersionConflict(writes[0].version - 1, 0)  # a recoverer aborted it
            except _Withdrawn:
                await self._abort(tx, seqs)
                continue
            except Exception:
                await self._abort(tx, seqs)
                raise
            await self._step("decided")
            await self._apply(entries)
            await self._outcomes.delete_one({"_id": tx})
            await self._step("cleared")
            return [to_stored(v) for v in versions]

    async def _abort(self, tx: str, seqs: list[int]) -> None:
        """Decide ``abort`` (unless already decided) and drop every entry; the numbers are
        void when the abort stands (nothing of the transaction was applied)."""
        outcome = await self._decide(tx, ABORT)
        await self._journal.delete_many({"tx": tx})
        await self._outcomes.delete_one({"_id": tx})
        if outcome == ABORT:
            await self._sequence.void(seqs)

    async def _reserve(self, entries: list[Document], writes: Sequence[Write]) -> None:
        """Step 2 in one ordered ``insert_many``: a duplicate key stops it there, and that
        write is the conflict (the entries before it are deleted by the caller)."""
        try:
            await self._journal.insert_many(entries, ordered=True)
        except BulkWriteError as error:
            failed = error.details.get("writeErrors") or [{}]
            index = int(failed[0].get("index", 0))
            if failed[0].get("code") != DUPLICATE_KEY:
                raise
            await self._take_over_if_stale(entries[index]["_id"])
            raise await self._conflict_at(writes[index], index) from None

    async def _check_versions(self, writes: Sequence[Write]) -> None:
        """Step 3: each resource is still at the version before its write (lookups by key,
        concurrently)."""
        keys = [resource_key(w.resource_type, w.id) for w in writes]
        found = await asyncio.gather(*(self._version_of(key) for key in keys))
        for index, (write, version) in enumerate(zip(writes, found, strict=True)):
            if version != write.version - 1:
                raise VersionConflict(version, index)

    async def _apply(self, entries: list[Document]) -> None:
        """Step 5 for every entry: new resources in one ``insert_many``, changed ones by
        key concurrently, then history in one ``insert_many`` and the journal cleared.
        A crash anywhere in it leaves the journal entries, which recovery finishes one by
        one (``_finish``, each step of which is safe to repeat)."""
        versions = [entry_version(e) for e in entries]
        created = [v for v in versions if v["version"] == 1]
        if created:
            documents = [
                {"_id": resource_key(v["type"], v["rid"]), **current_fields(v)} for v in created
            ]
            with suppress(BulkWriteError):  # a duplicate: already applied by recovery
                await self._current.insert_many(documents, ordered=False)
        changed = [v for v in versions if v["version"] != 1]
        await asyncio.gather(*(self._set_current(v) for v in changed))
        await self._step("current")
        with suppress(BulkWriteError):  # a duplicate: already copied by recovery
            await self._history.insert_many([history_document(v) for v in versions], ordered=False)
        await self._step("history")
        for resource_type in sorted({v["type"] for v in versions} & WATCHED_TYPES):
            await self._changed(resource_type)
        await self._journal.delete_many({"_id": {"$in": [e["_id"] for e in entries]}})

    async def _conflict_at(self, write: Write, index: int) -> VersionConflict:
        latest = await self._current.find_one(
            {"_id": resource_key(write.resource_type, write.id)}, {"version": 1}
        )
        return VersionConflict(latest["version"] if latest else 0, index)

    async def _decide(self, tx: str, outcome: str) -> str:
        """Record ``outcome`` unless one is recorded already; the outcome that stands."""
        try:
            await self._outcomes.insert_one({"_id": tx, "outcome": outcome, "at": _now()})
            return outcome
        except DuplicateKeyError:
            decided = await self._outcomes.find_one({"_id": tx})
            return str(decided["outcome"]) if decided else outcome

    async def _resolve_transaction_entry(self, entry: Document, stale: bool) -> bool:
        """Finish or drop a stale transaction entry, as its outcome says (an undecided
        transaction is aborted). A fresh one is its owner's alone, decided or not: two
        parties applying one version could let the slower one's write land after a later
        version's (FerretDB has no atomic conditional update). True when handled."""
        if not stale:
            return False
        decided = await self._outcomes.find_one({"_id": entry["tx"]})
        outcome = decided["outcome"] if decided else await self._decide(entry["tx"], ABORT)
        if outcome == COMMIT:
            await self._finish(entry)
        else:
            await self._journal.delete_one({"_id": entry["_id"], "tx": entry["tx"]})
            await self._sequence.void([entry["seq"]])
        return True

    async def _clear_outcomes(self, cutoff: datetime) -> None:
        """Drop the outcomes whose transaction left no journal entry behind: a commit's at
        once, an abort's only when it is ten intent timeouts old, so that an owner stalled
        that long still finds it and cannot commit what a recoverer rolled back."""
        kept_until = datetime.now(UTC) - 10 * self._intent_timeout
        async for decided in self._outcomes.find({}):
            if decided["outcome"] == ABORT and decided["at"] > kept_until:
                continue
            if await self._journal.find_one({"tx": decided["_id"]}, {"_id": 1}) is None:
                await self._outcomes.delete_one({"_id": decided["_id"]})

    async def claim(self, name: str) -> str | None:
        token = uuid.uuid4().hex
        for _ in range(2):
            try:
                await self._claims.insert_one({"_id": name, "token": token, "at": _now()})
                return token
            except DuplicateKeyError:
                held = await self._claims.find_one({"_id": name})
            if held is not None and held["at"] > _now() - self._intent_timeout:
                return None
            if held is not None and not await self._take_over(name, held["token"]):
                return None
        return None

    async def _take_over(self, name: str, stale_token: str) -> bool:
        marker = f"{name}\x00taken-over\x00{stale_token}"
        try:
            await self._claims.insert_one({"_id": marker, "token": "", "at": _now()})
        except DuplicateKeyError:
            return False
        await self._claims.delete_one({"_id": name, "token": stale_token})
        await self._claims.delete_one({"_id": marker})
        return True

    async def release(self, name: str, token: str) -> None:
        await self._claims.delete_one({"_id": name, "token": token})


def _now() -> datetime:
    return datetime.now(UTC)
