"""``SearchParameters``: the registry rebuilt from stored SearchParameters, and when."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from fhircare.interactions.search_parameters import SearchParameters
from fhircare.search.registry import default_registry
from fhircare.storage.memory import MemoryStore
from fhircare.storage.protocol import Write

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def parameter(status: str = "active", code: str = "nick") -> bytes:
    return orjson.dumps(
        {
            "resourceType": "SearchParameter",
            "url": f"http://example.org/SearchParameter/{code}",
            "status": status,
            "code": code,
            "base": ["Patient", "NotAType"],
            "type": "string",
            "expression": "Patient.name.given",
        }
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_rebuilds_when_changed_at_most_once_per_interval() -> None:
    store, clock = MemoryStore(), Clock()
    holder = SearchParameters(store, default_registry(), 5.0, clock)
    assert await holder.load() is default_registry()
    await store.commit(Write("SearchParameter", "sp", 1, T0, "POST", parameter()))
    assert holder.registry.get("Patient", "nick") is None
    assert (await holder.refresh()).get("Patient", "nick") is None, "checked just now"
    clock.now = 5.0
    registry = await holder.refresh()
    nick = registry.get("Patient", "nick")
    assert nick is not None and nick.base == ("Patient",)
    assert list(holder.custom) == ["sp"]
    clock.now = 10.0
    assert await holder.refresh() is registry, "unchanged: the same registry object"
    await store.commit(Write("SearchParameter", "sp", 2, T0, "PUT", parameter("retired")))
    clock.now = 15.0
    assert (await holder.refresh()).get("Patient", "nick") is None


async def test_stored_parameters_that_do_not_pass_are_skipped() -> None:
    store = MemoryStore()
    await store.commit(Write("SearchParameter", "a", 1, T0, "POST", parameter(code="name")))
    await store.commit(Write("SearchParameter", "b", 1, T0, "POST", parameter()))
    other = orjson.loads(parameter())
    other["url"] = "http://example.org/SearchParameter/other"
    await store.commit(Write("SearchParameter", "c", 1, T0, "POST", orjson.dumps(other)))
    holder = SearchParameters(store, default_registry())
    registry = await holder.load()
    assert list(holder.custom) == ["b"], "a clashes with a built-in, c with b"
    assert registry.get("Patient", "name") is default_registry().get("Patient", "name")
