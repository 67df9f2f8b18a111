"""The raw side: sqlite3 on the store's file, doing what the store does without the rest.

A pool of threads, each with its own connection and the store's pragmas, runs the calls,
so raw calls run concurrently as the server's do. Writes use the store's own statements
(``storage/sqlite/rows.py``) on ``Write``s whose index entries were computed once up front,
so a raw write costs what the store's transaction costs and nothing else.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench.http_load import BODY, OBSERVATION, conditional_patient
from bench.runner import Operation
from fhircare.fhir import jsonio
from fhircare.search.indexer import Indexer
from fhircare.search.registry import default_registry
from fhircare.storage.protocol import Write
from fhircare.storage.sqlite import rows
from fhircare.storage.sqlite.database import in_transaction

T = TypeVar("T")


class RawSqlite:
    """sqlite3 connections to ``path``, one per thread of a pool of ``threads``."""

    def __init__(self, path: Path, threads: int, synchronous: str = "NORMAL") -> None:
        self.path = path
        self._synchronous = synchronous
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="raw-sqlite")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._indexer = Indexer(default_registry())

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for connection in self._connections:
                connection.close()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
            connection.execute("PRAGMA cache_size=-65536")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    async def run(self, work: Callable[[sqlite3.Connection], T], mode: str = "DEFERRED") -> T:
        """``work`` in one transaction on a pool thread."""

        def transaction() -> T:
            return in_transaction(self._connection(), work, mode)

        return await asyncio.get_running_loop().run_in_executor(self._pool, transaction)

    def write_of(self, resource: dict[str, Any], version: int = 1) -> Write:
        """``resource`` as the store would commit it (index entries computed here)."""
        now = datetime.now(UTC)
        body = jsonio.dumps(resource)
        method = "POST" if version == 1 else "PUT"
        entries = tuple(self._indexer.entries(resource))
        return Write(resource["resourceType"], resource["id"], version, now, method, body, entries)


def _commit(writes: Sequence[Write]) -> Callable[[sqlite3.Connection], None]:
    def work(connection: sqlite3.Connection) -> None:
        for i, write in enumerate(writes):
            rows.apply(connection, write, rows.check(connection, write, i))

    return work


def read_operation(raw: RawSqlite, keys: list[str]) -> Operation:
    """The store's read: the current row by key."""
    sql = f"SELECT {rows.VERSION_COLUMNS} FROM resources WHERE key = ?"

    async def read(index: int) -> str | None:
        key = keys[index % len(keys)]
        found = await raw.run(lambda c: c.execute(sql, (key,)).fetchone())
        return None if found is not None else f"{key} not found"

    return read


def create_operation(raw: RawSqlite, run: str) -> Operation:
    """The store's commit of a new Observation (the bench's create body)."""
    template = raw.write_of({**OBSERVATION, "id": f"{run}-template"})
    assert len(BODY) > 0

    async def create(index: int) -> str | None:
        write = Write(
            template.resource_type,
            f"{run}-c{index}",
            1,
            datetime.now(UTC),
            "POST",
            template.body,
            template.index,
        )
        await raw.run(_commit([write]), "IMMEDIATE")
        return None

    return create


def update_operation(raw: RawSqlite, keys: list[str]) -> Operation:
    """The store's update: read the current version, commit the next one."""
    template = raw.write_of({**OBSERVATION, "id": "template"})

    async def update(index: int) -> str | None:
        resource_type, id = keys[index % len(keys)].split("/")

        def work(connection: sqlite3.Connection) -> None:
            _, version = rows.current_version(connection, resource_type, id)
            write = Write(
                resource_type, id, version + 1, datetime.now(UTC), "PUT", template.body,
                template.index,
            )  # fmt: skip
            rows.apply(connection, write, rows.check(connection, write, 0))

        await raw.run(work, "IMMEDIATE")
        return None

    return update


def history_operation(raw: RawSqlite, keys: list[str]) -> Operation:
    """The store's instance history: a page of versions and their count."""
    page = (
        f"SELECT {rows.VERSION_COLUMNS} FROM history WHERE type = ? AND rid = ? "
        "ORDER BY seq DESC LIMIT 20"
    )
    count = "SELECT count(*) FROM history WHERE type = ? AND rid = ?"

    async def history(index: int) -> str | None:
        key = tuple(keys[index % len(keys)].split("/"))

        def work(connection: sqlite3.Connection) -> int:
            connection.execute(page, key).fetchall()
            return int(connection.execute(count, key).fetchone()[0])

        return None if await raw.run(work) else f"no history for {key}"

    return history


def transaction_operation(raw: RawSqlite, entries: int, run: str) -> Operation:
    """The store's commit of a transaction: a Patient and ``entries - 1`` Observations."""
    patient = raw.write_of({"resourceType": "Patient", "id": "template"})
    observation = raw.write_of({**OBSERVATION, "id": "template"})

    async def transact(index: int) -> str | None:
        now = datetime.now(UTC)
        writes = [Write("Patient", f"{run}-t{index}", 1, now, "POST", patient.body, patient.index)]
        body, entries_of = observation.body, observation.index
        writes += [
            Write("Observation", uuid.uuid4().hex, 1, now, "POST", body, entries_of)
            for _ in range(entries - 1)
        ]
        await raw.run(_commit(writes), "IMMEDIATE")
        return None

    return transact


def conditional_create_operation(raw: RawSqlite, run: str) -> Operation:
    """The store's conditional create: claim the condition, search it by the identifier
    index, commit, release."""
    search = (
        f"SELECT {rows.VERSION_COLUMNS} FROM resources r WHERE r.body IS NOT NULL AND "
        "+r.type = 'Patient' AND r.id IN (SELECT e.res FROM entries e WHERE e.p = 'identifier' "
        'AND e."c" = ? AND e."s" = ?) ORDER BY r.key LIMIT 2'
    )

    async def create(index: int) -> str | None:
        body, condition = conditional_patient(run, index)
        resource = {**jsonio.loads(body), "id": f"{run}-p{index}"}
        write = raw.write_of(resource)
        value = condition.split("|", 1)[1]
        claim = (condition, uuid.uuid4().hex, time.time())
        await raw.run(
            lambda c: c.execute("INSERT INTO claims VALUES (?, ?, ?)", claim), "IMMEDIATE"
        )
        found = await raw.run(lambda c: c.execute(search, (value, "urn:bench")).fetchall())
        if found:
            return f"{condition} matched before it was created"
        await raw.run(_commit([write]), "IMMEDIATE")
        release = "DELETE FROM claims WHERE name = ? AND token = ?"
        await raw.run(lambda c: c.execute(release, claim[:2]), "IMMEDIATE")
        return None

    return create


def replay_operation(raw: RawSqlite, recorded: list[list[str]]) -> Operation:
    """The statements the store ran for each of the requests, in one read transaction."""

    async def replay(index: int) -> str | None:
        statements = recorded[index % len(recorded)]

        def work(connection: sqlite3.Connection) -> None:
            for sql in statements:
                connection.execute(sql).fetchall()

        await raw.run(work)
        return None

    return replay
