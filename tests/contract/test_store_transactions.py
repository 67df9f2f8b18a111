"""``commit_all`` and claims, the same on every store: all or nothing, conflicts named."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from fhircare.storage.protocol import HistoryQuery, ResourceStore, VersionConflict, Write

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def put(id: str, version: int, body: bytes | None = b"{}", type: str = "Task") -> Write:
    return Write(type, id, version, T0, "POST" if version == 1 else "PUT", body)


async def test_commit_all_lands_every_write_in_order(store: ResourceStore) -> None:
    await store.commit(put("a", 1))
    stored = await store.commit_all(
        [put("a", 2, b'{"a":2}'), put("b", 1, b'{"b":1}'), put("c", 1, None, "Goal")]
    )
    assert [(s.id, s.version) for s in stored] == [("a", 2), ("b", 1), ("c", 1)]
    assert [s.seq for s in stored] == sorted(s.seq for s in stored)
    a = await store.read("Task", "a")
    assert a is not None and a.body == b'{"a":2}'
    goal = await store.read("Goal", "c")
    assert goal is not None and goal.deleted
    history = await store.history(HistoryQuery(count=10))
    assert [(v.id, v.version) for v in history][:3] == [("c", 1), ("b", 1), ("a", 2)]


@pytest.mark.parametrize("bad", [0, 1, 2])
async def test_one_conflict_lands_nothing_and_names_the_write(
    store: ResourceStore, bad: int
) -> None:
    await store.commit(put("x", 1, b'{"x":1}'))
    writes = [put("n1", 1), put("n2", 1), put("x", 2, b'{"x":2}')]
    writes[bad] = put(writes[bad].id, 5)  # not the next version
    with pytest.raises(VersionConflict) as conflict:
        await store.commit_all(writes)
    assert conflict.value.index == bad
    assert await store.read("Task", "n1") is None
    assert await store.read("Task", "n2") is None
    x = await store.read("Task", "x")
    assert x is not None and x.version == 1 and x.body == b'{"x":1}'
    assert await store.count_history(HistoryQuery("Task")) == 1
    # nothing is left reserved: the same writes, corrected, land
    landed = await store.commit_all([put("n1", 1), put("n2", 1), put("x", 2)])
    assert [s.version for s in landed] == [1, 1, 2]


async def test_concurrent_transactions_over_shared_resources_lose_no_update(
    store: ResourceStore,
) -> None:
    ids = [f"t{n}" for n in range(5)]
    for id in ids:
        await store.commit(put(id, 1))
    successes = {id: 0 for id in ids}

    async def one(n: int) -> None:
        chosen = [ids[(n + k) % 5] for k in range(3)]
        for _attempt in range(40):
            current = [await store.read("Task", id) for id in chosen]
            writes = [put(id, c.version + 1) for id, c in zip(chosen, current, strict=True) if c]
            try:
                await store.commit_all(writes)
            except VersionConflict:
                await asyncio.sleep(0.001 * (n % 7 + 1))
                continue
            for id in chosen:
                successes[id] += 1
            return

    await asyncio.gather(*(one(n) for n in range(20)))
    for id in ids:
        current = await store.read("Task", id)
        assert current is not None and current.version == 1 + successes[id]
        assert await store.count_history(HistoryQuery("Task", id)) == current.version
    assert sum(successes.values()) > 0


async def test_a_claim_is_held_once_until_released(store: ResourceStore) -> None:
    token = await store.claim("Patient?identifier=a|1")
    assert token is not None
    assert await store.claim("Patient?identifier=a|1") is None
    assert await store.claim("Patient?identifier=a|2") is not None
    await store.release("Patient?identifier=a|1", "not-the-token")
    assert await store.claim("Patient?identifier=a|1") is None
    await store.release("Patient?identifier=a|1", token)
    assert await store.claim("Patient?identifier=a|1") is not None


async def test_concurrent_claims_have_one_winner(store: ResourceStore) -> None:
    tokens = await asyncio.gather(*(store.claim("Task?code=x") for _ in range(30)))
    assert sum(t is not None for t in tokens) == 1


async def test_the_change_token_moves_with_each_search_parameter_version(
    store: ResourceStore,
) -> None:
    first = await store.change_token("SearchParameter")
    await store.commit(put("sp", 1, b"{}", "SearchParameter"))
    second = await store.change_token("SearchParameter")
    await store.commit_all([put("sp", 2, None, "SearchParameter"), put("x", 1)])
    third = await store.change_token("SearchParameter")
    assert len({first, second, third}) == 3
