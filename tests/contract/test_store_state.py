"""The state records every store keeps beside the resources (``ResourceStore.state_*``):
revisions, compare-and-set under concurrency, listing by prefix in key order, and values
that come back exactly as they went in. Run against every store."""

from __future__ import annotations

import asyncio
from typing import Any

from fhircare.storage.protocol import ANY_REV, ResourceStore, StateRecord

NESTED: dict[str, Any] = {
    "text": 'Zoë · 患者 · 🩺 · \u0000 · "quoted" \\ back',
    "$set": {"a.b": [1, -0.5, 1e-7, 12345678901234, True, False, None, [], {}]},
    "list": [{"deep": [[{"x": "ünïcode"}]]}, "", 0],
    "float": 0.1,
    "big": 2**53 + 1,
}


async def test_put_then_get_with_revisions(store: ResourceStore) -> None:
    assert await store.state_get("s", "k") is None
    first = await store.state_put("s", "k", {"n": 1})
    assert first == StateRecord("s", "k", {"n": 1}, 1)
    second = await store.state_put("s", "k", {"n": 2})
    assert second == StateRecord("s", "k", {"n": 2}, 2)
    assert await store.state_get("s", "k") == second
    assert await store.state_get("other", "k") is None
    assert await store.state_get("s", "K") is None


async def test_values_round_trip_exactly(store: ResourceStore) -> None:
    await store.state_put("s", "nested", NESTED)
    await store.state_put("s", "empty", {})
    got = await store.state_get("s", "nested")
    assert got is not None and got.value == NESTED
    assert list(got.value) == list(NESTED)  # member order kept
    assert isinstance(got.value["big"], int) and got.value["big"] == 2**53 + 1
    empty = await store.state_get("s", "empty")
    assert empty is not None and empty.value == {}


async def test_values_are_copies(store: ResourceStore) -> None:
    value = {"list": [1]}
    put = await store.state_put("s", "k", value)
    value["list"].append(2)
    assert put is not None
    put.value["list"].append(3)
    got = await store.state_get("s", "k")
    assert got is not None and got.value == {"list": [1]}


async def test_expect_zero_creates_only(store: ResourceStore) -> None:
    created = await store.state_put("s", "k", {"v": "first"}, expect=0)
    assert created == StateRecord("s", "k", {"v": "first"}, 1)
    assert await store.state_put("s", "k", {"v": "second"}, expect=0) is None
    assert await store.state_get("s", "k") == created


async def test_expect_a_revision(store: ResourceStore) -> None:
    assert await store.state_put("s", "k", {"v": 0}, expect=1) is None  # no record yet
    assert await store.state_get("s", "k") is None
    await store.state_put("s", "k", {"v": 1})
    assert await store.state_put("s", "k", {"v": "stale"}, expect=2) is None
    assert await store.state_put("s", "k", {"v": "stale"}, expect=0) is None
    moved = await store.state_put("s", "k", {"v": 2}, expect=1)
    assert moved == StateRecord("s", "k", {"v": 2}, 2)
    assert await store.state_put("s", "k", {"v": "stale"}, expect=1) is None
    assert await store.state_put("s", "k", {"v": 3}, expect=ANY_REV) == StateRecord(
        "s", "k", {"v": 3}, 3
    )
    assert await store.state_get("s", "k") == StateRecord("s", "k", {"v": 3}, 3)


async def test_of_concurrent_creates_exactly_one_wins(store: ResourceStore) -> None:
    attempts = [store.state_put("s", "lease", {"holder": i}, expect=0) for i in range(12)]
    results = await asyncio.gather(*attempts)
    won = [r for r in results if r is not None]
    assert len(won) == 1 and won[0].rev == 1
    assert await store.state_get("s", "lease") == won[0]


async def test_of_concurrent_compare_and_sets_exactly_one_wins(store: ResourceStore) -> None:
    """Each round, writers that all read revision n race to write n + 1."""
    await store.state_put("s", "lease", {"holder": None})
    for rev in range(1, 4):
        attempts = [store.state_put("s", "lease", {"holder": i}, expect=rev) for i in range(8)]
        won = [r for r in await asyncio.gather(*attempts) if r is not None]
        assert len(won) == 1 and won[0].rev == rev + 1
        assert await store.state_get("s", "lease") == won[0]


async def test_concurrent_unconditional_writes_lose_no_revision(store: ResourceStore) -> None:
    results = await asyncio.gather(*(store.state_put("s", "k", {"i": i}) for i in range(10)))
    revs = sorted(r.rev for r in results if r is not None)
    assert revs == list(range(1, 11))
    last = await store.state_get("s", "k")
    assert last is not None and last.rev == 10
    assert last.value == next(r.value for r in results if r is not None and r.rev == 10)


async def test_put_many_and_get_many(store: ResourceStore) -> None:
    await store.state_put("s", "b", {"old": True})
    await store.state_put_many("s", {"a": {"n": 1}, "b": {"n": 2}, "c": NESTED})
    await store.state_put_many("s", {})
    found = await store.state_get_many("s", ["c", "a", "b", "missing", "a"])
    assert found == {
        "a": StateRecord("s", "a", {"n": 1}, 1),
        "b": StateRecord("s", "b", {"n": 2}, 2),
        "c": StateRecord("s", "c", NESTED, 1),
    }
    assert await store.state_get_many("other", ["a"]) == {}
    assert await store.state_get_many("s", []) == {}
    keys = [f"k{i:04d}" for i in range(600)]  # more than SQLite binds in one statement
    await store.state_put_many("many", {k: {"k": k} for k in keys})
    many = await store.state_get_many("many", keys)
    assert sorted(many) == keys and all(r.value == {"k": r.key} for r in many.values())


async def test_delete(store: ResourceStore) -> None:
    await store.state_put("s", "k", {"v": 1})
    await store.state_put("s", "k", {"v": 2})
    await store.state_put("s", "other", {"v": 1})
    await store.state_delete("s", "k")
    await store.state_delete("s", "k")
    await store.state_delete("s", "never")
    assert await store.state_get("s", "k") is None
    assert await store.state_get("s", "other") is not None
    again = await store.state_put("s", "k", {"v": "new"}, expect=0)
    assert again == StateRecord("s", "k", {"v": "new"}, 1)  # revisions start over
    assert await store.state_put("s", "k", {"v": "next"}, expect=1) is not None


async def test_list_by_prefix_after_a_key_in_key_order(store: ResourceStore) -> None:
    keys = ["r1/b", "r1/a", "r1/c/2", "r1/c/10", "r10/a", "r2/a", "r1", "r1/é", "r1/🩺", "r1/z"]
    for key in keys:
        await store.state_put("s", key, {"key": key})
    await store.state_put("t", "r1/a", {"other": "space"})
    in_r1 = sorted(k for k in keys if k.startswith("r1/"))
    assert in_r1 == ["r1/a", "r1/b", "r1/c/10", "r1/c/2", "r1/z", "r1/é", "r1/🩺"]

    listed = await store.state_list("s", "r1/")
    assert [r.key for r in listed] == in_r1
    assert all(r.space == "s" and r.value == {"key": r.key} and r.rev == 1 for r in listed)
    assert [r.key for r in await store.state_list("s")] == sorted(keys)
    assert [r.key for r in await store.state_list("s", "r1/c/")] == ["r1/c/10", "r1/c/2"]
    assert [r.key for r in await store.state_list("s", "r1/", after="r1/c/2")] == in_r1[4:]
    assert [r.key for r in await store.state_list("s", "r1/", after="r1/c")] == in_r1[2:]
    assert [r.key for r in await store.state_list("s", "r1/", count=2)] == in_r1[:2]
    assert await store.state_list("s", "r1/", count=0) == []
    assert await store.state_list("s", "nothing") == []
    assert [r.value for r in await store.state_list("t")] == [{"other": "space"}]

    paged, after = [], ""
    while page := await store.state_list("s", "r1/", after=after, count=3):
        paged += [r.key for r in page]
        after = page[-1].key
    assert paged == in_r1


async def test_spaces_are_apart_even_with_separators_in_them(store: ResourceStore) -> None:
    await store.state_put("a|b", "c", {"in": "a|b"})
    await store.state_put("a", "b|c", {"in": "a"})
    first = await store.state_get("a|b", "c")
    second = await store.state_get("a", "b|c")
    assert first is not None and first.value == {"in": "a|b"} and first.rev == 1
    assert second is not None and second.value == {"in": "a"} and second.rev == 1
    assert [r.key for r in await store.state_list("a")] == ["b|c"]
