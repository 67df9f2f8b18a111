"""Fault injection between every step of ``commit_all`` on the MongoDB store (FerretDB).

At each step boundary (``storage/mongo/transactions.py``) the test raises either an
exception (the code's own error handling runs) or a simulated crash (a BaseException
nothing catches, so no clean-up runs, as with kill -9), then settles the store as a
restarted server does (``settle``: its entries are taken over once stale) and shows the
store holds the whole transaction or none of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fhircare.storage.mongo.documents import version_document
from fhircare.storage.mongo.store import MongoStore
from fhircare.storage.protocol import HistoryQuery, VersionConflict, Write

T0 = datetime(2026, 11, 1, tzinfo=UTC)
BEFORE_COMMIT = ("sequence", "journal", "checked")
AFTER_COMMIT = ("decided", "current", "history", "cleared")


class Crash(BaseException):
    """A process dying: no except clause of the store handles it."""


class Failure(Exception):
    """An error the store's own handling sees (a lost connection, say)."""


def writes() -> list[Write]:
    return [
        Write("Task", "shared", 2, T0, "PUT", b'{"tx":1}'),
        Write("Goal", "new", 1, T0, "POST", b'{"tx":1}'),
        Write("Task", "gone", 2, T0, "DELETE", None),
    ]


async def prepared(store: MongoStore) -> None:
    await store.commit(Write("Task", "shared", 1, T0, "POST", b'{"before":1}'))
    await store.commit(Write("Task", "gone", 1, T0, "POST", b'{"before":1}'))


def fail_at(store: MongoStore, step: str, error: BaseException) -> None:
    async def hook(name: str) -> None:
        if name == step:
            raise error

    store._step = hook  # type: ignore[method-assign]


async def landed(store: MongoStore) -> bool | None:
    """True when the whole transaction is there, False when none of it; None if torn."""
    shared = await store.read("Task", "shared")
    new = await store.read("Goal", "new")
    gone = await store.read("Task", "gone")
    assert shared is not None and gone is not None
    parts = [shared.version == 2, new is not None, gone.deleted]
    if all(parts):
        assert shared.body == b'{"tx":1}'
        assert await store.count_history(HistoryQuery("Task", "shared")) == 2
        assert await store.count_history(HistoryQuery("Goal", "new")) == 1
        return True
    if not any(parts):
        assert shared.body == b'{"before":1}'
        assert await store.count_history(HistoryQuery("Task")) == 2
        return False
    return None


async def clean(store: MongoStore) -> bool:
    """No journal entry left, no commit outcome (an abort's is kept a while on purpose)."""
    return (
        await store._journal.count_documents({}) == 0
        and await store._outcomes.count_documents({"outcome": "commit"}) == 0
    )


@pytest.fixture
def store(mongo_store: MongoStore) -> MongoStore:
    """The MongoDB store with a short intent timeout, so that a restart's ``settle``
    takes a dead owner's entries over quickly."""
    mongo_store._intent_timeout = timedelta(milliseconds=300)
    return mongo_store


@pytest.mark.parametrize("step", BEFORE_COMMIT + AFTER_COMMIT)
async def test_an_exception_at_each_step(store: MongoStore, step: str) -> None:
    await prepared(store)
    fail_at(store, step, Failure(step))
    with pytest.raises(Failure):
        await store.commit_all(writes())
    if step in BEFORE_COMMIT:
        assert await landed(store) is False  # at once: the error handling undid it
        assert await clean(store)
    await store.settle()  # a restart: waits for the entries to go stale, then finishes them
    assert await landed(store) is (step in AFTER_COMMIT)
    assert await clean(store)


@pytest.mark.parametrize("step", BEFORE_COMMIT + AFTER_COMMIT)
async def test_a_crash_at_each_step(store: MongoStore, step: str) -> None:
    await prepared(store)
    fail_at(store, step, Crash(step))
    with pytest.raises(Crash):
        await store.commit_all(writes())
    fail_at(store, "never", Crash())
    assert await store.recover() == 0  # fresh entries: the owner may be alive
    if step in BEFORE_COMMIT:
        assert await landed(store) is False  # nothing visible while undecided
        if step != "sequence":
            with pytest.raises(VersionConflict):  # its reservations hold until stale
                await store.commit(Write("Task", "shared", 2, T0, "PUT", b"{}"))
    await store.settle()  # a restart
    assert await landed(store) is (step in AFTER_COMMIT)
    assert await clean(store)
    # the store goes on: the next version of each resource commits
    shared = await store.read("Task", "shared")
    assert shared is not None
    after = await store.commit(Write("Task", "shared", shared.version + 1, T0, "PUT", b"{}"))
    assert after.version == shared.version + 1


async def test_a_stale_undecided_transaction_is_taken_over_by_the_next_writer(
    mongo_store: MongoStore,
) -> None:
    await prepared(mongo_store)
    fail_at(mongo_store, "checked", Crash())
    with pytest.raises(Crash):
        await mongo_store.commit_all(writes())
    fail_at(mongo_store, "never", Crash())
    await mongo_store._journal.update_many({}, {"$set": {"reservedAt": T0}})
    with pytest.raises(VersionConflict):  # the writer that meets it aborts it …
        await mongo_store.commit(Write("Task", "shared", 2, T0, "PUT", b'{"next":1}'))
    stored = await mongo_store.commit(Write("Task", "shared", 2, T0, "PUT", b'{"next":1}'))
    assert stored.version == 2  # … and its retry lands
    assert await mongo_store.read("Goal", "new") is None
    await mongo_store.recover(everything=True)
    assert await mongo_store.read("Goal", "new") is None


async def test_an_owner_aborted_by_a_recoverer_reports_a_conflict(
    mongo_store: MongoStore,
) -> None:
    await prepared(mongo_store)

    async def recoverer_wins(name: str) -> None:
        if name == "checked":
            await mongo_store.recover(everything=True)

    mongo_store._step = recoverer_wins  # type: ignore[method-assign]
    with pytest.raises(VersionConflict):
        await mongo_store.commit_all(writes())
    assert await landed(mongo_store) is False
    assert await clean(mongo_store)


async def test_a_crash_inside_the_journal_batch(store: MongoStore) -> None:
    """An ordered insert_many cut short leaves a prefix of the entries: none decided."""
    await prepared(store)
    entries = [
        {**version_document(w, await store._next_seq()), "tx": "cut", "reservedAt": T0}
        for w in writes()
    ]
    await store._journal.insert_many(entries[:2])
    assert await landed(store) is False
    await store.settle()
    assert await landed(store) is False
    assert await clean(store)


async def test_a_crash_inside_the_apply_batch(store: MongoStore) -> None:
    """Decided, with only some current documents set and no history yet: finished."""
    await prepared(store)
    entries = [
        {**version_document(w, await store._next_seq()), "tx": "half", "reservedAt": T0}
        for w in writes()
    ]
    await store._journal.insert_many(entries)
    await store._outcomes.insert_one({"_id": "half", "outcome": "commit", "at": T0})
    assert await store._set_current(entries[0])  # the first resource changed, then a crash
    assert await landed(store) is None  # torn until recovery …
    await store.settle()
    assert await landed(store) is True  # … which finishes it
    assert await clean(store)
