"""Reading and writing versions on one connection, inside the caller's transaction.

Every function here runs within a transaction that ``Database`` opened: a write's checks
and changes are then one atomic step for every process on the file, so compare-and-set
needs no more than reading the current version first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from fhircare.storage.protocol import StoredVersion, VersionConflict, Write, resource_key
from fhircare.storage.sqlite.codec import (
    encode_entries,
    encode_sort_values,
    entry_rows,
    instant,
    parse_instant,
    sql_value,
)

VERSION_COLUMNS = "type, rid, version, last_updated, method, body, seq"
"""The columns ``to_stored`` reads, in its order (``resources`` and ``history`` alike)."""

_INSERT_ENTRY = (
    'INSERT INTO entries (res, p, rt, k, "s", "c", "v", "x", "t", "ot", "r", "is", "iv", '
    '"lo", "hi", "u") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
)


def to_stored(row: Sequence[Any]) -> StoredVersion:
    resource_type, id, version, last_updated, method, body, seq = row[:7]
    return StoredVersion(resource_type, id, version, parse_instant(last_updated), method, body, seq)


def current_version(
    connection: sqlite3.Connection, resource_type: str, id: str
) -> tuple[int | None, int]:
    """(row id, version) of the resource now: (None, 0) if it never existed."""
    row = connection.execute(
        "SELECT id, version FROM resources WHERE key = ?", (resource_key(resource_type, id),)
    ).fetchone()
    return (None, 0) if row is None else (row[0], row[1])


def check(connection: sqlite3.Connection, write: Write, index: int) -> int | None:
    """The row id of ``write``'s resource, if it is at ``write.version - 1``; else
    ``VersionConflict`` naming ``index``."""
    row_id, version = current_version(connection, write.resource_type, write.id)
    if version != write.version - 1:
        raise VersionConflict(version, index)
    return row_id


def apply(connection: sqlite3.Connection, write: Write, row_id: int | None) -> StoredVersion:
    """Commit ``write`` (already checked): history, the current row, its entries and sorts."""
    sort_values = encode_sort_values(write.sort_values)
    at = instant(write.last_updated)
    seq = connection.execute(
        "INSERT INTO history (type, rid, version, last_updated, method, body, sk) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (write.resource_type, write.id, write.version, at, write.method, write.body, sort_values),
    ).lastrowid
    assert seq is not None
    fields = (write.version, seq, at, write.method, write.body)
    index = None if write.deleted else encode_entries(write.index)
    if row_id is None:
        row_id = connection.execute(
            "INSERT INTO resources (key, type, rid, version, seq, last_updated, method, body, "
            "idx, sk) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                resource_key(write.resource_type, write.id),
                write.resource_type,
                write.id,
                *fields,
                index,
                sort_values,
            ),
        ).lastrowid
        assert row_id is not None
    else:
        connection.execute(
            "UPDATE resources SET version = ?, seq = ?, last_updated = ?, method = ?, body = ?, "
            "idx = ?, sk = ? WHERE id = ?",
            (*fields, index, sort_values, row_id),
        )
        clear_index(connection, row_id)
    if not write.deleted:
        add_index(connection, row_id, write.index, write.sort_values or {})
    return write.landed(seq)


def clear_index(connection: sqlite3.Connection, row_id: int) -> None:
    connection.execute("DELETE FROM entries WHERE res = ?", (row_id,))
    connection.execute("DELETE FROM sorts WHERE res = ?", (row_id,))


def add_index(
    connection: sqlite3.Connection,
    row_id: int,
    entries: Sequence[dict[str, Any]],
    sort_values: dict[str, dict[str, Any]],
) -> None:
    connection.executemany(_INSERT_ENTRY, ((row_id, *row) for row in entry_rows(entries)))
    smallest, largest = sort_values.get("a") or {}, sort_values.get("d") or {}
    connection.executemany(
        "INSERT INTO sorts (res, name, a, d) VALUES (?, ?, ?, ?)",
        (
            (row_id, name, sql_value(smallest.get(name)), sql_value(largest.get(name)))
            for name in sorted(set(smallest) | set(largest))
        ),
    )
