"""One SQLite database file shared by every process: connections, threads, transactions.

sqlite3 is synchronous, so work runs off the event loop: writes on one writer thread per
process, each in a ``BEGIN IMMEDIATE`` transaction (SQLite's write lock, so writers in every
process on the file queue for it, waiting up to the busy timeout), and searches on a small
pool of reader threads, each in a read transaction (one WAL snapshot for all its
statements). Point lookups by key run on the caller's thread: a WAL reader never waits
for a writer, and a lookup by primary key costs microseconds, less than a thread hop.

Durability: WAL mode, where a committed transaction is in the WAL file before ``COMMIT``
returns, so it survives SIGKILL of any process with ``synchronous=NORMAL``; ``FULL`` also
syncs the WAL to disk at each commit, surviving power loss at the cost of an fsync per
write (``FHIRCARE_SQLITE_SYNCHRONOUS``; README, "Storage on SQLite").
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from fhircare.storage.sqlite.schema import TABLES

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


def in_transaction(connection: sqlite3.Connection, work: Work[T], mode: str = "DEFERRED") -> T:
    """``work(connection)`` between ``BEGIN mode`` and ``COMMIT``; rolled back if it fails."""
    connection.execute(f"BEGIN {mode}")
    try:
        result = work(connection)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return result


class Database:
    """The connections of one process to one database file."""

    def __init__(
        self,
        path: Path,
        synchronous: str = "NORMAL",
        busy_timeout: float = 30.0,
        readers: int = 2,
    ) -> None:
        if synchronous.upper() not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
        self.path = path
        self._synchronous = synchronous.upper()
        self._busy_timeout = busy_timeout
        self._readers = readers
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._trace: Callable[[str], None] | None = None

    def open(self) -> None:
        """Create the file, its tables and indexes if missing, and the threads."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = self._connection()
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(f"BEGIN IMMEDIATE; {TABLES} COMMIT;")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader = ThreadPoolExecutor(self._readers, thread_name_prefix="sqlite-reader")

    def close(self) -> None:
        for pool in (self._writer, self._reader):
            if pool is not None:
                pool.shutdown(wait=True)
        self._writer = self._reader = None
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
            connection.execute("PRAGMA temp_store=MEMORY")
            connection.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages per connection
            connection.set_trace_callback(self._trace)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def trace(self, callback: Callable[[str], None] | None) -> None:
        """Call ``callback`` with each statement any connection runs, its parameters
        inlined (the query-plan tests read them); None stops it."""
        self._trace = callback
        with self._lock:
            for connection in self._connections:
                connection.set_trace_callback(callback)

    async def write(self, work: Work[T]) -> T:
        """``work`` in one write transaction on the writer thread: all of it or none."""
        assert self._writer is not None, "the store is not open"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._write_now, work)

    def _write_now(self, work: Work[T]) -> T:
        return in_transaction(self._connection(), work, "IMMEDIATE")

    async def read(self, work: Work[T]) -> T:
        """``work`` in one read transaction (one snapshot) on a reader thread."""
        assert self._reader is not None, "the store is not open"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self.read_now, work)

    def read_now(self, work: Work[T]) -> T:
        """``work`` in one read transaction on this thread (quick lookups only)."""
        return in_transaction(self._connection(), work, "DEFERRED")
