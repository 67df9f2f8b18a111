"""A store that keeps a transaction's writes instead of committing them.

The entries of a transaction run through the ordinary interactions with a ``Context``
whose store is a ``StagedStore``: reads see the staged versions first, then the real store;
``commit`` records the write (its version is checked by the real store's ``commit_all``);
everything else goes to the real store. The transaction then commits the recorded
writes at once with ``commit_all``. Claims (the locks of conditional interactions) are
kept until ``release_all``, after that commit, so no rival acts on a condition before the
transaction's result is visible; a claim this transaction already holds is granted again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from fhircare.fhir import errors
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


class StagedStore:
    """A ``ResourceStore`` over ``store`` that records writes; ``entry`` is the bundle
    entry being staged, remembered for each write in ``writers``."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self._staged: dict[tuple[str, str], StoredVersion] = {}
        self._writer: dict[tuple[str, str], int] = {}
        self._claims: dict[str, str] = {}
        self.writes: list[Write] = []
        self.writers: list[int] = []
        self.entry = -1

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        staged = self._staged.get((resource_type, id))
        return staged if staged is not None else await self._store.read(resource_type, id)

    async def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        staged = self._staged.get((resource_type, id))
        if staged is not None and staged.version == version:
            return staged
        return await self._store.vread(resource_type, id, version)

    async def commit(self, write: Write) -> StoredVersion:
        """Record ``write``; 400 if another entry wrote it. Its version is checked when the
        transaction commits (``commit_all``), so a rival's write in between makes the whole
        transaction start again rather than this entry alone."""
        key = (write.resource_type, write.id)
        if key in self._staged:
            raise errors.invalid(
                f"{write.resource_type}/{write.id} is also changed by "
                f"Bundle.entry[{self._writer[key]}]; a transaction changes a resource once"
            )
        stored = write.landed(0)
        self._staged[key] = stored
        self._writer[key] = self.entry
        self.writes.append(write)
        self.writers.append(self.entry)
        return stored

    async def commit_all(self, writes: Sequence[Write]) -> list[StoredVersion]:
        return [await self.commit(write) for write in writes]

    async def claim(self, name: str) -> str | None:
        if name not in self._claims:
            token = await self._store.claim(name)
            if token is None:
                return None
            self._claims[name] = token
        return self._claims[name]

    async def release(self, name: str, token: str) -> None:
        return None  # kept until release_all, after the commit

    async def release_all(self) -> None:
        """Give back every claim taken through this store."""
        claims, self._claims = self._claims, {}
        for name, token in claims.items():
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

    # The state records are not part of a transaction: they go to the store at once.

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
