"""The write sequence in order on ``MongoStore`` (``ResourceStore.changes``).

Writes are journaled (``writes.py``), so versions do not reach ``history`` in the order of
their numbers: a writer reserves number N, then journals, then lands, and N+1 may be in
history before N. A number missing from history is one of:

- pending: its journal entry is there (the write or transaction is being applied, or its
  writer died and recovery will finish or drop it);
- in flight: reserved less than the intent timeout ago and not yet journaled (a writer
  that journals later than half that withdraws and takes a new number, ``writes.py``);
- a gap for good: marked void by whoever knows no version will have it, or reserved
  longer ago than the intent timeout and never journaled (a lost race, a dead writer).

``changes`` lists history in sequence order and stops before the first pending or
in-flight number, so a cursor that moves past what it saw skips nothing; gaps for good
are stepped over. The journal is read before history: a write missing from both was
journaled after the journal was read, so its number is in flight (or void) then. A stale
journal entry (its writer died) is recovered on the spot rather than left to block.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo import ASCENDING

from fhircare.storage.mongo.documents import Document, to_stored
from fhircare.storage.mongo.writes import JournaledWrites
from fhircare.storage.protocol import StoredVersion

_LOOKUPS = 64
"""How many numbers missing from history are looked up in ``sequence`` at once."""


class MongoChanges(JournaledWrites):
    """``MongoStore.changes``, over the collections ``MongoStore`` opens."""

    async def changes(
        self, after_seq: int, resource_types: Sequence[str] | None = None, count: int = 500
    ) -> list[StoredVersion]:
        types = None if resource_types is None else sorted(set(resource_types))
        if count <= 0 or types == []:
            return []
        now, pending = await self._pending(after_seq)
        criteria: Document = {"seq": {"$gt": after_seq}}
        if types is not None:
            criteria["type"] = {"$in": types}
        cursor = self._history.find(criteria, {"sk": 0}).sort("seq", ASCENDING).limit(count)
        page = await cursor.to_list()
        if not page:
            return []
        last = int(page[-1]["seq"])
        if types is None:
            present = {int(d["seq"]) for d in page}
        else:
            present = await self._landed_between(after_seq, last)
        settled = await self._settled(after_seq, last, present, pending, now)
        return [to_stored(d) for d in page if d["seq"] <= settled]

    async def _pending(self, after_seq: int) -> tuple[datetime, set[int]]:
        """When the journal was read (before reading it) and the numbers above
        ``after_seq`` its entries hold; stale entries are recovered first."""
        for attempt in range(2):
            now = datetime.now(UTC)
            found = self._journal.find({"seq": {"$gt": after_seq}}, {"seq": 1, "reservedAt": 1})
            entries = [e for e in await found.to_list() if e["seq"] > 0]  # 0: a reindex's
            stale = now - self._intent_timeout
            if attempt or all(e["reservedAt"] > stale for e in entries):
                break
            await self.recover()  # a dead writer's entry: finish or drop it now
        return now, {int(e["seq"]) for e in entries}

    async def _landed_between(self, after_seq: int, last: int) -> set[int]:
        """The numbers in ``(after_seq, last]`` that history holds (versions of any type)."""
        span: Document = {"seq": {"$gt": after_seq, "$lte": last}}
        if await self._history.count_documents(span) == last - after_seq:
            return set(range(after_seq + 1, last + 1))
        found = await self._history.find(span, {"seq": 1, "_id": 0}).to_list()
        return {int(d["seq"]) for d in found}

    async def _settled(
        self, after_seq: int, last: int, present: set[int], pending: set[int], now: datetime
    ) -> int:
        """The highest number up to ``last`` below which (and at which) every number is
        in history or a gap for good, given the journal read at ``now``."""
        if len(present) == last - after_seq:
            return last
        missing = [n for n in range(after_seq + 1, last + 1) if n not in present]
        stale = now - self._intent_timeout
        for start in range(0, len(missing), _LOOKUPS):
            chunk = missing[start : start + _LOOKUPS]
            reserved = await self._sequence.reservations(n for n in chunk if n not in pending)
            for n in chunk:
                if n in pending:
                    return n - 1
                # no document: a number below the floor of integer keys (sequence.py)
                document = reserved.get(n, {})
                at = document.get("at")
                if not document.get("void") and at is not None and at > stale:
                    return n - 1  # reserved just now: its writer may still journal it
        return last
