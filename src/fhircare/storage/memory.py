"""An in-memory ResourceStore: the reference implementation for fast tests.

Every method runs without awaiting between its check and its update, so on one event loop
each is atomic, which is the behaviour the MongoDB store gets from its compare-and-set.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from fhircare.search.match import matches
from fhircare.search.predicates import Predicate
from fhircare.search.sort_values import compare, sort_key, sort_values, values_of
from fhircare.storage.protocol import (
    ANY_REV,
    HistoryQuery,
    Position,
    SearchPage,
    SearchQuery,
    StateRecord,
    StoredVersion,
    VersionConflict,
    Write,
)
from fhircare.storage.state import decode_value, encode_value


class MemoryStore:
    """Holds every version in dictionaries."""

    def __init__(self) -> None:
        self._current: dict[tuple[str, str], StoredVersion] = {}
        self._versions: dict[tuple[str, str, int], StoredVersion] = {}
        self._log: list[StoredVersion] = []
        self._index: dict[tuple[str, str], tuple[dict[str, Any], ...]] = {}
        self._sort_values: dict[tuple[str, str, int], dict[str, dict[str, Any]]] = {}
        self._claims: dict[str, str] = {}
        self._changes: dict[str, int] = {}
        self._seq = 0
        self._state: dict[tuple[str, str], tuple[bytes, int]] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def recover(self) -> int:
        return 0  # every write completes within one step of the event loop

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        return self._current.get((resource_type, id))

    async def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        return self._versions.get((resource_type, id, version))

    async def commit(self, write: Write) -> StoredVersion:
        self._check(write, 0)
        return self._apply(write)

    async def commit_all(self, writes: Sequence[Write]) -> list[StoredVersion]:
        for index, write in enumerate(writes):
            self._check(write, index)
        return [self._apply(write) for write in writes]

    async def change_token(self, resource_type: str) -> str:
        return str(self._changes.get(resource_type, 0))

    async def claim(self, name: str) -> str | None:
        if name in self._claims:
            return None
        self._claims[name] = token = uuid.uuid4().hex
        return token

    async def release(self, name: str, token: str) -> None:
        if self._claims.get(name) == token:
            del self._claims[name]

    def _check(self, write: Write, index: int) -> None:
        current = self._current.get((write.resource_type, write.id))
        current_version = current.version if current else 0
        if current_version != write.version - 1:
            raise VersionConflict(current_version, index)

    def _apply(self, write: Write) -> StoredVersion:
        key = (write.resource_type, write.id)
        self._changes[write.resource_type] = self._changes.get(write.resource_type, 0) + 1
        self._seq += 1
        stored = write.landed(self._seq)
        self._current[key] = stored
        self._index[key] = write.index
        self._sort_values[(*key, write.version)] = write.sort_values or {}
        self._versions[(*key, write.version)] = stored
        self._log.append(stored)
        return stored

    def _matching(self, query: HistoryQuery) -> list[StoredVersion]:
        return [
            v
            for v in reversed(self._log)
            if (query.resource_type is None or v.resource_type == query.resource_type)
            and (query.id is None or v.id == query.id)
            and (query.since is None or v.last_updated >= query.since)
        ]

    async def history(self, query: HistoryQuery) -> list[StoredVersion]:
        matching = self._matching(query)
        if query.before_seq is not None:
            matching = [v for v in matching if v.seq < query.before_seq]
        return matching[: query.count]

    async def count_history(self, query: HistoryQuery) -> int:
        return len(self._matching(query))

    def _found(self, query: SearchQuery) -> list[StoredVersion]:
        found: list[StoredVersion] = []
        for key in sorted(self._current):
            stored = self._current[key]
            if stored.deleted or query.resource_type not in (None, stored.resource_type):
                continue
            fields = {
                "rid": stored.id,
                "lastUpdated": stored.last_updated,
                "type": stored.resource_type,
            }
            entries = self._index.get(key, ())
            if all(matches(p, entries, fields) for p in query.predicates):
                found.append(stored)
        return found

    async def search(self, query: SearchQuery) -> list[StoredVersion]:
        return (await self.search_page(query)).versions

    async def search_page(self, query: SearchQuery) -> SearchPage:
        as_of = self._seq if query.as_of is None else query.as_of
        placed: list[tuple[tuple[Any, ...], str, StoredVersion]] = []
        for stored in self._found(query):
            key = (stored.resource_type, stored.id)
            if stored.seq <= as_of:
                then, values = stored, sort_values(self._index.get(key, ()))
            else:
                earlier = self._version_as_of(stored, as_of)
                if earlier is None:
                    continue  # created (or recreated) after the walk began
                then, values = earlier, self._sort_values.get((*key, earlier.version), {})
            fields = {"rid": then.id, "lastUpdated": then.last_updated}
            placed.append((values_of(query.sort, values, fields), "/".join(key), stored))
        placed.sort(key=lambda p: sort_key(query.sort)((p[0], p[1])))
        if query.after is not None:
            after = (query.after.values, query.after.key)
            placed = [p for p in placed if compare(query.sort, (p[0], p[1]), after) > 0]
        placed = placed[: query.count]
        return SearchPage([p[2] for p in placed], [Position(p[0], p[1]) for p in placed], as_of)

    def _version_as_of(self, current: StoredVersion, as_of: int) -> StoredVersion | None:
        """The version of ``current``'s resource that was current at sequence ``as_of``."""
        for number in range(current.version - 1, 0, -1):
            version = self._versions.get((current.resource_type, current.id, number))
            if version is not None and version.seq <= as_of:
                return None if version.deleted else version
        return None

    async def count(self, query: SearchQuery) -> int:
        return len(self._found(query))

    def joinable(self, predicate: Predicate) -> bool:
        return False  # the matcher reads one resource's entries; chains are resolved first

    def _live(self, resource_type: str | None) -> list[tuple[str, str]]:
        return [
            key
            for key in sorted(self._current)
            if not self._current[key].deleted and resource_type in (None, key[0])
        ]

    async def iterate_current(
        self, resource_type: str | None, batch: int = 500
    ) -> AsyncIterator[list[StoredVersion]]:
        keys = self._live(resource_type)
        for start in range(0, len(keys), batch):
            page = [self._current.get(key) for key in keys[start : start + batch]]
            yield [v for v in page if v is not None and not v.deleted]

    async def count_current(self, resource_type: str | None) -> int:
        return len(self._live(resource_type))

    async def replace_index(
        self, version: StoredVersion, index: tuple[dict[str, Any], ...]
    ) -> bool:
        key = (version.resource_type, version.id)
        current = self._current.get(key)
        if current is None or current.deleted or current.version != version.version:
            return False
        self._index[key] = index  # keep in step with what commit keeps of write.index
        return True

    async def changes(
        self, after_seq: int, resource_types: Sequence[str] | None = None, count: int = 500
    ) -> list[StoredVersion]:
        # the log is in sequence order, every version in it committed
        types = None if resource_types is None else set(resource_types)
        found: list[StoredVersion] = []
        for version in self._log[max(after_seq, 0) :]:
            if len(found) >= count:
                break
            if types is None or version.resource_type in types:
                found.append(version)
        return found

    # The state is kept as JSON text, as the other stores keep it: what a caller does to a
    # dictionary it passed or got back changes nothing here.

    def _record(self, space: str, key: str) -> StateRecord | None:
        kept = self._state.get((space, key))
        return None if kept is None else StateRecord(space, key, decode_value(kept[0]), kept[1])

    async def state_get(self, space: str, key: str) -> StateRecord | None:
        return self._record(space, key)

    async def state_put(
        self, space: str, key: str, value: dict[str, Any], expect: int = ANY_REV
    ) -> StateRecord | None:
        kept = self._state.get((space, key))
        rev = 0 if kept is None else kept[1]
        if expect != ANY_REV and expect != rev:
            return None
        self._state[(space, key)] = (encode_value(value), rev + 1)
        return self._record(space, key)

    async def state_put_many(self, space: str, values: Mapping[str, dict[str, Any]]) -> None:
        for key, value in values.items():
            await self.state_put(space, key, value)

    async def state_get_many(self, space: str, keys: Sequence[str]) -> dict[str, StateRecord]:
        found = {key: self._record(space, key) for key in keys}
        return {key: record for key, record in found.items() if record is not None}

    async def state_delete(self, space: str, key: str) -> None:
        self._state.pop((space, key), None)

    async def state_list(
        self, space: str, prefix: str = "", after: str = "", count: int = 100
    ) -> list[StateRecord]:
        keys = sorted(
            key for s, key in self._state if s == space and key.startswith(prefix) and key > after
        )
        return [r for r in (self._record(space, key) for key in keys[: max(count, 0)]) if r]
