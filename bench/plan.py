"""What runs at each data size: the rows and the scan policy.

A row is a ``RowSpec``: a name, a factory of its HTTP operation and one of its raw pymongo
operation, both called with the ``RowContext`` of the size and concurrency it runs at, and
whether it is scan-bound (each call reads the whole store on FerretDB). ``row_plan`` is the
rows of ``python -m bench`` in table order.

``scan_policy`` decides, in this one place, how much of the scan-bound work (the search
section, conditional creates and ``$everything``) runs at a size.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from bench import everything_ops, http_load, raw_mongo
from bench.runner import Operation

Document = dict[str, Any]

SAMPLE_SCANS_ABOVE = 10_000
"""On FerretDB, above this size the scan-bound rows are only sampled (see ``scan_policy``)."""
TRANSACTION_TIMEOUT = 600.0
"""Seconds a transaction may take over HTTP: at concurrency 32 each of 32 bundles of 100
entries waits for the others on a small machine (beyond 30 s on two CPUs)."""
SCAN_CAP = 5
"""On FerretDB, the most calls a scan-bound row other than a search makes (up to the
sampling size; one call above it)."""


@dataclass
class RowContext:
    """What a row's operations may use, at one size and one concurrency."""

    http: httpx.AsyncClient
    """The run's pooled client (as many connections as the highest concurrency)."""
    raw: AsyncCollection[Document]
    """The raw side's one collection, holding as many documents as fhircare's store."""
    store: AsyncDatabase[Document] | None
    """fhircare's own database (its ``resources`` collection is what the search section's
    raw side queries); None with ``--base-url``."""
    patients: list[str]
    """Ids of the population's Patients loaded so far; empty when nothing was loaded."""
    ferretdb: bool
    """Whether the store is FerretDB (``buildInfo`` has ``ferretdbVersion``)."""
    size: int | None
    key: str
    """Unique to this run, size and row: for identifiers that must not exist yet."""
    server_ids: list[str] = field(default_factory=list)
    """Observation ids the ``create`` row made over HTTP (read, update and history use them)."""
    raw_ids: list[str] = field(default_factory=list)
    """The same for the raw side's ``create``."""

    def fhircare_store(self) -> AsyncDatabase[Document]:
        """``store``, for rows that need the population (never run with ``--base-url``)."""
        if self.store is None:
            raise ValueError("this row needs fhircare's own store")
        return self.store


OperationFactory = Callable[[RowContext], Operation]


@dataclass(frozen=True)
class RowSpec:
    """One row of the main table, run at every concurrency (and every size)."""

    name: str
    http: OperationFactory
    raw: OperationFactory
    scan_bound: bool = False
    """True when each call reads the whole store on FerretDB: the scan policy limits it."""
    needs_population: bool = True
    """True when the operations use ``RowContext.patients`` (skipped with ``--base-url``)."""
    requests: int | None = None
    """Calls per row; None: ``--requests`` (500 at concurrency 1, 2,000 above by default)."""
    timeout: float | None = None
    """Seconds an HTTP call may take; None: the client's (30 s; an hour if scan-bound)."""


def core_rows(
    transactions: int, transaction_entries: int, conditional_creates: int
) -> list[RowSpec]:
    """create, read, update, history, transaction, cond create and $everything, in order."""
    return [
        RowSpec(
            "create",
            lambda c: http_load.create_operation(c.http, c.server_ids),
            lambda c: raw_mongo.create_operation(c.raw, c.raw_ids),
            needs_population=False,
        ),
        RowSpec(
            "read",
            lambda c: http_load.read_operation(c.http, list(c.server_ids)),
            lambda c: raw_mongo.read_operation(c.raw, list(c.raw_ids)),
            needs_population=False,
        ),
        RowSpec(
            "update",
            lambda c: http_load.update_operation(c.http, list(c.server_ids)),
            lambda c: raw_mongo.update_operation(c.raw, list(c.raw_ids)),
            needs_population=False,
        ),
        RowSpec(
            "history",
            lambda c: http_load.history_operation(c.http, list(c.server_ids)),
            lambda c: raw_mongo.read_operation(c.raw, list(c.raw_ids)),
            needs_population=False,
        ),
        RowSpec(
            "transaction",
            lambda c: http_load.transaction_operation(c.http, transaction_entries, c.key),
            lambda c: raw_mongo.transaction_operation(c.raw, transaction_entries),
            needs_population=False,
            requests=transactions,
            timeout=TRANSACTION_TIMEOUT,
        ),
        RowSpec(
            "cond create",
            lambda c: http_load.conditional_create_operation(c.http, c.key),
            lambda c: raw_mongo.conditional_create_operation(c.raw, c.key),
            scan_bound=True,
            needs_population=False,
            requests=conditional_creates,
        ),
        RowSpec(
            "$everything",
            lambda c: everything_ops.http_operation(c.http, c.patients),
            lambda c: everything_ops.raw_operation(
                c.fhircare_store(), c.patients, per_entry=not c.ferretdb
            ),
            scan_bound=True,
        ),
    ]


def row_plan(
    transactions: int, transaction_entries: int, conditional_creates: int
) -> list[RowSpec]:
    """Every row of the main table, in table order."""
    return core_rows(transactions, transaction_entries, conditional_creates)


# --- the scan policy ---------------------------------------------------------


@dataclass(frozen=True)
class ScanOptions:
    """The command line's say in the scan policy."""

    concurrency: tuple[int, ...]
    search_reps: int
    """Calls per search query at concurrency 1."""
    search_rounds: int
    """At a concurrency C above 1 each search query makes rounds x C calls."""
    full_scans: bool = False
    sample_above: int = SAMPLE_SCANS_ABOVE
    cap: int = SCAN_CAP


@dataclass(frozen=True)
class ScanPolicy:
    """How the scan-bound rows run at one size."""

    concurrency: tuple[int, ...]
    search_reps: int
    search_rounds: int
    search_queries: int | None = None
    """Only the first this many search queries (None: all)."""
    cap: int | None = None
    """The most calls of a scan-bound row other than a search (None: as configured)."""
    reason: str | None = None
    """Why the rows are limited, for the report; None when they are not."""

    def search_calls(self, concurrency: int) -> int:
        return self.search_reps if concurrency == 1 else self.search_rounds * concurrency

    def calls(self, requests: int) -> int:
        """Calls of a scan-bound row that would make ``requests`` unlimited."""
        return requests if self.cap is None else min(requests, self.cap)

    def select(self, items: Sequence[Any]) -> list[Any]:
        """The search queries that run."""
        return list(items if self.search_queries is None else items[: self.search_queries])


def scan_policy(
    size: int | None, ferretdb: bool, options: ScanOptions, scan_seconds: float | None = None
) -> ScanPolicy:
    """The scan-bound rows at ``size``.

    On MongoDB (indexes answer the searches), with ``--full-scans``, or on a store the bench
    did not fill (``size`` None): everything as configured. On FerretDB's SQLite backend
    every search, conditional create and other scan-bound call reads the whole store (about
    ``scan_seconds`` raw, a few times that over HTTP, and no faster with more clients on a
    small machine), so there they run at concurrency 1 only, once per search query, and at
    most ``cap`` calls per other row; above ``sample_above`` resources only a sample runs:
    the first search query and one call of each other scan-bound row.
    """
    full = ScanPolicy(options.concurrency, options.search_reps, options.search_rounds)
    if not ferretdb or options.full_scans or size is None:
        return full
    sampled = size > options.sample_above
    measured = (
        f"a raw count of the whole store took {scan_seconds:.1f}s"
        if scan_seconds is not None
        else "each reads every document"
    )
    what = (
        "the first search query once and one call of each other scan-bound row"
        if sampled
        else f"each search query once and at most {options.cap} calls of each other scan-bound row"
    )
    lowest = min(options.concurrency)
    reason = (
        f"size {size:,}: FerretDB reads the whole store for every search, conditional create "
        f"and other scan-bound call ({measured}; over HTTP a search costs a few such reads), "
        f"so these run at concurrency {lowest} only: {what}; --full-scans runs them all"
    )
    return ScanPolicy(
        concurrency=(lowest,),
        search_reps=1,
        search_rounds=options.search_rounds,
        search_queries=1 if sampled else None,
        cap=1 if sampled else options.cap,
        reason=reason,
    )
