"""A condition on the resource type (``predicates.TYPE_FIELD``), on every store.

One system-level query asks different things of different types (``type = Task and
subject = ...`` or ``type = Goal and ...``), as the Patient compartment of
``care/compartment.py`` does; its keyset pages run across the types in key order, and a
match added after the first page's watermark is not listed
(https://hl7.org/fhir/R4/http.html#paging).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fhircare.search.predicates import TYPE_FIELD, AllOf, AnyOf, Cond, Entry, Field, Not
from fhircare.storage.protocol import Position, ResourceStore, SearchQuery, Write

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def subject(patient: str) -> dict[str, str]:
    return {"p": "subject", "r": f"Patient/{patient}", "ty": "Patient"}


def focus(patient: str) -> dict[str, str]:
    return {"p": "focus", "r": f"Patient/{patient}", "ty": "Patient"}


async def seed(store: ResourceStore) -> None:
    rows = [
        ("Task", "t1", subject("p1")),
        ("Task", "t2", subject("p2")),
        ("Goal", "g1", subject("p1")),
        ("Observation", "o1", subject("p1")),
        ("Observation", "o2", focus("p1")),  # about p1, not in its compartment
        ("Patient", "p1", {"p": "link", "r": "Patient/p9"}),
    ]
    for kind, id, entry in rows:
        await store.commit(Write(kind, id, 1, T0, "POST", b"{}", (entry,)))


def of_type(kind: str) -> Field:
    return Field(Cond(TYPE_FIELD, "eq", kind))


def keys(found: list) -> list[str]:
    return [f"{v.resource_type}/{v.id}" for v in found]


async def test_a_type_condition_narrows_a_system_search(store: ResourceStore) -> None:
    await seed(store)
    mine = Entry("subject", (Cond("r", "eq", "Patient/p1"),))
    found = await store.search(SearchQuery(None, (AllOf((of_type("Task"), mine)),), 10))
    assert keys(found) == ["Task/t1"]
    either = AnyOf(
        (
            AllOf((of_type("Task"), mine)),
            AllOf((of_type("Observation"), mine)),
            AllOf((of_type("Goal"), mine)),
        )
    )
    found = await store.search(SearchQuery(None, (either,), 10))
    assert keys(found) == ["Goal/g1", "Observation/o1", "Task/t1"]
    assert await store.count(SearchQuery(None, (either,))) == 3
    some = Field(Cond(TYPE_FIELD, "in", ("Goal", "Patient")))
    assert keys(await store.search(SearchQuery(None, (some,), 10))) == ["Goal/g1", "Patient/p1"]
    assert keys(await store.search(SearchQuery(None, (Not(of_type("Task")), mine), 10))) == [
        "Goal/g1",
        "Observation/o1",
    ]


async def test_pages_run_across_types_exactly(store: ResourceStore) -> None:
    await seed(store)
    anyone = AnyOf(
        tuple(
            AllOf((of_type(kind), Entry("subject", (Cond("r", "prefix", "Patient/"),))))
            for kind in ("Task", "Goal", "Observation")
        )
    )
    seen: list[str] = []
    after, as_of = None, None
    while True:
        page = await store.search_page(SearchQuery(None, (anyone,), 2, after, (), as_of))
        if not page.versions:
            break
        seen += keys(page.versions)
        after, as_of = page.positions[-1], page.as_of
        # written after the first page: not listed by this walk
        n = len(seen)
        await store.commit(Write("Goal", f"g{n}0", 1, T0, "POST", b"{}", (subject("p1"),)))
    assert seen == ["Goal/g1", "Observation/o1", "Task/t1", "Task/t2"]
    assert after == Position((), "Task/t2")
