"""The search section: each query over HTTP and as raw pymongo, at each size and concurrency.

At each size the population is in the store already (``__main__`` loads it); the queries
name its patients, owners and plans. At concurrency 1 a query runs ``search_reps`` times
(each call with other patients, owners or plans), at a concurrency C above 1 rounds x C
times cycling through the same parameter sets, first over HTTP, then as its raw pymongo
query on the same collection; the scan policy (``plan.scan_policy``) may run fewer. Matches
are counted on both sides (untimed, once per parameter set and size) and must agree for
every query that is not a chain (a chain's first step is capped by the server's fan-out
limit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import httpx
from pymongo.asynchronous.collection import AsyncCollection

from bench.plan import ScanPolicy
from bench.population import Population
from bench.report import SearchRow, Stats, fmt_size
from bench.runner import Outcome, run_concurrent
from bench.search_queries import (
    Document,
    Query,
    Seen,
    compile_query,
    http_operation,
    next_link,
    page1_last,
    queries,
    raw_operation,
    raw_total,
    shown,
)

SEARCH_TIMEOUT = 3600.0
"""Seconds one search may take over HTTP: whole-collection scans on FerretDB are slow, and
with many clients on a small machine each waits for the others'."""

NOTES = [
    "search: raw = the prefilter the store sends, find().sort(_id).limit(_count), without "
    "the exact predicate, the total count or the Bundle; matches = Bundle.total vs "
    "count_documents (untimed), equal where the prefilter is exact; the date range's and the "
    "chain's raw count may be larger (a prefilter is a necessary condition); "
    "page = entries returned; at concurrency C above 1 the calls cycle through the "
    "parameter sets of concurrency 1",
]


def compiled_queries(pop: Population, sets: int, seed: int) -> list[Query]:
    """The queries with ``sets`` parameter sets each, compiled to their raw filters."""
    plan = queries(pop, sets, seed)
    for query in plan:
        query.compiled = [compile_query(query.resource_type, pairs) for pairs in query.params]
    return plan


async def warm(
    http: httpx.AsyncClient, collection: AsyncCollection[Document], pop: Population, seed: int
) -> None:
    """One call of each query on each side (first-call imports, caches); meant for a store
    that is still nearly empty, where it costs next to nothing."""
    for query in compiled_queries(pop, 1, seed):
        await http_operation(http, query, Seen())(0)
        await raw_operation(collection, query, Seen())(0)


async def search_rows(
    http: httpx.AsyncClient,
    collection: AsyncCollection[Document],
    pop: Population,
    size: int,
    policy: ScanPolicy,
    seed: int,
    progress: Callable[[str], None],
) -> tuple[list[SearchRow], list[str]]:
    """Every search row at ``size`` as ``policy`` allows; returns the rows and notes
    (errors, and a MISMATCH note for each disagreeing match count)."""
    plan = policy.select(compiled_queries(pop, policy.search_reps, seed))
    rows: list[SearchRow] = []
    notes: list[str] = []
    saved = http.timeout
    http.timeout = httpx.Timeout(SEARCH_TIMEOUT)
    try:
        for n, query in enumerate(plan, 1):
            label = f"size {size:,} search [{n}/{len(plan)}] {query.name}"
            links: list[str] | None = None
            after: list[str] | None = None
            if query.page2:
                progress(f"{label}: page 1 of each parameter set (untimed)…")
                walkable, links, problem = await page2_links(http, query)
                if walkable is None:
                    notes.append(f"skipped: {query.name} at size {size:,}: {problem}")
                    progress(notes[-1])
                    continue
                query = walkable
                after = [await page1_last(collection, c) for c in query.compiled]
            progress(f"{label}: raw match counts (untimed)…")
            totals = [await raw_total(collection, c) for c in query.compiled]
            for concurrency in policy.concurrency:
                calls = policy.search_calls(concurrency)
                step = f"{label} concurrency={concurrency}"
                progress(f"{step}: HTTP x{calls}…")
                server_seen, raw_seen = Seen(), Seen()
                server = await run_concurrent(
                    calls, concurrency, http_operation(http, query, server_seen, links)
                )
                progress(f"{step}: raw x{calls}…")
                raw = await run_concurrent(
                    calls, concurrency, raw_operation(collection, query, raw_seen, after)
                )
                row = SearchRow(
                    query=query.name,
                    example=query.url(0) + (" (then its next link)" if query.page2 else ""),
                    raw_query=shown(query.compiled[0]),
                    server=Stats.of(server),
                    raw=Stats.of(raw),
                    server_page=server_seen.page,
                    raw_page=raw_seen.page,
                    server_total=server_seen.total,
                    raw_total=sum(totals[i % len(totals)] for i in range(calls)),
                    server_included=server_seen.included,
                    raw_included=raw_seen.included,
                    concurrency=concurrency,
                    size=size,
                )
                rows.append(row)
                progress(
                    f"      p50 {row.server.p50_ms or 0:,.1f} ms over HTTP, "
                    f"{row.raw.p50_ms or 0:,.1f} ms raw; "
                    f"matches {row.server_total}/{row.raw_total}"
                )
                for note in row_notes(query, row, server, raw):
                    notes.append(note)
                    progress(note)
    finally:
        http.timeout = saved
    return rows, notes


async def page2_links(
    http: httpx.AsyncClient, query: Query
) -> tuple[Query | None, list[str], str | None]:
    """(the query with only the parameter sets whose page 1 has a next link, those links,
    the last problem); the query is None when no set has a page 2 (a small layer's
    practitioner may own fewer Tasks than ``_count``)."""
    keep: list[int] = []
    links: list[str] = []
    problem: str | None = None
    for rep in range(len(query.params)):
        try:
            links.append(await next_link(http, query, rep))
        except (RuntimeError, httpx.HTTPError) as exc:
            problem = str(exc)
            continue
        keep.append(rep)
    if not keep:
        return None, [], problem
    walkable = replace(
        query,
        params=[query.params[r] for r in keep],
        compiled=[query.compiled[r] for r in keep],
    )
    return walkable, links, problem


def row_notes(query: Query, row: SearchRow, server: Outcome, raw: Outcome) -> list[str]:
    """The errors of a search row, and a MISMATCH when its match counts disagree: they must
    be equal where the prefilter is exact, and the server's may not exceed the raw count."""
    where = f"size {fmt_size(row.size)} concurrency={row.concurrency}"
    notes = [
        f"errors: search {query.name} {where} {side}: {outcome.errors} of "
        f"{outcome.requests}; first: {outcome.first_error}"
        for side, outcome in (("server", server), ("raw", raw))
        if outcome.errors
    ]
    wrong = row.server_total != row.raw_total if query.exact else row.server_total > row.raw_total
    if not server.errors and wrong:
        notes.append(
            f"MISMATCH: {query.name} {where}: the server counted {row.server_total} matches, "
            f"the raw filter {row.raw_total}"
        )
    return notes
