"""The MongoDB store's crash safety: an intent left by a crash is rolled forward.

A write inserts its history document (the intent) before it changes the current
document; these tests leave intents behind as a crash would and show that start-up
recovery, or the next writer, completes them exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhircare.storage.mongo.documents import history_document
from fhircare.storage.mongo.store import MongoStore
from fhircare.storage.protocol import HistoryQuery, VersionConflict, Write

T0 = datetime(2026, 11, 1, tzinfo=UTC)


async def leave_intent(store: MongoStore, write: Write, seq: int) -> None:
    """Do step 2 of a commit and stop, as a process killed right after it would."""
    await store._history.insert_one(history_document(write, seq))


async def test_open_rolls_pending_intents_forward(mongo_store: MongoStore) -> None:
    await mongo_store.commit(Write("Patient", "a", 1, T0, "POST", b'{"v":1}'))
    await leave_intent(mongo_store, Write("Patient", "a", 2, T0, "PUT", b'{"v":2}'), 1000)
    await leave_intent(mongo_store, Write("Patient", "b", 1, T0, "POST", b'{"b":1}'), 1001)
    listed = await mongo_store.history(HistoryQuery(count=10))
    assert [(v.id, v.version) for v in listed] == [("a", 1)]

    assert await mongo_store.recover() == 2
    a = await mongo_store.read("Patient", "a")
    b = await mongo_store.read("Patient", "b")
    assert a is not None and a.version == 2 and a.body == b'{"v":2}'
    assert b is not None and b.version == 1
    assert await mongo_store.recover() == 0
    listed = await mongo_store.history(HistoryQuery(count=10))
    assert sorted((v.id, v.version) for v in listed) == [("a", 1), ("a", 2), ("b", 1)]


async def test_next_writer_completes_a_pending_intent_and_loses(mongo_store: MongoStore) -> None:
    await mongo_store.commit(Write("Patient", "a", 1, T0, "POST", b'{"v":1}'))
    await leave_intent(mongo_store, Write("Patient", "a", 2, T0, "PUT", b'{"crashed":1}'), 1000)
    with pytest.raises(VersionConflict):
        await mongo_store.commit(Write("Patient", "a", 2, T0, "PUT", b'{"late":1}'))
    current = await mongo_store.read("Patient", "a")
    assert current is not None and current.version == 2 and current.body == b'{"crashed":1}'
    third = await mongo_store.commit(Write("Patient", "a", 3, T0, "PUT", b'{"late":1}'))
    assert third.version == 3


async def test_open_creates_indexes_idempotently(mongo_store: MongoStore) -> None:
    await mongo_store.open()
    await mongo_store.open()
    names = {ix["name"] async for ix in await mongo_store._history.list_indexes()}
    assert {"seq", "type_seq", "instance_seq", "applied"} <= names
