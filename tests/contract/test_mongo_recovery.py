"""The MongoDB store's crash safety: a journaled write is finished or dropped, never half-done.

Each test stops a commit after one of its steps, as a killed process would, and shows
that recovery (at start-up, or by the next writer once the intent is stale) leaves the
store as if the write had fully happened or never happened, with history complete.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from fhircare.storage.mongo.documents import version_document
from fhircare.storage.mongo.store import MongoStore, connect
from fhircare.storage.protocol import HistoryQuery, VersionConflict, Write

T0 = datetime(2026, 11, 1, tzinfo=UTC)
STEPS = ("sequence", "journal", "current", "history")


def put(id: str, version: int, body: bytes) -> Write:
    return Write("Patient", id, version, T0, "POST" if version == 1 else "PUT", body)


async def crash_after(store: MongoStore, write: Write, step: str, age: float = 60) -> None:
    """Run a commit up to and including ``step`` and stop; the intent is ``age`` s old."""
    version = version_document(write, await store._next_seq())
    if step == "sequence":
        return
    reserved = datetime.now(UTC) - timedelta(seconds=age)
    await store._journal.insert_one({**version, "reservedAt": reserved})
    if step in ("current", "history"):
        assert await store._set_current(version)
    if step == "history":
        await store._history.insert_one(version)


async def versions(store: MongoStore, id: str) -> list[int]:
    return [v.version for v in await store.history(HistoryQuery("Patient", id, count=50))]


@pytest.mark.parametrize("step", STEPS)
async def test_recovery_after_each_step_of_an_update(mongo_store: MongoStore, step: str) -> None:
    await mongo_store.commit(put("a", 1, b'{"v":1}'))
    await crash_after(mongo_store, put("a", 2, b'{"v":2}'), step)
    await mongo_store.recover()
    current = await mongo_store.read("Patient", "a")
    assert current is not None
    if step == "sequence":
        assert current.version == 1 and await versions(mongo_store, "a") == [1]
    else:
        assert current.version == 2 and current.body == b'{"v":2}'
        assert await versions(mongo_store, "a") == [2, 1]
    assert await mongo_store._journal.count_documents({}) == 0
    nxt = await mongo_store.commit(put("a", current.version + 1, b'{"next":1}'))
    assert nxt.seq > current.seq


@pytest.mark.parametrize("step", STEPS)
async def test_recovery_after_each_step_of_a_create(mongo_store: MongoStore, step: str) -> None:
    await crash_after(mongo_store, put("b", 1, b'{"b":1}'), step)
    await mongo_store.recover()
    current = await mongo_store.read("Patient", "b")
    if step == "sequence":
        assert current is None and await versions(mongo_store, "b") == []
    else:
        assert current is not None and current.version == 1
        assert await versions(mongo_store, "b") == [1]


async def test_a_fresh_intent_blocks_then_a_stale_one_is_taken_over(
    mongo_store: MongoStore,
) -> None:
    await mongo_store.commit(put("a", 1, b'{"v":1}'))
    await crash_after(mongo_store, put("a", 2, b'{"crashed":1}'), "journal", age=0)
    assert await mongo_store.recover() == 0  # maybe another process's write in flight
    with pytest.raises(VersionConflict):
        await mongo_store.commit(put("a", 2, b'{"late":1}'))
    current = await mongo_store.read("Patient", "a")
    assert current is not None and current.version == 1

    await mongo_store._journal.update_many({}, {"$set": {"reservedAt": T0}})
    with pytest.raises(VersionConflict) as lost:
        await mongo_store.commit(put("a", 2, b'{"late":1}'))
    assert lost.value.current_version == 2
    current = await mongo_store.read("Patient", "a")
    assert current is not None and current.body == b'{"crashed":1}'
    assert (await mongo_store.commit(put("a", 3, b'{"late":1}'))).version == 3
    assert await versions(mongo_store, "a") == [3, 2, 1]


async def test_a_stale_intent_for_a_version_taken_since_is_dropped(mongo_store: MongoStore) -> None:
    await mongo_store.commit(put("a", 1, b'{"v":1}'))
    await mongo_store.commit(put("a", 2, b'{"won":1}'))
    entry = version_document(put("a", 2, b'{"crashed":1}'), await mongo_store._next_seq())
    await mongo_store._journal.insert_one({**entry, "_id": "Patient/a/2", "reservedAt": T0})
    assert await mongo_store.recover() == 1
    current = await mongo_store.read("Patient", "a")
    assert current is not None and current.body == b'{"won":1}'
    assert await versions(mongo_store, "a") == [2, 1]


async def test_vread_sees_a_version_between_current_and_history(mongo_store: MongoStore) -> None:
    await mongo_store.commit(put("a", 1, b'{"v":1}'))
    await crash_after(mongo_store, put("a", 2, b'{"v":2}'), "current", age=0)
    vread = await mongo_store.vread("Patient", "a", 2)
    assert vread is not None and vread.body == b'{"v":2}'


async def test_sequence_numbers_are_unique_under_contention(
    mongo_store: MongoStore, mongo_uri: str
) -> None:
    """Four stores (as four processes would) reserving at once never share a number."""
    others = [connect(mongo_uri, mongo_store._db.name) for _ in range(3)]
    try:
        stores = [mongo_store, *others]
        numbers = await asyncio.gather(*(s._next_seq() for s in stores for _ in range(25)))
    finally:
        for other in others:
            await other.close()
    assert len(set(numbers)) == len(numbers) == 100


async def test_open_creates_indexes_idempotently(mongo_store: MongoStore) -> None:
    await mongo_store.open()
    await mongo_store.open()
    names = {ix["name"] async for ix in await mongo_store._history.list_indexes()}
    assert {"seq", "type_seq", "instance_seq"} <= names


async def test_instance_history_lists_a_version_not_yet_copied_to_history(
    mongo_store: MongoStore,
) -> None:
    await mongo_store.commit(put("a", 1, b'{"v":1}'))
    await crash_after(mongo_store, put("a", 2, b'{"v":2}'), "current", age=0)
    assert await versions(mongo_store, "a") == [2, 1]
    assert await mongo_store.count_history(HistoryQuery("Patient", "a")) == 2


async def test_a_store_of_integer_sequence_keys_goes_on_above_them(
    mongo_store: MongoStore, mongo_uri: str
) -> None:
    """Stores written before string keys hold integers; their highest becomes the floor."""
    await mongo_store._db["sequence"].drop()
    await mongo_store._db["sequence"].insert_many([{"_id": n} for n in range(1, 41)])
    reopened = connect(mongo_uri, mongo_store._db.name)
    try:
        await reopened.open()
        assert await reopened._sequence.highest() == 40
        assert await reopened._next_seq() == 41
        assert await reopened._sequence.highest() == 41
    finally:
        await reopened.close()


async def test_search_parameter_changes_renew_the_token_even_through_recovery(
    mongo_store: MongoStore,
) -> None:
    before = await mongo_store.change_token("SearchParameter")
    await mongo_store.commit(put("a", 1, b"{}"))  # a Patient: not watched
    assert await mongo_store.change_token("SearchParameter") == before
    crashed = Write("SearchParameter", "sp", 1, T0, "POST", b"{}")
    version = version_document(crashed, await mongo_store._next_seq())
    await mongo_store._journal.insert_one({**version, "reservedAt": T0})
    assert await mongo_store._set_current(version)  # landed, then the process died
    assert await mongo_store.change_token("SearchParameter") == before
    await mongo_store.recover()
    assert await mongo_store.change_token("SearchParameter") != before


async def test_a_version_others_wrote_on_top_of_still_reaches_history(
    mongo_store: MongoStore,
) -> None:
    """Its writer set the current document and died; a later writer built on it; then
    recovery finishes the entry: the version must not go missing from history."""
    await mongo_store.commit(put("a", 1, b'{"v":1}'))
    await crash_after(mongo_store, put("a", 2, b'{"v":2}'), "current", age=0)
    await mongo_store.commit(put("a", 3, b'{"v":3}'))
    await mongo_store.recover(everything=True)
    assert await versions(mongo_store, "a") == [3, 2, 1]
    second = await mongo_store.vread("Patient", "a", 2)
    assert second is not None and second.body == b'{"v":2}'
