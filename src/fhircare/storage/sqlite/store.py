"""ResourceStore on one SQLite file (the embedded default): ``SqliteStore``.

Each write is one SQLite transaction (``database.py``), so a commit, a whole transaction
bundle (``commit_all``), a claim and a reindex are atomic for every process on the file,
and a crash leaves nothing half-done: recovery has nothing to finish. Searches are SQL over
the ``entries`` index (``search.py``).
"""

from __future__ import annotations

import functools
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from fhircare.search.predicates import Predicate
from fhircare.storage.protocol import HistoryQuery, StoredVersion, Write, resource_key
from fhircare.storage.sqlite import rows
from fhircare.storage.sqlite.codec import encode_entries, encode_sort_values, instant
from fhircare.storage.sqlite.compile import where
from fhircare.storage.sqlite.database import Database
from fhircare.storage.sqlite.search import SqliteSearch, watermark
from fhircare.storage.sqlite.state import SqliteState

_VERSION = rows.VERSION_COLUMNS
_MERGED_TYPES = 64
"""Up to this many types, ``changes`` merges one index range per type (SQLite allows 500
arms in a compound select); past it, one range sorted in a temporary B-tree."""


class SqliteStore(SqliteSearch, SqliteState):
    """Resources in one database file; any number of processes may share it."""

    def __init__(
        self,
        path: Path,
        synchronous: str = "NORMAL",
        intent_timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        self._db = Database(path, synchronous)
        self._intent_timeout = intent_timeout

    @property
    def path(self) -> Path:
        return self._db.path

    @property
    def database(self) -> Database:
        return self._db

    async def open(self) -> None:
        self._db.open()

    async def close(self) -> None:
        self._db.close()

    async def recover(self) -> int:
        return 0  # every write is one SQLite transaction: nothing is ever left half-done

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        key = resource_key(resource_type, id)
        row = self._db.read_now(
            lambda c: c.execute(
                f"SELECT {_VERSION} FROM resources WHERE key = ?", (key,)
            ).fetchone()
        )
        return None if row is None else rows.to_stored(row)

    async def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        sql = f"SELECT {_VERSION} FROM history WHERE type = ? AND rid = ? AND version = ?"
        row = self._db.read_now(lambda c: c.execute(sql, (resource_type, id, version)).fetchone())
        return None if row is None else rows.to_stored(row)

    async def commit(self, write: Write) -> StoredVersion:
        return await self._db.write(lambda c: rows.apply(c, write, rows.check(c, write, 0)))

    async def commit_all(self, writes: Sequence[Write]) -> list[StoredVersion]:
        def work(connection: sqlite3.Connection) -> list[StoredVersion]:
            row_ids = [rows.check(connection, w, i) for i, w in enumerate(writes)]
            return [rows.apply(connection, w, r) for w, r in zip(writes, row_ids, strict=True)]

        return await self._db.write(work)

    async def change_token(self, resource_type: str) -> str:
        sql = "SELECT max(seq) FROM history WHERE type = ?"
        latest = self._db.read_now(lambda c: c.execute(sql, (resource_type,)).fetchone()[0])
        return str(latest or 0)

    async def claim(self, name: str) -> str | None:
        token = uuid.uuid4().hex

        def work(connection: sqlite3.Connection) -> str | None:
            now = time.time()
            stale = now - self._intent_timeout.total_seconds()
            connection.execute("DELETE FROM claims WHERE name = ? AND taken <= ?", (name, stale))
            taken = connection.execute(
                "INSERT OR IGNORE INTO claims (name, token, taken) VALUES (?, ?, ?)",
                (name, token, now),
            ).rowcount
            return token if taken == 1 else None

        return await self._db.write(work)

    async def release(self, name: str, token: str) -> None:
        sql = "DELETE FROM claims WHERE name = ? AND token = ?"
        await self._db.write(lambda c: c.execute(sql, (name, token)))

    @staticmethod
    def _history_filter(query: HistoryQuery) -> tuple[str, list[Any]]:
        terms, params = ["1"], []
        if query.resource_type is not None:
            terms.append("type = ?")
            params.append(query.resource_type)
        if query.id is not None:
            terms.append("rid = ?")
            params.append(query.id)
        if query.since is not None:
            terms.append("last_updated >= ?")
            params.append(instant(query.since))
        return " AND ".join(terms), params

    async def history(self, query: HistoryQuery) -> list[StoredVersion]:
        text, params = self._history_filter(query)
        if query.before_seq is not None:
            text += " AND seq < ?"
            params.append(query.before_seq)
        # One resource's versions go in the order of their numbers, which its history_version
        # index holds: ordered by seq, SQLite walks every version of the type instead.
        order = "version" if query.id is not None and query.resource_type else "seq"
        sql = f"SELECT {_VERSION} FROM history WHERE {text} ORDER BY {order} DESC LIMIT ?"
        found = await self._db.read(lambda c: c.execute(sql, [*params, query.count]).fetchall())
        return [rows.to_stored(row) for row in found]

    async def count_history(self, query: HistoryQuery) -> int:
        text, params = self._history_filter(query)
        sql = f"SELECT count(*) FROM history WHERE {text}"
        return int(await self._db.read(lambda c: c.execute(sql, params).fetchone()[0]))

    async def changes(
        self, after_seq: int, resource_types: Sequence[str] | None = None, count: int = 500
    ) -> list[StoredVersion]:
        # A write is one transaction holding the write lock, and seq is its history row id:
        # versions commit in sequence order, so a snapshot holds every one up to its last.
        if count <= 0:
            return []
        if resource_types is None:
            sql = f"SELECT {_VERSION} FROM history WHERE seq > ? ORDER BY seq LIMIT ?"
            params: list[Any] = [after_seq, count]
        else:
            types = sorted(set(resource_types))
            if not types:
                return []
            if len(types) <= _MERGED_TYPES:
                # each type's range read in seq order from history_type_seq, merged
                arm = f"SELECT {_VERSION} FROM history WHERE type = ? AND seq > ?"
                sql = " UNION ALL ".join([arm] * len(types)) + " ORDER BY seq LIMIT ?"
                params = [p for t in types for p in (t, after_seq)] + [count]
            else:
                marks = ", ".join("?" * len(types))
                sql = (
                    f"SELECT {_VERSION} FROM history WHERE type IN ({marks}) AND seq > ? "
                    "ORDER BY seq LIMIT ?"
                )
                params = [*types, after_seq, count]
        found = await self._db.read(lambda c: c.execute(sql, params).fetchall())
        return [rows.to_stored(row) for row in found]

    async def iterate_current(
        self, resource_type: str | None, batch: int = 500
    ) -> AsyncIterator[list[StoredVersion]]:
        live, params = _live(resource_type)
        sql = f"SELECT {_VERSION} FROM resources WHERE {live} AND key > ? ORDER BY key LIMIT ?"

        def page(connection: sqlite3.Connection, after: str) -> list[Any]:
            return connection.execute(sql, [*params, after, batch]).fetchall()

        after = ""
        while True:
            found = await self._db.read(functools.partial(page, after=after))
            if found:
                yield [rows.to_stored(row) for row in found]
            if len(found) < batch:
                return
            after = resource_key(found[-1][0], found[-1][1])

    async def count_current(self, resource_type: str | None) -> int:
        live, params = _live(resource_type)
        sql = f"SELECT count(*) FROM resources WHERE {live}"
        return int(await self._db.read(lambda c: c.execute(sql, params).fetchone()[0]))

    async def replace_index(
        self, version: StoredVersion, index: tuple[dict[str, Any], ...]
    ) -> bool:
        rewritten = version.reindexed(index)

        def work(connection: sqlite3.Connection) -> bool:
            row = connection.execute(
                "SELECT id, version, body IS NOT NULL FROM resources WHERE key = ?",
                (resource_key(version.resource_type, version.id),),
            ).fetchone()
            if row is None or row[1] != version.version or not row[2]:
                return False
            row_id = row[0]
            connection.execute(
                "UPDATE resources SET idx = ?, sk = ? WHERE id = ?",
                (encode_entries(index), encode_sort_values(rewritten.sort_values), row_id),
            )
            rows.clear_index(connection, row_id)
            rows.add_index(connection, row_id, index, rewritten.sort_values or {})
            return True

        return await self._db.write(work)

    def joinable(self, predicate: Predicate) -> bool:
        return where(predicate).exact  # a join's inner query must be exact SQL

    async def watermark(self) -> int:
        """The highest write sequence number committed (benchmarks and tests)."""
        return self._db.read_now(watermark)


def _live(resource_type: str | None) -> tuple[str, list[Any]]:
    """The current, not deleted resources (of ``resource_type``; all if None)."""
    if resource_type is None:
        return "body IS NOT NULL", []
    return "body IS NOT NULL AND type = ?", [resource_type]
