"""``iterate_current``, ``count_current`` and ``replace_index`` (reindexing), on every store."""

from __future__ import annotations

from datetime import UTC, datetime

from fhircare.search.predicates import Cond, Entry
from fhircare.storage.protocol import ResourceStore, SearchQuery, StoredVersion, Write

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def write(id: str, version: int, body: bytes | None = b"{}", t: str = "Patient") -> Write:
    index = () if body is None else ({"p": "k", "v": id},)
    return Write(t, id, version, T0, "PUT", body, index)


async def listed(store: ResourceStore, resource_type: str | None, batch: int) -> list[str]:
    keys = []
    async for page in store.iterate_current(resource_type, batch):
        assert 0 < len(page) <= batch
        keys += [f"{v.resource_type}/{v.id}" for v in page]
    return keys


async def test_iterate_and_count_current(store: ResourceStore) -> None:
    for id in ("c", "a", "b", "d"):
        await store.commit(write(id, 1))
    await store.commit(write("d", 2, None))
    await store.commit(write("x", 1, t="Organization"))
    assert await listed(store, "Patient", 2) == ["Patient/a", "Patient/b", "Patient/c"]
    assert await listed(store, None, 1) == [
        "Organization/x",
        "Patient/a",
        "Patient/b",
        "Patient/c",
    ]
    assert await store.count_current("Patient") == 3
    assert await store.count_current(None) == 4
    assert await listed(store, "Task", 5) == [] and await store.count_current("Task") == 0


async def found(store: ResourceStore, value: str) -> list[str]:
    query = SearchQuery("Patient", (Entry("k", (Cond("v", "eq", value),)),))
    return [v.id for v in await store.search(query)]


async def test_replace_index_only_on_the_same_version(store: ResourceStore) -> None:
    first = await store.commit(write("a", 1))
    assert await store.replace_index(first, ({"p": "k", "v": "new"},))
    assert await found(store, "new") == ["a"] and await found(store, "a") == []
    current = await store.read("Patient", "a")
    assert current == first, "nothing but the index changed"
    await store.commit(write("a", 2))
    assert not await store.replace_index(first, ({"p": "k", "v": "stale"},))
    assert await found(store, "stale") == [] and await found(store, "a") == ["a"]
    gone = await store.commit(write("a", 3, None))
    assert not await store.replace_index(gone, ({"p": "k", "v": "x"},))
    missing = StoredVersion("Patient", "zz", 1, T0, "PUT", b"{}", 1)
    assert not await store.replace_index(missing, ())
    # a writer after a reindex is not blocked by it
    await store.commit(write("a", 4))
