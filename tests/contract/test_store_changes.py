"""``ResourceStore.changes``: the write sequence in order, for the sync adapter's push cursor.

Run against every store; then, on MongoDB (FerretDB), a number whose write is still in
flight, pending in the journal, abandoned or void (``storage/mongo/changes.py``). The
order is the one history keeps (https://hl7.org/fhir/R4/http.html#history), oldest first.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from fhircare.storage.mongo.documents import version_document
from fhircare.storage.mongo.sequence import key
from fhircare.storage.mongo.store import MongoStore, connect
from fhircare.storage.protocol import (
    HistoryQuery,
    ResourceStore,
    StoredVersion,
    VersionConflict,
    Write,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def write(id: str, version: int, body: bytes | None = b"{}", t: str = "Patient") -> Write:
    method = "DELETE" if body is None else ("POST" if version == 1 else "PUT")
    return Write(t, id, version, T0 + timedelta(seconds=version), method, body)


def names(versions: list[StoredVersion]) -> list[tuple[str, str, int]]:
    return [(v.resource_type, v.id, v.version) for v in versions]


async def walk(
    store: ResourceStore, types: list[str] | None = None, count: int = 3
) -> list[StoredVersion]:
    """Every change, a page of ``count`` at a time, the cursor moved past each page."""
    cursor, found = 0, []
    while page := await store.changes(cursor, types, count):
        assert len(page) <= count
        assert all(v.seq > cursor for v in page)
        cursor = page[-1].seq
        found += page
    return found


async def test_changes_list_every_version_oldest_first_deletes_included(
    store: ResourceStore,
) -> None:
    committed = [
        await store.commit(write("a", 1, b'{"a":1}')),
        await store.commit(write("b", 1, t="Observation")),
        await store.commit(write("a", 2, b'{"a":2}')),
        await store.commit(write("a", 3, None)),
        await store.commit(write("c", 1, t="Task")),
    ]
    listed = await store.changes(0)
    assert listed == committed
    assert [v.seq for v in listed] == sorted(v.seq for v in listed)
    assert listed[3].deleted and listed[3].method == "DELETE" and listed[3].body is None
    assert listed[0].body == b'{"a":1}' and listed[0].last_updated == T0 + timedelta(seconds=1)
    newest_first = await store.history(HistoryQuery(count=50))
    assert listed == list(reversed(newest_first))


async def test_changes_after_a_sequence_number_and_at_most_count(store: ResourceStore) -> None:
    committed = [await store.commit(write(f"p{i}", 1)) for i in range(7)]
    assert await store.changes(committed[2].seq) == committed[3:]
    assert await store.changes(committed[2].seq, count=2) == committed[3:5]
    assert await store.changes(committed[-1].seq) == []
    assert await store.changes(0, count=0) == []
    assert await walk(store, count=3) == committed


async def test_changes_of_some_types_only(store: ResourceStore) -> None:
    committed = []
    for i in range(4):
        committed.append(await store.commit(write(f"p{i}", 1)))
        committed.append(await store.commit(write(f"o{i}", 1, t="Observation")))
        committed.append(await store.commit(write(f"t{i}", 1, t="Task")))
    committed.append(await store.commit(write("p0", 2, None)))

    def of(*types: str) -> list[StoredVersion]:
        return [v for v in committed if v.resource_type in types]

    assert await store.changes(0, ["Task"]) == of("Task")
    assert await store.changes(0, ["Task", "Patient"]) == of("Task", "Patient")
    assert await store.changes(0, ["Patient", "Patient"]) == of("Patient")
    assert await store.changes(0, ["Encounter"]) == []
    assert await store.changes(0, []) == []
    assert await walk(store, ["Observation", "Patient"], count=2) == of("Observation", "Patient")
    assert (await store.changes(0, ["Patient"]))[-1].deleted
    after = of("Task")[1].seq
    assert await store.changes(after, ["Task"], count=1) == of("Task")[2:3]


async def test_transactions_are_listed_in_sequence_order(store: ResourceStore) -> None:
    first = await store.commit(write("a", 1))
    bundle = await store.commit_all(
        [write("a", 2), write("x", 1, t="Task"), write("y", 1, t="Goal")]
    )
    last = await store.commit(write("a", 3, None))
    assert await store.changes(0) == [first, *bundle, last]
    assert await store.changes(first.seq, ["Goal", "Patient"]) == [bundle[0], bundle[2], last]


async def test_a_cursor_skips_nothing_and_repeats_nothing_while_others_write(
    store: ResourceStore,
) -> None:
    """Single writes, transactions and lost races run concurrently while a reader walks the
    sequence; what it lists, in order, is then exactly what was committed."""
    rng = random.Random(5)
    committed: list[StoredVersion] = []
    done = asyncio.Event()

    async def writer(n: int) -> None:
        for i in range(12):
            if i % 4 == 3:
                bundle = [write(f"w{n}-{i}-{j}", 1, t=("Task", "Goal")[j % 2]) for j in range(3)]
                committed.extend(await store.commit_all(bundle))
            else:
                committed.append(await store.commit(write(f"w{n}-{i}", 1)))
            await asyncio.sleep(rng.random() / 500)

    async def racer() -> None:
        """Lost races leave numbers no version has: they must not stop the cursor."""
        committed.append(await store.commit(write("contended", 1)))
        for version in range(2, 6):
            attempts = [store.commit(write("contended", version)) for _ in range(4)]
            results = await asyncio.gather(*attempts, return_exceptions=True)
            won = [r for r in results if isinstance(r, StoredVersion)]
            assert len(won) == 1
            assert all(isinstance(r, VersionConflict) for r in results if r not in won)
            committed.extend(won)

    async def reader() -> list[StoredVersion]:
        cursor, seen = 0, []
        while True:
            finished = done.is_set()
            page = await store.changes(cursor, count=5)
            seen += page
            cursor = page[-1].seq if page else cursor
            if finished and not page:
                return seen
            await asyncio.sleep(0 if page else 0.002)

    async def writers() -> None:
        await asyncio.gather(*(writer(n) for n in range(3)), racer())
        done.set()

    listed, _ = await asyncio.wait_for(asyncio.gather(reader(), writers()), timeout=60)
    assert len(committed) == 3 * (9 + 3 * 3) + 5
    assert [v.seq for v in listed] == sorted({v.seq for v in listed})
    assert sorted(listed, key=lambda v: v.seq) == sorted(committed, key=lambda v: v.seq)
    assert names(listed) == names(await store.changes(0, count=1000))


# -- MongoDB: numbers whose write is not in history (yet) ------------------------------


async def patients(store: MongoStore, *ids: str) -> list[StoredVersion]:
    return [await store.commit(write(id, 1)) for id in ids]


async def test_mongo_a_pending_journal_entry_holds_the_cursor_until_it_lands(
    mongo_store: MongoStore,
) -> None:
    (first,) = await patients(mongo_store, "a")
    pending = version_document(write("b", 1), await mongo_store._next_seq())
    await mongo_store._journal.insert_one({**pending, "reservedAt": datetime.now(UTC)})
    later = await patients(mongo_store, "c", "d")
    assert await mongo_store.changes(0) == [first]
    assert await mongo_store.changes(0, ["Patient"]) == [first]
    assert await mongo_store.changes(pending["seq"]) == later  # what is past it is settled

    await mongo_store._finish({**pending, "reservedAt": datetime.now(UTC)})
    listed = await mongo_store.changes(0)
    assert names(listed) == [("Patient", "a", 1), ("Patient", "b", 1), *names(later)]


async def test_mongo_a_number_reserved_but_not_journaled_yet_holds_the_cursor(
    mongo_store: MongoStore,
) -> None:
    """Between steps 1 and 2 of a write (``writes.py``) nothing but ``sequence`` knows of it."""
    (first,) = await patients(mongo_store, "a")
    reserved = await mongo_store._next_seq()
    later = await patients(mongo_store, "c")
    assert await mongo_store.changes(0) == [first]
    assert await mongo_store.changes(0, ["Patient"]) == [first]

    old = datetime.now(UTC) - 2 * mongo_store._intent_timeout
    await mongo_store._db["sequence"].update_one({"_id": key(reserved)}, {"$set": {"at": old}})
    assert await mongo_store.changes(0) == [first, *later]  # its writer is taken for dead


async def test_mongo_numbers_of_lost_races_and_aborted_transactions_do_not_wait(
    mongo_store: MongoStore,
) -> None:
    """Their writers mark them void at once (``sequence.py``): the cursor goes on without
    waiting out the intent timeout."""
    (first,) = await patients(mongo_store, "a")
    held = {"_id": "Patient/a/2", "reindex": True, "seq": 0, "reservedAt": datetime.now(UTC)}
    await mongo_store._journal.insert_one(held)
    with pytest.raises(VersionConflict):
        await mongo_store.commit(write("a", 2))  # the journal key is held
    await mongo_store._journal.delete_one({"_id": held["_id"]})
    with pytest.raises(VersionConflict):
        await mongo_store.commit(write("a", 1, b'{"late":1}'))  # dropped by _finish
    with pytest.raises(VersionConflict):
        await mongo_store.commit(write("z", 3))
    with pytest.raises(VersionConflict):
        await mongo_store.commit_all([write("t", 1, t="Task"), write("a", 1)])
    (last,) = await patients(mongo_store, "b")
    between = range(first.seq + 1, last.seq)
    assert len(between) == 5
    for n in between:
        reserved = await mongo_store._db["sequence"].find_one({"_id": key(n)})
        assert reserved is not None and reserved.get("void") is True, n
    assert await mongo_store.changes(0) == [first, last]
    assert await mongo_store.changes(0, ["Patient"]) == [first, last]


async def test_mongo_a_dead_writers_entry_is_recovered_by_the_reader(
    mongo_store: MongoStore,
) -> None:
    first, _ = await patients(mongo_store, "a", "moved")
    crashed = version_document(write("b", 1), await mongo_store._next_seq())
    stale = datetime.now(UTC) - 2 * mongo_store._intent_timeout
    await mongo_store._journal.insert_one({**crashed, "reservedAt": stale})
    dropped = version_document(write("moved", 5), await mongo_store._next_seq())
    await mongo_store._journal.insert_one({**dropped, "reservedAt": stale})
    (last,) = await patients(mongo_store, "c")

    listed = await mongo_store.changes(first.seq)
    assert names(listed) == [("Patient", "moved", 1), ("Patient", "b", 1), names([last])[0]]
    assert listed[1].seq == crashed["seq"]
    assert await mongo_store._journal.count_documents({}) == 0


async def test_mongo_a_reindex_reservation_does_not_hold_the_cursor(
    mongo_store: MongoStore,
) -> None:
    (first,) = await patients(mongo_store, "a")
    reservation = {"_id": "Patient/a/2", "reindex": True, "seq": 0, "reservedAt": datetime.now(UTC)}
    await mongo_store._journal.insert_one(reservation)
    (last,) = await patients(mongo_store, "b")
    assert await mongo_store.changes(0) == [first, last]


async def test_mongo_a_write_journaled_too_late_takes_a_new_number(
    mongo_uri: str, database_name: str
) -> None:
    """A writer that stalled between reserving its number and journaling for longer than
    half the intent timeout withdraws: a reader may take the number for abandoned."""
    store = connect(mongo_uri, database_name, intent_timeout=timedelta(seconds=0.4))
    await store.open()
    try:
        reserve = store._sequence.reserve
        stalled: list[int] = []

        async def slow_once() -> int:
            n = await reserve()
            if not stalled:
                stalled.append(n)
                await asyncio.sleep(0.3)
            return n

        store._sequence.reserve = slow_once  # type: ignore[method-assign]
        landed = await store.commit(write("a", 1))
        assert landed.seq > stalled[0]
        voided = await store._db["sequence"].find_one({"_id": key(stalled[0])})
        assert voided is not None and voided.get("void") is True
        assert await store.changes(0) == [landed]

        reserve_many = store._sequence.reserve_many
        stalled_tx: list[int] = []

        async def slow_many(count: int) -> list[int]:
            numbers = await reserve_many(count)
            if not stalled_tx:
                stalled_tx.extend(numbers)
                await asyncio.sleep(0.3)
            return numbers

        store._sequence.reserve_many = slow_many  # type: ignore[method-assign]
        bundle = await store.commit_all([write("b", 1), write("a", 2)])
        assert min(v.seq for v in bundle) > max(stalled_tx)
        assert await store.changes(0) == [landed, *bundle]
        assert await store._journal.count_documents({}) == 0
    finally:
        await store.drop()
        await store.close()


async def test_mongo_a_number_reserved_without_a_time_counts_as_settled(
    mongo_store: MongoStore,
) -> None:
    """The bench loader (and stores from before ``at``) reserve numbers without a time."""
    (first,) = await patients(mongo_store, "a")
    untimed = await mongo_store._sequence.highest() + 1
    await mongo_store._db["sequence"].insert_one({"_id": key(untimed)})
    (last,) = await patients(mongo_store, "b")
    assert last.seq == untimed + 1
    assert await mongo_store.changes(0) == [first, last]
