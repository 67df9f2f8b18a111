"""Time the care-manager queries (``params.queries``) and reads on one server.

Each query runs once untimed on a patient of its own (a warm-up that also fills caches such
as HAPI's search cache for *that* patient only), then once per repetition, each with the
repetition's patient. The matches are counted apart, untimed, with ``_summary=count``, so
every server is compared on the same numbers whatever it puts in ``Bundle.total`` by
default. ``$everything`` is walked to its last page: each page is a call of its own row, the
walk one call of another. Then ``GET [type]/[id]`` of the resources of the first walk that
returned some, at each concurrency.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.realistic.checks import total
from bench.realistic.data import SYNTHEA_SYSTEM
from bench.realistic.load import first_diagnostics
from bench.realistic.params import (
    EVERYTHING,
    EVERYTHING_QUERY,
    PAGE2,
    QUERY_ORDER,
    Pick,
    Query,
    queries,
)
from bench.report import Stats, percentile
from bench.runner import run_concurrent

MAX_PAGES = 2000
"""A walk stops there: a server whose ``next`` links never end must not hang the run."""


class QueryError(RuntimeError):
    """One call failed; the repetition counts as an error and the run goes on."""


@dataclass
class Measured:
    """One row's calls on one server."""

    name: str
    example: str = ""
    latencies_ms: list[float] = field(default_factory=list)
    matches: list[int | None] = field(default_factory=list)
    """Per repetition: the count of matches (``$everything``: entries over all pages)."""
    included: int = 0
    calls: int = 0
    errors: int = 0
    first_error: str | None = None
    throughput: float | None = None

    def failed(self, problem: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or problem

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies_ms, 50) if self.latencies_ms else None

    @property
    def p99_ms(self) -> float | None:
        return percentile(self.latencies_ms, 99) if self.latencies_ms else None

    @property
    def matched(self) -> int | None:
        """Matches summed over the repetitions, None when one is unknown."""
        if not self.matches or any(m is None for m in self.matches):
            return None
        return sum(m for m in self.matches if m is not None)


def entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return bundle.get("entry") or []


def next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def on_base(base_url: str, link: str) -> str:
    """``link`` sent to the server measured: a server that writes another host or port in
    its links (its configured address) is still asked at ``base_url``."""
    base, url = httpx.URL(base_url), httpx.URL(link)
    if url.scheme and (url.host, url.port) != (base.host, base.port):
        url = url.copy_with(scheme=base.scheme, host=base.host, port=base.port)
    return str(url)


def failure(response: httpx.Response) -> QueryError:
    """The status and the first issue first: a cursor can make the URL long."""
    try:
        detail = first_diagnostics(response.json())
    except ValueError:
        detail = response.text[:200]
    return QueryError(f"{response.status_code} {detail} (GET {str(response.url)[:160]})")


async def get_json(
    http: httpx.AsyncClient, url: str, params: Sequence[tuple[str, str]] = ()
) -> Any:
    response = await http.get(url, params=list(params) if params else None)
    if response.status_code != 200:
        raise failure(response)
    return response.json()


async def timed_get(
    http: httpx.AsyncClient, url: str, params: Sequence[tuple[str, str]] = ()
) -> tuple[float, Any]:
    """(milliseconds, parsed body): the time covers the request and reading the body."""
    start = time.perf_counter()
    response = await http.get(url, params=list(params) if params else None)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise failure(response)
    return elapsed, response.json()


async def patient_id(http: httpx.AsyncClient, synthea_id: str) -> str:
    """The server's id of the Patient with this Synthea identifier."""
    bundle = await get_json(http, "Patient", [("identifier", f"{SYNTHEA_SYSTEM}|{synthea_id}")])
    found = [e["resource"]["id"] for e in entries(bundle) if e.get("resource", {}).get("id")]
    if len(found) != 1:
        raise QueryError(f"{len(found)} Patients with Synthea identifier {synthea_id}")
    return str(found[0])


@dataclass
class ServerRun:
    """Everything measured on one server."""

    rows: dict[str, Measured] = field(default_factory=dict)
    read_targets: list[str] = field(default_factory=list)

    def row(self, name: str) -> Measured:
        return self.rows.setdefault(name, Measured(name))


async def run_search(http: httpx.AsyncClient, query: Query, row: Measured | None) -> None:
    ms, bundle = await timed_get(http, query.path, query.params)
    matches = await total(http, query.path, query.count_params)
    if row is not None:
        row.latencies_ms.append(ms)
        row.matches.append(matches)
        row.included += sum(
            1 for e in entries(bundle) if (e.get("search") or {}).get("mode") == "include"
        )


async def run_page2(
    http: httpx.AsyncClient, base_url: str, query: Query, row: Measured | None
) -> None:
    first = await get_json(http, query.path, query.params)
    link = next_link(first)
    if link is None:
        raise QueryError(f"{query.example}: no next link on page 1")
    ms, _ = await timed_get(http, on_base(base_url, link))
    matches = await total(http, query.path, query.count_params)
    if row is not None:
        row.latencies_ms.append(ms)
        row.matches.append(matches)


async def run_everything(
    http: httpx.AsyncClient,
    base_url: str,
    query: Query,
    pages: Measured | None,
    walk: Measured | None,
    targets: list[str] | None,
) -> None:
    """Walk every page; page times go to ``pages``, the whole walk to ``walk``."""
    url: str | None = query.path
    params: Sequence[tuple[str, str]] = query.params
    page_ms: list[float] = []
    count = 0
    start = time.perf_counter()
    while url is not None:
        if len(page_ms) == MAX_PAGES:
            raise QueryError(f"{query.example}: more than {MAX_PAGES} pages")
        ms, bundle = await timed_get(http, url, params)
        page_ms.append(ms)
        found = entries(bundle)
        count += len(found)
        if targets is not None:
            for entry in found:
                resource = entry.get("resource") or {}
                if resource.get("resourceType") and resource.get("id"):
                    targets.append(f"{resource['resourceType']}/{resource['id']}")
        link = next_link(bundle)
        url, params = (on_base(base_url, link) if link else None), ()
    walk_ms = (time.perf_counter() - start) * 1000
    if pages is not None and walk is not None:
        pages.latencies_ms += page_ms
        pages.matches.append(count)
        pages.calls += len(page_ms) - 1
        walk.latencies_ms.append(walk_ms)
        walk.matches.append(count)


EVERYTHING_PAGE, EVERYTHING_WALK = "$everything page", "$everything walk"
EVERYTHING_ROWS = (EVERYTHING_PAGE, EVERYTHING_WALK)


async def run_query(
    http: httpx.AsyncClient,
    base_url: str,
    query: Query,
    run: ServerRun | None,
    targets: list[str] | None = None,
) -> None:
    """One call of ``query``; ``run`` None is a warm-up (nothing recorded)."""
    if query.kind == EVERYTHING:
        pages = run.row(EVERYTHING_PAGE) if run else None
        walk = run.row(EVERYTHING_WALK) if run else None
        await run_everything(http, base_url, query, pages, walk, targets)
    elif query.kind == PAGE2:
        await run_page2(http, base_url, query, run.row(query.name) if run else None)
    else:
        await run_search(http, query, run.row(query.name) if run else None)


def rows_of(query: Query) -> tuple[str, ...]:
    return EVERYTHING_ROWS if query.kind == EVERYTHING else (query.name,)


async def resolve(http: httpx.AsyncClient, picks: Sequence[Pick]) -> dict[str, str | QueryError]:
    """Each picked patient's id on this server, or why it has none (its bundle failed)."""
    ids: dict[str, str | QueryError] = {}
    for pick in picks:
        key = pick.patient.synthea_id
        if key not in ids:
            try:
                ids[key] = await patient_id(http, key)
            except (QueryError, httpx.HTTPError, ValueError) as exc:
                ids[key] = QueryError(f"patient {key}: {exc}")
    return ids


async def measure_queries(
    http: httpx.AsyncClient,
    base_url: str,
    reps: Sequence[Pick],
    warm: Pick,
    everything_count: int,
    say: Callable[[str], None],
) -> ServerRun:
    """Warm up with ``warm``, then each query once per pick in ``reps``, query by query; a
    repetition whose patient the server lacks counts as failed on every query."""
    run = ServerRun()
    ids = await resolve(http, [warm, *reps])

    def plan(pick: Pick) -> list[Query] | QueryError:
        found = ids[pick.patient.synthea_id]
        return found if isinstance(found, QueryError) else queries(pick, found, everything_count)

    warm_plan, plans = plan(warm), [plan(pick) for pick in reps]
    for name in QUERY_ORDER:
        say(f"{name}: warm-up, then {len(plans)} calls")
        for query in [] if isinstance(warm_plan, QueryError) else warm_plan:
            if query.name != name:
                continue
            try:
                await run_query(http, base_url, query, None)
            except (QueryError, httpx.HTTPError, ValueError) as exc:
                say(f"{name}: warm-up failed: {exc}")
        for rep in plans:
            if isinstance(rep, QueryError):
                for row in EVERYTHING_ROWS if name == EVERYTHING_QUERY else (name,):
                    run.row(row).calls += 1
                    run.row(row).failed(str(rep))
                continue
            for query in (q for q in rep if q.name == name):
                for row in rows_of(query):
                    run.row(row).example = run.row(row).example or query.example
                    run.row(row).calls += 1
                # the reads use the first walk that returned something
                targets = None if run.read_targets else run.read_targets
                try:
                    await run_query(http, base_url, query, run, targets)
                except (QueryError, httpx.HTTPError, ValueError) as exc:
                    for row in rows_of(query):
                        run.row(row).failed(str(exc)[:300])
    return run


async def measure_reads(
    http: httpx.AsyncClient, targets: Sequence[str], requests: int, concurrency: int
) -> Measured:
    """``GET [type]/[id]`` of ``targets`` in turn, ``requests`` calls at ``concurrency``."""
    row = Measured(f"read c={concurrency}", example="[type]/[id] of a $everything walk's resources")
    if not targets:
        row.failed("no resources to read: $everything returned none")
        return row

    async def read(index: int) -> str | None:
        response = await http.get(targets[index % len(targets)])
        return None if response.status_code == 200 else f"{response.status_code}"

    outcome = await run_concurrent(requests, concurrency, read)
    stats = Stats.of(outcome)
    row.calls, row.errors, row.first_error = requests, outcome.errors, outcome.first_error
    row.latencies_ms = [seconds * 1000 for seconds in outcome.latencies]
    row.throughput = stats.throughput
    return row
