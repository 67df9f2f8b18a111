"""``_sort`` and exact keyset paging, on every store (https://hl7.org/fhir/R4/search.html#sort).

Sort values come from the index entries (``search/sort_values.py``): smallest value
ascending, largest descending, missing last in both directions, ties by ``Type/id``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fhircare.search.predicates import Cond, Entry
from fhircare.search.request import SortKey
from fhircare.storage.protocol import Position, ResourceStore, SearchQuery, Write

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def day(n: int) -> datetime:
    return T0 + n * DAY


# four values per kind, a < b < c < d; entries as extraction writes them
KINDS: dict[str, tuple[str, Any, list[Any]]] = {
    "string": (
        "name",
        lambda v: {"p": "name", "v": v, "x": v.title()},
        ["alpha", "bravo", "charlie", "delta"],
    ),
    "token": ("code", lambda v: {"p": "code", "s": "http://x", "c": v}, ["A1", "B2", "C3", "d4"]),
    "date": ("date", lambda v: {"p": "date", "lo": day(v), "hi": day(v + 1)}, [1, 30, 31, 400]),
    "number": (
        "probability",
        lambda v: {"p": "probability", "lo": v - 0.5, "hi": v + 0.5, "n": v},
        [1.0, 2.5, 3.0, 10.0],
    ),
    "quantity": (
        "value-quantity",
        lambda v: {"p": "value-quantity", "lo": v, "hi": v, "n": v, "s": "u", "c": "mg", "u": "mg"},
        [-5.0, 0.25, 2.0, 1000.0],
    ),
    "reference": (
        "subject",
        lambda v: {"p": "subject", "r": v, "ty": "Patient"},
        ["Patient/a", "Patient/b", "Patient/c", "Patient/d"],
    ),
    "uri": (
        "url",
        lambda v: {"p": "url", "v": v},
        ["http://a.org", "http://b.org", "urn:c", "urn:d"],
    ),
}


async def commit(
    store: ResourceStore,
    id: str,
    entries: list[dict[str, Any]],
    version: int = 1,
    at: datetime = T0,
    type: str = "Task",
) -> None:
    await store.commit(Write(type, id, version, at, "PUT", b"{}", tuple(entries)))


async def ordered(store: ResourceStore, *sort: SortKey, type: str = "Task") -> list[str]:
    return [v.id for v in await store.search(SearchQuery(type, (), 100, sort=sort))]


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_each_value_kind_sorts_both_ways_missing_last(
    store: ResourceStore, kind: str
) -> None:
    code, entry, (a, b, c, d) = KINDS[kind]
    rows = {"r1": [b], "r2": [d, a], "r3": [c], "r4": [], "r5": [b], "r0": []}
    for id, values in rows.items():
        other = [{"p": "other", "s": None, "c": "x"}, {"p": code + "-x", "k": ["q"]}]
        await commit(store, id, [entry(v) for v in values] + other)
    # ascending by the smallest value, descending by the largest; r1/r5 tie → key
    assert await ordered(store, SortKey(code)) == ["r2", "r1", "r5", "r3", "r0", "r4"]
    assert await ordered(store, SortKey(code, True)) == ["r2", "r3", "r1", "r5", "r0", "r4"]


async def test_date_ranges_sort_by_start_ascending_and_end_descending(
    store: ResourceStore,
) -> None:
    year = {"p": "date", "lo": day(0), "hi": day(365)}
    await commit(store, "year", [year])
    await commit(store, "june", [{"p": "date", "lo": day(150), "hi": day(151)}])
    await commit(store, "dec31", [{"p": "date", "lo": day(364), "hi": day(365)}])
    assert await ordered(store, SortKey("date")) == ["year", "june", "dec31"]
    assert await ordered(store, SortKey("date", True)) == ["dec31", "year", "june"]


async def test_id_and_last_updated(store: ResourceStore) -> None:
    await commit(store, "b", [], at=day(2))
    await commit(store, "a", [], at=day(3))
    await commit(store, "c", [], at=day(2))
    await commit(store, "d", [], at=day(1))
    assert await ordered(store, SortKey("_id", True)) == ["d", "c", "b", "a"]
    assert await ordered(store, SortKey("_id")) == ["a", "b", "c", "d"]
    assert await ordered(store, SortKey("_lastUpdated")) == ["d", "b", "c", "a"]
    assert await ordered(store, SortKey("_lastUpdated", True)) == ["a", "b", "c", "d"]
    await commit(store, "d", [], version=2, at=day(9))
    assert await ordered(store, SortKey("_lastUpdated", True)) == ["d", "a", "b", "c"]


async def test_several_keys_each_direction(store: ResourceStore) -> None:
    def status(c: str) -> dict[str, Any]:
        return {"p": "status", "s": None, "c": c}

    def date(n: int) -> dict[str, Any]:
        return {"p": "date", "lo": day(n), "hi": day(n + 1)}

    await commit(store, "a", [status("active"), date(5)])
    await commit(store, "b", [status("active"), date(9)])
    await commit(store, "c", [status("active")])
    await commit(store, "d", [status("done"), date(1)])
    await commit(store, "e", [date(7)])
    await commit(store, "f", [status("active"), date(9)])
    keys = (SortKey("status"), SortKey("date", True))
    assert await ordered(store, *keys) == ["b", "f", "a", "c", "d", "e"]
    keys = (SortKey("status", True), SortKey("date"))
    assert await ordered(store, *keys) == ["d", "a", "b", "f", "c", "e"]
    keys = (SortKey("date"), SortKey("_id", True))
    assert await ordered(store, *keys) == ["d", "a", "e", "f", "b", "c"]


async def test_system_level_sort_and_count_ignores_the_cursor(store: ResourceStore) -> None:
    await commit(store, "x", [{"p": "_tag", "s": "s", "c": "b"}], type="Goal")
    await commit(store, "y", [{"p": "_tag", "s": "s", "c": "a"}])
    await commit(store, "z", [])
    found = await store.search(SearchQuery(None, (), 10, sort=(SortKey("_tag"),)))
    assert [v.id for v in found] == ["y", "x", "z"]
    tagged = Entry("_tag", (Cond("s", "eq", "s"),))
    query = SearchQuery(None, (tagged,), 1, Position(("b",), "Goal/x"), (SortKey("_tag"),))
    assert await store.search(query) == []
    assert await store.count(query) == 2


async def test_pages_follow_the_sort(store: ResourceStore) -> None:
    code, entry, values = KINDS["string"]
    for i in range(9):
        await commit(store, f"t{i}", [entry(values[i % 4])] if i % 3 else [])
    sort = (SortKey(code, True),)
    everything = await ordered(store, *sort)
    walked: list[str] = []
    query = SearchQuery("Task", (), 2, sort=sort)
    while True:
        page = await store.search_page(query)
        walked += [v.id for v in page.versions]
        if len(page.versions) < 2:
            break
        query = SearchQuery("Task", (), 2, page.positions[-1], sort, page.as_of)
    assert walked == everything and len(walked) == 9


STATUS = Entry("status", (Cond("c", "eq", "x"),))


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_walking_pages_is_exact_while_others_write(store: ResourceStore, seed: int) -> None:
    """Every resource that matches throughout the walk is listed exactly once and none
    twice, while others insert, update (moving sort values forward and back, of
    resources already listed and not yet), delete and stop matching between pages."""
    rng = random.Random(seed)
    versions: dict[str, int] = {}

    def entries(matching: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"p": "status", "s": None, "c": "x" if matching else "y"}]
        if rng.random() < 0.8:
            out.append({"p": "priority", "s": None, "c": rng.choice("abcdef")})
        if rng.random() < 0.8:
            n = rng.randrange(20)
            out.append({"p": "date", "lo": day(n), "hi": day(n + 1)})
        return out

    async def write(id: str, matching: bool = True) -> None:
        versions[id] = versions.get(id, 0) + 1
        at = T0 + timedelta(seconds=rng.randrange(5))
        await commit(store, id, entries(matching), versions[id], at)

    async def delete(id: str) -> None:
        versions[id] += 1
        await store.commit(Write("Task", id, versions[id], T0, "DELETE", None))

    for i in range(16):
        await write(f"t{i:02}")
    throughout = set(versions)
    sort = (SortKey("priority"), SortKey("date", True), SortKey("_lastUpdated"))
    query = SearchQuery("Task", (STATUS,), rng.choice([2, 3]), sort=sort)
    seen: list[str] = []
    new = 0
    while True:
        page = await store.search_page(query)
        seen += [v.id for v in page.versions]
        if len(page.versions) < query.count:
            break
        query = SearchQuery("Task", (STATUS,), query.count, page.positions[-1], sort, page.as_of)
        for _ in range(rng.randrange(1, 5)):
            action = rng.random()
            live = sorted(i for i in throughout)
            if action < 0.5 and live:
                await write(rng.choice(live))  # new sort values, seen or not
            elif action < 0.65:
                new += 1
                await write(f"n{new:02}")  # created during the walk
            elif action < 0.8 and live:
                gone = rng.choice(live)
                throughout.discard(gone)
                await delete(gone)
            elif live:
                stops = rng.choice(live)
                throughout.discard(stops)
                await write(stops, matching=rng.random() < 0.5)  # may match again
    assert len(seen) == len(set(seen)), seen
    assert throughout <= set(seen)
    assert all(id in versions for id in seen)
