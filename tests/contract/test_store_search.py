"""Store search over index entries, on every store: predicates, types, keyset pages.

The same predicate trees are rendered to MongoDB filters and evaluated in memory; this
suite shows both give the same answers (https://hl7.org/fhir/R4/search.html#prefix).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fhircare.search.predicates import AllOf, AnyOf, Cond, Entry, Field, Not
from fhircare.storage.protocol import Position, ResourceStore, SearchQuery, Write

T0 = datetime(2026, 11, 1, tzinfo=UTC)
D = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731


async def seed(store: ResourceStore) -> None:
    rows = {
        "a": [
            {"p": "status", "s": None, "c": "active"},
            {"p": "name", "v": "zoe", "x": "Zoë"},
            {"p": "date", "lo": D(2026, 3, 1), "hi": D(2026, 4, 1)},
            {"p": "subject", "r": "Patient/p1", "ty": "Patient"},
        ],
        "b": [
            {"p": "status", "s": None, "c": "completed"},
            {"p": "name", "v": "zoey smith", "x": "Zoey Smith"},
            {"p": "date", "lo": D(2026, 5, 2), "hi": D(2026, 5, 3)},
            {"p": "subject", "r": "Patient/p2", "ty": "Patient"},
        ],
        "c": [
            {"p": "status", "s": "http://x", "c": "active"},
            {"p": "value", "lo": 6.995, "hi": 7.005, "n": 7.0},
        ],
    }
    for id, entries in rows.items():
        await store.commit(Write("Task", id, 1, T0, "POST", b"{}", tuple(entries)))
    await store.commit(
        Write("Goal", "g", 1, T0, "POST", b"{}", ({"p": "status", "s": None, "c": "active"},))
    )


async def ids(store: ResourceStore, *predicates, resource_type: str | None = "Task") -> list[str]:
    found = await store.search(SearchQuery(resource_type, tuple(predicates), 100))
    return [v.id for v in found]


async def test_entry_conditions(store: ResourceStore) -> None:
    await seed(store)
    assert await ids(store, Entry("status", (Cond("c", "eq", "active"),))) == ["a", "c"]
    assert await ids(store, Entry("status", (Cond("s", "null"), Cond("c", "eq", "active")))) == [
        "a"
    ]
    assert await ids(store, Entry("name", (Cond("v", "prefix", "zoe"),))) == ["a", "b"]
    assert await ids(store, Entry("name", (Cond("v", "contains", "smi"),))) == ["b"]
    assert await ids(store, Entry("name", (Cond("x", "eq", "Zoë"),))) == ["a"]
    assert await ids(store, Entry("name", (Cond("v", "prefix", ".*"),))) == []
    assert await ids(store, Entry("subject", (Cond("r", "suffix", "/p2"),))) == ["b"]
    assert await ids(store, Entry("subject", (Cond("r", "in", ("Patient/p1", "Patient/p2")),))) == [
        "a",
        "b",
    ]
    march = (Cond("lo", "gte", D(2026, 1, 1)), Cond("hi", "lte", D(2027, 1, 1)))
    assert await ids(store, Entry("date", march)) == ["a", "b"]
    assert await ids(store, Entry("date", (Cond("hi", "gt", D(2026, 5, 1)),))) == ["b"]
    assert await ids(store, Entry("value", (Cond("lo", "gte", 6.99), Cond("hi", "lte", 7.01)))) == [
        "c"
    ]
    assert await ids(store, Entry("status")) == ["a", "b", "c"]
    assert sorted(await ids(store, Entry("status"), resource_type=None)) == ["a", "b", "c", "g"]


async def test_boolean_structure_and_fields(store: ResourceStore) -> None:
    await seed(store)
    active = Entry("status", (Cond("c", "eq", "active"),))
    assert await ids(store, Not(active)) == ["b"]
    assert await ids(store, Not(Entry("value"))) == ["a", "b"]
    assert await ids(store, AnyOf((active, Entry("name", (Cond("x", "eq", "Zoey Smith"),))))) == [
        "a",
        "b",
        "c",
    ]
    assert await ids(store, AllOf((active, Entry("value")))) == ["c"]
    assert await ids(store, Field(Cond("rid", "in", ("b", "c")))) == ["b", "c"]
    assert await ids(store, Field(Cond("lastUpdated", "gte", T0))) == ["a", "b", "c"]
    # entries are matched one at a time: no mixing of two entries' fields
    assert (
        await ids(
            store, Entry("status", (Cond("s", "eq", "http://x"), Cond("c", "eq", "completed")))
        )
        == []
    )


async def test_deleted_are_not_found_and_pages_are_exact(store: ResourceStore) -> None:
    for i in range(7):
        await store.commit(
            Write("Task", f"t{i}", 1, T0, "POST", b"{}", ({"p": "status", "c": "x", "s": None},))
        )
    await store.commit(Write("Task", "t3", 2, T0, "DELETE", None))
    everything = Entry("status", (Cond("c", "eq", "x"),))
    assert await store.count(SearchQuery("Task", (everything,))) == 6
    seen: list[str] = []
    after = None
    while True:
        page = await store.search(SearchQuery("Task", (everything,), 2, after))
        if not page:
            break
        seen += [v.id for v in page]
        after = Position((), f"Task/{page[-1].id}")
        await store.commit(Write("Task", f"t9{len(seen)}", 1, T0, "POST", b"{}", ()))
    assert seen == ["t0", "t1", "t2", "t4", "t5", "t6"]


async def test_count_ignores_the_page_cursor(store: ResourceStore) -> None:
    await seed(store)
    active = Entry("status", (Cond("c", "eq", "active"),))
    assert (
        await store.count(SearchQuery("Task", (active,), 1, Position((), "Task/a"), as_of=1)) == 2
    )
