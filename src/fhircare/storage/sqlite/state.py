"""``SqliteStore``'s state records (``protocol.StateRecord``) in the ``state`` table.

A compare-and-set reads the revision and writes inside one write transaction, which holds
SQLite's write lock, so it is atomic for every process on the file. Keys of one space are
the primary key's second column: a prefix is a range of it (``state.prefix_end``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from fhircare.storage.protocol import ANY_REV, StateRecord
from fhircare.storage.sqlite.database import Database
from fhircare.storage.state import decode_value, encode_value, prefix_end

_UPSERT = (
    "INSERT INTO state (space, key, value, rev) VALUES (?, ?, ?, 1) "
    "ON CONFLICT (space, key) DO UPDATE SET value = excluded.value, rev = rev + 1 "
    "RETURNING rev"
)


def _record(space: str, row: Sequence[Any]) -> StateRecord:
    key, value, rev = row
    return StateRecord(space, key, decode_value(value), rev)


class SqliteState:
    """The state methods of the ResourceStore protocol, over the store's ``Database``."""

    _db: Database

    async def state_get(self, space: str, key: str) -> StateRecord | None:
        sql = "SELECT key, value, rev FROM state WHERE space = ? AND key = ?"
        row = self._db.read_now(lambda c: c.execute(sql, (space, key)).fetchone())
        return None if row is None else _record(space, row)

    async def state_put(
        self, space: str, key: str, value: dict[str, Any], expect: int = ANY_REV
    ) -> StateRecord | None:
        data = encode_value(value)

        def work(connection: sqlite3.Connection) -> int | None:
            if expect == ANY_REV:
                return int(connection.execute(_UPSERT, (space, key, data)).fetchone()[0])
            if expect == 0:
                inserted = connection.execute(
                    "INSERT OR IGNORE INTO state (space, key, value, rev) VALUES (?, ?, ?, 1)",
                    (space, key, data),
                ).rowcount
                return 1 if inserted == 1 else None
            updated = connection.execute(
                "UPDATE state SET value = ?, rev = rev + 1 WHERE space = ? AND key = ? AND rev = ?",
                (data, space, key, expect),
            ).rowcount
            return expect + 1 if updated == 1 else None

        rev = await self._db.write(work)
        return None if rev is None else StateRecord(space, key, decode_value(data), rev)

    async def state_put_many(self, space: str, values: Mapping[str, dict[str, Any]]) -> None:
        rows = [(space, key, encode_value(value)) for key, value in values.items()]
        if rows:
            await self._db.write(lambda c: [c.execute(_UPSERT, row).fetchone() for row in rows])

    async def state_get_many(self, space: str, keys: Sequence[str]) -> dict[str, StateRecord]:
        wanted = sorted(set(keys))

        def work(connection: sqlite3.Connection) -> list[Any]:
            found: list[Any] = []
            for start in range(0, len(wanted), 500):  # under SQLite's bound-parameter limit
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                sql = f"SELECT key, value, rev FROM state WHERE space = ? AND key IN ({marks})"
                found += connection.execute(sql, [space, *chunk]).fetchall()
            return found

        found = await self._db.read(work) if wanted else []
        return {row[0]: _record(space, row) for row in found}

    async def state_delete(self, space: str, key: str) -> None:
        sql = "DELETE FROM state WHERE space = ? AND key = ?"
        await self._db.write(lambda c: c.execute(sql, (space, key)))

    async def state_list(
        self, space: str, prefix: str = "", after: str = "", count: int = 100
    ) -> list[StateRecord]:
        if count <= 0:
            return []
        terms, params = ["space = ?", "key >= ?", "key > ?"], [space, prefix, after]
        end = prefix_end(prefix)
        if end is not None:
            terms.append("key < ?")
            params.append(end)
        sql = f"SELECT key, value, rev FROM state WHERE {' AND '.join(terms)} ORDER BY key LIMIT ?"
        found = await self._db.read(lambda c: c.execute(sql, [*params, count]).fetchall())
        return [_record(space, row) for row in found]
