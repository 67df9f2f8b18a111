"""The write sequence: numbers reserved by unique inserts, found again by ``_id`` lookups.

Every write reserves the next number by inserting ``{_id: key(n)}`` into ``sequence``;
of two writers trying one number, one gets a duplicate key and tries the next, so the
numbers are reserved densely: every number up to the highest is taken. The highest is
then found by ``_id`` lookups alone (``highest``: doubling steps from one known to be
taken, then bisection), which matters on FerretDB, whose SQLite backend serves no other
query from an index (a sort on ``_id`` reads the whole collection). Keys are zero-padded
strings because FerretDB pushes down only string (or ObjectId) ``_id`` filters.

Stores written before this scheme hold integer keys; ``open`` records their highest as
the ``floor`` (one scan, once), below which every number counts as taken.

A number's document also says when it was reserved (``at``) and, once its writer knows
that no version will ever have it (a lost race, an aborted transaction), that it is
``void``: the changes feed (``changes.py``) reads both to tell a number still in flight
from one that will stay a gap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator, Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

Probe = Generator[int, bool, int]
FLOOR = "floor"


def key(n: int) -> str:
    return f"{n:015d}"


def highest(low: int) -> Probe:
    """The plan of probes for the highest taken number, given that ``low`` is taken (or
    0): yields a number, is sent whether it is taken, returns the highest."""
    step = 1
    while (yield low + step):
        low += step
        step *= 2
    high = low + step
    while high - low > 1:
        middle = (low + high) // 2
        if (yield middle):
            low = middle
        else:
            high = middle
    return low


async def run_probe(plan: Probe, taken: Callable[[int], Awaitable[bool]]) -> int:
    try:
        n = next(plan)
        while True:
            n = plan.send(await taken(n))
    except StopIteration as done:
        return int(done.value)


def run_probe_sync(plan: Probe, taken: Callable[[int], bool]) -> int:
    """``run_probe`` for synchronous clients (the benchmark's loader)."""
    try:
        n = next(plan)
        while True:
            n = plan.send(taken(n))
    except StopIteration as done:
        return int(done.value)


class WriteSequence:
    """Reserves and finds write sequence numbers in one collection."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._collection = collection
        self._last = 0
        self._floor: int | None = None

    async def open(self) -> None:
        self._floor = None
        await self._known_floor()

    async def _known_floor(self) -> int:
        if self._floor is None:
            floor = await self._collection.find_one({"_id": FLOOR})
            if floor is None:
                legacy = await self._collection.find_one(
                    {"_id": {"$type": "number"}}, sort=[("_id", DESCENDING)]
                )
                value = int(legacy["_id"]) if legacy else 0
                try:
                    await self._collection.insert_one({"_id": FLOOR, "n": value})
                except DuplicateKeyError:
                    floor = await self._collection.find_one({"_id": FLOOR})
                    value = int(floor["n"]) if floor else value
            else:
                value = int(floor["n"])
            self._floor = value
        return self._floor

    async def _taken(self, n: int) -> bool:
        return await self._collection.find_one({"_id": key(n)}, {"_id": 1}) is not None

    async def highest(self) -> int:
        """The highest number reserved so far by any process."""
        start = max(self._last, await self._known_floor())
        self._last = await run_probe(highest(start), self._taken)
        return self._last

    async def reserve_many(self, count: int) -> list[int]:
        """``count`` numbers, in one ordered ``insert_many`` when no other writer takes
        one meanwhile; from the first clash on, one by one."""
        if count == 0:
            return []
        first = max(self._last, await self._known_floor()) + 1
        at = datetime.now(UTC)
        block = [{"_id": key(first + i), "at": at} for i in range(count)]
        try:
            await self._collection.insert_many(block, ordered=True)
            taken = count
        except BulkWriteError as error:
            taken = int(error.details.get("nInserted", 0))
        numbers = list(range(first, first + taken))
        if numbers:
            self._last = max(self._last, numbers[-1])
        while len(numbers) < count:
            numbers.append(await self.reserve())
        return numbers

    async def reserve(self) -> int:
        """The next free number, now taken by the caller."""
        candidate = max(self._last, await self._known_floor()) + 1
        while True:
            try:
                await self._collection.insert_one({"_id": key(candidate), "at": datetime.now(UTC)})
            except DuplicateKeyError:
                candidate = max(candidate, await self.highest()) + 1
                continue
            self._last = max(self._last, candidate)
            return candidate

    async def void(self, numbers: Iterable[int]) -> None:
        """Mark reserved numbers that no version will have (only their writer, or the
        recoverer that dropped its write, knows it), so the changes feed need not wait."""
        await asyncio.gather(
            *(
                self._collection.update_one({"_id": key(n)}, {"$set": {"void": True}})
                for n in numbers
            )
        )

    async def reservations(self, numbers: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The documents of ``numbers`` that have one, by number (lookups by ``_id``)."""
        wanted = list(numbers)
        found = await asyncio.gather(*(self._collection.find_one({"_id": key(n)}) for n in wanted))
        return {n: doc for n, doc in zip(wanted, found, strict=True) if doc is not None}
