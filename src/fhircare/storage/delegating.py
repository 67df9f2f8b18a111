"""A ``ResourceStore`` that hands every call to another: the base of stores that change a few.

``StagedStore`` (a transaction's staging) and ``AccessStore`` (a caller's narrowed view)
override what they change and inherit the rest from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from fhircare.search.predicates import Predicate
from fhircare.storage.protocol import (
    ANY_REV,
    HistoryQuery,
    ResourceStore,
    SearchPage,
    SearchQuery,
    StateRecord,
    StoredVersion,
    Write,
)


class DelegatingStore:
    """Every ``ResourceStore`` method, answered by ``inner``."""

    def __init__(self, inner: ResourceStore) -> None:
        self._store = inner

    async def open(self) -> None:
        await self._store.open()

    async def close(self) -> None:
        await self._store.close()

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        return await self._store.read(resource_type, id)

    async def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        return await self._store.vread(resource_type, id, version)

    async def commit(self, write: Write) -> StoredVersion:
        return await self._store.commit(write)

    async def commit_all(self, writes: Sequence[Write]) -> list[StoredVersion]:
        return await self._store.commit_all(writes)

    async def claim(self, name: str) -> str | None:
        return await self._store.claim(name)

    async def release(self, name: str, token: str) -> None:
        await self._store.release(name, token)

    async def history(self, query: HistoryQuery) -> list[StoredVersion]:
        return await self._store.history(query)

    async def recover(self) -> int:
        return await self._store.recover()

    async def change_token(self, resource_type: str) -> str:
        return await self._store.change_token(resource_type)

    async def count_history(self, query: HistoryQuery) -> int:
        return await self._store.count_history(query)

    async def search(self, query: SearchQuery) -> list[StoredVersion]:
        return await self._store.search(query)

    async def search_page(self, query: SearchQuery) -> SearchPage:
        return await self._store.search_page(query)

    async def count(self, query: SearchQuery) -> int:
        return await self._store.count(query)

    def joinable(self, predicate: Predicate) -> bool:
        return self._store.joinable(predicate)

    def iterate_current(
        self, resource_type: str | None, batch: int = 500
    ) -> AsyncIterator[list[StoredVersion]]:
        return self._store.iterate_current(resource_type, batch)

    async def count_current(self, resource_type: str | None) -> int:
        return await self._store.count_current(resource_type)

    async def replace_index(
        self, version: StoredVersion, index: tuple[dict[str, Any], ...]
    ) -> bool:
        return await self._store.replace_index(version, index)

    async def changes(
        self, after_seq: int, resource_types: Sequence[str] | None = None, count: int = 500
    ) -> list[StoredVersion]:
        return await self._store.changes(after_seq, resource_types, count)

    async def state_get(self, space: str, key: str) -> StateRecord | None:
        return await self._store.state_get(space, key)

    async def state_put(
        self, space: str, key: str, value: dict[str, Any], expect: int = ANY_REV
    ) -> StateRecord | None:
        return await self._store.state_put(space, key, value, expect)

    async def state_put_many(self, space: str, values: Mapping[str, dict[str, Any]]) -> None:
        await self._store.state_put_many(space, values)

    async def state_get_many(self, space: str, keys: Sequence[str]) -> dict[str, StateRecord]:
        return await self._store.state_get_many(space, keys)

    async def state_delete(self, space: str, key: str) -> None:
        await self._store.state_delete(space, key)

    async def state_list(
        self, space: str, prefix: str = "", after: str = "", count: int = 100
    ) -> list[StateRecord]:
        return await self._store.state_list(space, prefix, after, count)
