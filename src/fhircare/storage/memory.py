"""An in-memory ResourceStore: the reference implementation for fast tests.

Every method runs without awaiting between its check and its update, so on one event loop
each is atomic, which is the behaviour the MongoDB store gets from its compare-and-set.
"""

from __future__ import annotations

from typing import Any

from fhircare.search.match import matches
from fhircare.storage.protocol import (
    HistoryQuery,
    SearchQuery,
    StoredVersion,
    VersionConflict,
    Write,
)


class MemoryStore:
    """Holds every version in dictionaries."""

    def __init__(self) -> None:
        self._current: dict[tuple[str, str], StoredVersion] = {}
        self._versions: dict[tuple[str, str, int], StoredVersion] = {}
        self._log: list[StoredVersion] = []
        self._index: dict[tuple[str, str], tuple[dict[str, Any], ...]] = {}
        self._seq = 0

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        return self._current.get((resource_type, id))

    async def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        return self._versions.get((resource_type, id, version))

    async def commit(self, write: Write) -> StoredVersion:
        key = (write.resource_type, write.id)
        current = self._current.get(key)
        current_version = current.version if current else 0
        if current_version != write.version - 1:
            raise VersionConflict(current_version)
        self._seq += 1
        stored = StoredVersion(
            write.resource_type,
            write.id,
            write.version,
            write.last_updated,
            write.method,
            write.body,
            self._seq,
        )
        self._current[key] = stored
        self._index[key] = write.index
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
        found = []
        for key in sorted(self._current):
            stored = self._current[key]
            if stored.deleted or query.resource_type not in (None, stored.resource_type):
                continue
            fields = {"rid": stored.id, "lastUpdated": stored.last_updated}
            entries = self._index.get(key, ())
            if all(matches(p, entries, fields) for p in query.predicates):
                found.append(stored)
        return found

    async def search(self, query: SearchQuery) -> list[StoredVersion]:
        found = self._found(query)
        if query.after_key is not None:
            found = [v for v in found if f"{v.resource_type}/{v.id}" > query.after_key]
        return found[: query.count]

    async def count(self, query: SearchQuery) -> int:
        return len(self._found(query))
