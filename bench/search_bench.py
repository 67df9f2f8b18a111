"""The search section: load the population, then time each query over HTTP and raw.

Concurrency 1 throughout: each query runs ``reps`` times over HTTP (each repetition with
other patients, owners or plans), then ``reps`` times as its raw pymongo query on the same
collection. Matches are then counted on both sides (untimed) and must agree for every
query that is not a chain (a chain's first step is capped by the server's fan-out limit).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from bench import http_load, raw_mongo, search_data
from bench.population import population
from bench.report import SearchRow, SearchSection, Stats
from bench.runner import run_concurrent
from bench.search_queries import (
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

SEARCH_TIMEOUT = 600.0
"""Seconds one search may take over HTTP: whole-collection scans on FerretDB are slow."""


async def search_section(
    uri: str,
    database: str,
    base_url: str,
    size: int,
    reps: int,
    seed: int,
    progress: Callable[[str], None],
) -> SearchSection:
    progress(f"search data: generating {size:,} resources (seed {seed})")
    pop = population(size, seed)
    counts = pop.counts()
    loaded = await asyncio.to_thread(
        search_data.load, uri, database, pop, base_url.rstrip("/"), progress
    )
    progress(
        f"search data: {loaded.resources:,} loaded in {loaded.wall_seconds:.1f}s "
        f"(index entries {loaded.index_seconds:.1f}s, insert_many {loaded.insert_seconds:.1f}s)"
    )
    plan = queries(pop, reps, seed)
    for query in plan:
        query.compiled = [compile_query(query.resource_type, pairs) for pairs in query.params]
    rows: list[SearchRow] = []
    notes: list[str] = []
    mongo = raw_mongo.client(uri, 1)
    try:
        collection = mongo[database][search_data.CURRENT]
        async with http_load.client(base_url, 1) as http:
            http.timeout = httpx.Timeout(SEARCH_TIMEOUT)
            # warm both sides on a query of each type (first-call imports, caches)
            for query in plan[:1]:
                await http_operation(http, query, Seen())(0)
                await raw_operation(collection, query, Seen())(0)
            for n, query in enumerate(plan, 1):
                label = f"search [{n}/{len(plan)}] {query.name}"
                links: list[str] | None = None
                after: list[str] | None = None
                if query.page2:
                    links = [await next_link(http, query, r) for r in range(reps)]
                    after = [await page1_last(collection, c) for c in query.compiled]
                progress(f"{label}: HTTP x{reps}…")
                server_seen, raw_seen = Seen(), Seen()
                server = await run_concurrent(
                    reps, 1, http_operation(http, query, server_seen, links)
                )
                progress(f"{label}: raw x{reps}…")
                raw = await run_concurrent(
                    reps, 1, raw_operation(collection, query, raw_seen, after)
                )
                totals = [await raw_total(collection, c) for c in query.compiled]
                row = SearchRow(
                    query=query.name,
                    example=query.url(0) + (" (then its next link)" if query.page2 else ""),
                    raw_query=shown(query.compiled[0]),
                    server=Stats.of(server),
                    raw=Stats.of(raw),
                    server_page=server_seen.page,
                    raw_page=raw_seen.page,
                    server_total=server_seen.total,
                    raw_total=sum(totals),
                    server_included=server_seen.included,
                    raw_included=raw_seen.included,
                )
                rows.append(row)
                progress(
                    f"      p50 {row.server.p50_ms or 0:.1f} ms over HTTP, "
                    f"{row.raw.p50_ms or 0:.1f} ms raw; matches {row.server_total}/{row.raw_total}"
                )
                for side, outcome in (("server", server), ("raw", raw)):
                    if outcome.errors:
                        notes.append(
                            f"errors: search {query.name} {side}: {outcome.errors} of "
                            f"{outcome.requests}; first: {outcome.first_error}"
                        )
                        progress(notes[-1])
                wrong = (
                    row.server_total != row.raw_total
                    if query.exact
                    else (row.server_total > row.raw_total)
                )
                if not server.errors and wrong:
                    notes.append(
                        f"MISMATCH: {query.name}: the server counted {row.server_total} matches, "
                        f"the raw filter {row.raw_total}"
                    )
                    progress(notes[-1])
    finally:
        await mongo.close()
    mix = ", ".join(f"{v:,} {k}" for k, v in counts.items())
    heading = (
        f"search: {loaded.resources:,} resources ({mix}), seed {seed}; "
        f"concurrency 1, {reps} repetitions per query"
    )
    notes = [
        f"search data loaded straight into the store in {loaded.wall_seconds:.1f}s "
        f"({loaded.resources / loaded.wall_seconds:,.0f}/s: index entries "
        f"{loaded.index_seconds:.1f}s, insert_many {loaded.insert_seconds:.1f}s), bypassing "
        f"HTTP on purpose; {loaded.validated} sampled resources validated",
        "raw = the prefilter the store sends, find().sort(_id).limit(_count), without the "
        "exact predicate, the total count or the Bundle; matches = Bundle.total vs "
        "count_documents (untimed), equal where the prefilter is exact; the date range's and the "
        "chain's raw count may be larger (a prefilter is a necessary condition); "
        "page = entries returned",
        *notes,
    ]
    return SearchSection(rows, heading, notes)
