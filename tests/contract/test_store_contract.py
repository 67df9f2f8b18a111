"""The ResourceStore contract, run against every store (memory and MongoDB via FerretDB).

Checks the storage rules behind https://hl7.org/fhir/R4/http.html#update (versions),
#concurrency (compare-and-set) and #history (immutable, newest first).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from fhircare.storage.protocol import HistoryQuery, ResourceStore, VersionConflict, Write

T0 = datetime(2026, 11, 1, 12, 0, 0, 123000, tzinfo=UTC)


def write(
    id: str, version: int, body: bytes | None = b"{}", at: datetime = T0, t: str = "Patient"
) -> Write:
    method = "DELETE" if body is None else ("POST" if version == 1 else "PUT")
    return Write(t, id, version, at, method, body)


async def test_commit_then_read_and_vread(store: ResourceStore) -> None:
    first = await store.commit(write("a", 1, b'{"v":1}'))
    second = await store.commit(write("a", 2, b'{"v":2}', T0 + timedelta(seconds=1)))
    current = await store.read("Patient", "a")
    assert current is not None and current.version == 2 and current.body == b'{"v":2}'
    assert current.last_updated == T0 + timedelta(seconds=1)
    old = await store.vread("Patient", "a", 1)
    assert old is not None and old.body == b'{"v":1}' and old.method == "POST"
    assert second.seq > first.seq
    assert await store.vread("Patient", "a", 3) is None
    assert await store.read("Patient", "missing") is None


async def test_commit_requires_the_next_version(store: ResourceStore) -> None:
    with pytest.raises(VersionConflict) as absent:
        await store.commit(write("a", 2))
    assert absent.value.current_version == 0
    await store.commit(write("a", 1))
    with pytest.raises(VersionConflict) as stale:
        await store.commit(write("a", 1, b'{"other":true}'))
    assert stale.value.current_version == 1
    current = await store.read("Patient", "a")
    assert current is not None and current.body == b"{}"


async def test_concurrent_writers_of_one_version_one_wins(store: ResourceStore) -> None:
    await store.commit(write("a", 1))
    attempts = [store.commit(write("a", 2, f'{{"w":{i}}}'.encode())) for i in range(20)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, VersionConflict) for r in results if r not in winners)
    current = await store.read("Patient", "a")
    assert current is not None and current.version == 2 and current.body == winners[0].body
    listed = await store.history(HistoryQuery("Patient", "a"))
    assert [v.version for v in listed] == [2, 1]


async def test_tombstone_is_a_version(store: ResourceStore) -> None:
    await store.commit(write("a", 1))
    gone = await store.commit(write("a", 2, None))
    assert gone.deleted and gone.method == "DELETE"
    current = await store.read("Patient", "a")
    assert current is not None and current.deleted and current.body is None
    again = await store.commit(write("a", 3, b'{"back":1}'))
    assert not again.deleted


async def test_history_levels_order_since_and_paging(store: ResourceStore) -> None:
    for i in range(5):
        await store.commit(write(f"p{i}", 1, at=T0 + timedelta(minutes=i)))
    await store.commit(write("p0", 2, at=T0 + timedelta(minutes=10)))
    await store.commit(write("o1", 1, at=T0 + timedelta(minutes=11), t="Observation"))

    system = await store.history(HistoryQuery(count=100))
    assert len(system) == 7
    assert [v.seq for v in system] == sorted((v.seq for v in system), reverse=True)
    assert await store.count_history(HistoryQuery()) == 7

    typed = await store.history(HistoryQuery("Patient", count=100))
    assert {v.resource_type for v in typed} == {"Patient"} and len(typed) == 6

    instance = await store.history(HistoryQuery("Patient", "p0"))
    assert [v.version for v in instance] == [2, 1]

    since = await store.history(HistoryQuery("Patient", since=T0 + timedelta(minutes=3)))
    assert sorted((v.id, v.version) for v in since) == [("p0", 2), ("p3", 1), ("p4", 1)]
    assert await store.count_history(HistoryQuery("Patient", since=T0 + timedelta(minutes=3))) == 3

    seen: list[tuple[str, int]] = []
    cursor = None
    while True:
        page = await store.history(HistoryQuery(count=3, before_seq=cursor))
        if not page:
            break
        seen += [(v.id, v.version) for v in page]
        cursor = page[-1].seq
    assert len(seen) == 7 and len(set(seen)) == 7


async def test_history_pages_do_not_shift_under_new_writes(store: ResourceStore) -> None:
    for i in range(6):
        await store.commit(write(f"p{i}", 1))
    first = await store.history(HistoryQuery(count=3))
    for i in range(6, 9):
        await store.commit(write(f"p{i}", 1))
    second = await store.history(HistoryQuery(count=3, before_seq=first[-1].seq))
    assert {v.id for v in first} | {v.id for v in second} == {f"p{i}" for i in range(6)}
