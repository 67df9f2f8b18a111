"""``python -m bench``: every row at each data size, over HTTP beside raw pymongo.

The tables are printed and saved under ``bench/results/``.

For each size of ``--sizes`` (default 10,000 and 100,000) the store is first brought to
that many resources: what is missing is loaded straight into fhircare's database as one more
layer of the care-management population (``population.py``, ``search_data.py``), bypassing
HTTP on purpose, and the raw side's collection is filled to the same count with documents
of its own shape holding the same resources. Then every row runs at that size, over HTTP
and beside it done the same way with raw pymongo on the same store:

* the search section (``search_bench.py``): each care-manager query (patient+status,
  category, date range, owner, focus, chained subject name, ``_include``, page 2) beside
  the raw pymongo query it compiles to;
* ``cond create`` (``If-None-Exist``; raw: ``find_one`` then ``insert_one``) and
  ``$everything`` of a patient, every page (raw: the patient by ``_id``, the compartment
  query the store sends, page by page, and each referenced resource by ``_id``);
* ``create``, ``read``, ``update`` (raw: ``replace_one``), ``history`` of one resource
  (raw: its ``find_one``), ``transaction`` (a bundle of ``--transaction-entries``
  creates; raw: one ``insert_many``);

each at every ``--concurrency`` (default 1 and 32). The scan-bound ones (the first two
groups) run first, while the store holds exactly the size, and on FerretDB as the scan
policy allows (``plan.scan_policy``: each of their calls reads the whole store there; the
report prints why and the measured time of one such read; ``--full-scans`` runs them all).
The tables have a ``size`` column; the server's peak memory is given after each size. On
FerretDB with two CPUs the default run takes about an hour (55 minutes, a quarter of it
one $everything call at 100k).

Last, the validation section (``validation_bench.py``): the cost of each validation engine
per KB in this process, and the server's own ``validate`` time per write (its
``Server-Timing`` header, which the bench turns on for the server it starts) against the
latency the client sees.

With ``--base-url`` the bench cannot load another server's store: the rows run once on the
store as it is (size ``-``), without the search section and the rows that need the
population. Progress goes to stderr, the tables to stdout. Exit status 1 when any call
failed or a search's match count differs from its raw query's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pymongo
from pymongo import MongoClient

from bench import http_load, raw_mongo, search_data
from bench.options import WARMUP, parse_args, requests_for, scan_options
from bench.plan import (
    RowContext,
    RowSpec,
    ScanPolicy,
    row_plan,
    scan_policy,
)
from bench.population import Population, Resource, population
from bench.report import (
    Report,
    Row,
    SearchRow,
    SearchSection,
    Stats,
    fmt_size,
    render,
    render_search,
    search_json,
    to_json,
)
from bench.runner import Outcome, run_concurrent
from bench.search_bench import NOTES as SEARCH_NOTES
from bench.search_bench import SEARCH_TIMEOUT, search_rows, warm
from bench.servers import VAR_DIR, FhircareServer, mongo_store, redact
from bench.validation_bench import (
    ValidationSection,
    render_validation,
    validation_json,
    validation_section,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"


class BenchError(RuntimeError):
    """A run that cannot produce a meaningful table."""


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def command_line() -> str:
    """The command that produced this run, with MONGODB_URI (redacted) when it was set."""
    argv = getattr(sys, "orig_argv", None) or [sys.executable, "-m", "bench", *sys.argv[1:]]
    uri = os.environ.get("MONGODB_URI")
    prefix = f"MONGODB_URI={shlex.quote(redact(uri))} " if uri else ""
    return prefix + shlex.join(argv)


def metadata_url(http: httpx.AsyncClient) -> str:
    return f"{str(http.base_url).rstrip('/')}/metadata"


async def describe_server(http: httpx.AsyncClient) -> str:
    """``name version`` from the CapabilityStatement, as far as the server says."""
    try:
        response = await http.get("/metadata")
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise BenchError(f"GET {metadata_url(http)} failed: {exc}") from exc
    software = response.json().get("software") or {}
    return " ".join(str(software[k]) for k in ("name", "version") if software.get(k)) or "unknown"


@dataclass
class SizeInfo:
    """How the store was brought to one size, and the scan policy there."""

    size: int | None
    store_before: int | None = None
    loaded: int = 0
    load_seconds: float | None = None
    validated: int = 0
    raw_inserted: int = 0
    store_after: int | None = None
    scan_seconds: float | None = None
    """How long the raw count of the whole store took once it held the size."""
    mix: dict[str, int] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)

    def note(self) -> str | None:
        if self.size is None or self.store_before is None:
            return None
        if self.loaded:
            done = (
                f"{self.loaded:,} loaded in {self.load_seconds:.1f}s on top of "
                f"{self.store_before:,} ({self.validated} sampled resources validated first)"
            )
        else:
            done = f"nothing loaded: the store held {self.store_before:,} already"
        mix = ", ".join(f"{v:,} {k}" for k, v in self.mix.items())
        population = f"{sum(self.mix.values()):,} of them the population ({mix})" if mix else ""
        return (
            f"size {self.size:,}: {done}; {self.store_after:,} resources then"
            f"{', ' + population if population else ''}, the rest made by earlier rows; "
            f"the raw side filled to the same count ({self.raw_inserted:,} inserted); "
            f"a raw count of the whole store took {self.scan_seconds:.1f}s"
        )


@dataclass
class Measured:
    rows: list[Row]
    search: list[SearchRow]
    software: str
    store: str
    notes: list[str]
    search_notes: list[str]
    sizes: list[SizeInfo]
    peaks: list[tuple[int | None, int | None]]


@dataclass
class Job:
    """One row to run at a size: a RowSpec at a concurrency with its number of calls."""

    spec: RowSpec
    concurrency: int
    requests: int


def jobs_at(
    plan: list[RowSpec],
    args: argparse.Namespace,
    policy: ScanPolicy,
    populated: bool,
) -> list[Job]:
    """The rows of one size in the order they run: the scan-bound ones first (while the
    store holds exactly the size), as ``policy`` allows; rows that need the population
    only when it was loaded."""
    jobs: list[Job] = []
    for scan_bound in (True, False):
        for spec in plan:
            if spec.scan_bound != scan_bound or (spec.needs_population and not populated):
                continue
            concurrencies = policy.concurrency if scan_bound else tuple(args.concurrency)
            for concurrency in concurrencies:
                n = spec.requests or requests_for(concurrency, args.requests)
                jobs.append(Job(spec, concurrency, policy.calls(n) if scan_bound else n))
    return jobs


async def measure(
    args: argparse.Namespace,
    uri: str,
    base_url: str,
    database: str | None,
    raw_database: str,
    run_id: str,
    peak: Callable[[], int | None],
) -> Measured:
    """Warm up, then at each size: fill the store, then every row."""
    connections = max(args.concurrency)
    options = scan_options(args)
    plan = row_plan(args.transactions, args.transaction_entries, args.conditional_creates)
    order = {spec.name: n for n, spec in enumerate(plan)}
    measured = Measured([], [], "", "", [], [], [], [])
    mongo = raw_mongo.client(uri, connections)
    try:
        ferretdb, store_name = await raw_mongo.describe_store(mongo)
        raw = mongo[raw_database][raw_mongo.COLLECTION]
        store = mongo[database] if database else None
        current = store[search_data.CURRENT] if store is not None else None
        async with http_load.client(base_url, connections) as http:
            measured.software = await describe_server(http)
            measured.store = store_name
            ctx = RowContext(http, raw, store, [], ferretdb, None, run_id)
            progress(f"warming up: {WARMUP} creates over HTTP and {WARMUP} with pymongo")
            warmed = await run_concurrent(
                WARMUP, 1, http_load.create_operation(http, ctx.server_ids)
            )
            if warmed.errors:
                raise BenchError(f"the server fails creates: {warmed.first_error}")
            await run_concurrent(WARMUP, 1, raw_mongo.create_operation(raw, ctx.raw_ids))
            sizes: list[int | None] = list(args.sizes) if store is not None else [None]
            if store is None:
                measured.notes.append(
                    "--base-url: the bench does not fill another server's store, so the rows "
                    "ran once on the store as it was (size -), without the search section and "
                    "the rows that need the population"
                )
            filler = (
                Filler(uri, database, raw_database, base_url, args.seed)
                if database is not None
                else None
            )

            async def warm_searches(first: Population) -> None:
                if current is not None:
                    progress("warming up the search queries (store nearly empty)")
                    await warm(http, current, first, args.seed)

            for size in sizes:
                info = SizeInfo(size)
                if filler is not None and size is not None:
                    await filler.bring_to(size, info, warm_searches)
                pop = filler.population if filler is not None else None
                policy = scan_policy(size, ferretdb, options, info.scan_seconds)
                info.policy = {**asdict(policy), "concurrency": list(policy.concurrency)}
                measured.sizes.append(info)
                if policy.reason:
                    progress(f"scan policy: {policy.reason}")
                if pop is not None and current is not None and size is not None:
                    rows, notes = await search_rows(
                        http, current, pop, size, policy, args.seed, progress
                    )
                    measured.search += rows
                    measured.search_notes += notes
                ctx.patients = pop.patients if pop is not None else []
                ctx.size = size
                jobs = jobs_at(plan, args, policy, pop is not None)
                for n, job in enumerate(jobs, 1):
                    label = f"size {fmt_size(size)} [{n}/{len(jobs)}] {job.spec.name}"
                    row = await run_row(ctx, job, label, f"{run_id}-{size}-{n}", measured.notes)
                    measured.rows.append(row)
                measured.peaks.append((size, peak()))
    finally:
        await mongo.close()
    position = {size: n for n, size in enumerate(args.sizes)}
    measured.rows.sort(key=lambda r: (position.get(r.size, -1), order[r.operation], r.concurrency))
    return measured


@dataclass
class Filler:
    """Brings fhircare's store to each size in turn, and the raw collection to the same
    count; ``population`` is every layer loaded so far."""

    uri: str
    database: str
    raw_database: str
    base_url: str
    seed: int
    population: Population | None = None
    layers: int = 0

    async def bring_to(
        self, size: int, info: SizeInfo, first: Callable[[Population], Awaitable[None]]
    ) -> None:
        """Load what is missing as the next layer (``first`` sees the first layer before it
        is loaded), fill the raw side, then count the store (timing a whole scan)."""
        found, _ = await asyncio.to_thread(
            raw_mongo.timed_count, self.uri, self.database, search_data.CURRENT
        )
        info.store_before = found
        n = search_data.layer_size(found, size)
        resources: list[Resource] = []
        if n:
            progress(
                f"size {size:,}: the store holds {found:,}; generating {n:,} resources "
                f"(seed {self.seed}, layer {self.layers})"
            )
            layer = await asyncio.to_thread(population, n, self.seed, self.layers)
            if self.population is None:
                await first(layer)
            loaded = await asyncio.to_thread(
                search_data.load,
                self.uri,
                self.database,
                layer,
                self.base_url.rstrip("/"),
                progress,
            )
            info.loaded, info.load_seconds = loaded.resources, loaded.wall_seconds
            info.validated = loaded.validated
            self.population = layer if self.population is None else self.population.combined(layer)
            self.layers += 1
            resources = layer.resources
        info.raw_inserted = await asyncio.to_thread(
            raw_mongo.fill, self.uri, self.raw_database, resources, found + info.loaded, progress
        )
        info.store_after, info.scan_seconds = await asyncio.to_thread(
            raw_mongo.timed_count, self.uri, self.database, search_data.CURRENT
        )
        info.mix = self.population.counts() if self.population is not None else {}
        progress(info.note() or "")


async def run_row(ctx: RowContext, job: Job, label: str, key: str, notes: list[str]) -> Row:
    """One row: the HTTP side, then the raw side, each with a fresh operation."""
    ctx.key = key
    http = ctx.http
    saved = http.timeout
    if job.spec.timeout is not None or job.spec.scan_bound:
        http.timeout = httpx.Timeout(job.spec.timeout or SEARCH_TIMEOUT)
    try:
        progress(f"{label} concurrency={job.concurrency} requests={job.requests}: HTTP…")
        server = await run_concurrent(job.requests, job.concurrency, job.spec.http(ctx))
        progress(f"{label} concurrency={job.concurrency}: raw")
        raw = await run_concurrent(job.requests, job.concurrency, job.spec.raw(ctx))
    finally:
        http.timeout = saved
    row = Row(job.spec.name, job.concurrency, Stats.of(server), Stats.of(raw), ctx.size)
    progress(
        f"      {row.server.throughput:,.1f} req/s over HTTP, {row.raw.throughput:,.1f} req/s raw"
    )
    for side, outcome in (("server", server), ("raw", raw)):
        if outcome.errors:
            notes.append(error_note(job.spec.name, ctx.size, side, outcome))
            progress(notes[-1])
    return row


def error_note(operation: str, size: int | None, side: str, outcome: Outcome) -> str:
    return (
        f"errors: {operation} size {fmt_size(size)} concurrency={outcome.concurrency} {side}: "
        f"{outcome.errors} of {outcome.requests}; first: {outcome.first_error}"
    )


def run_async(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run on uvloop where it is installed (it comes with uvicorn[standard]), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def drop_databases(uri: str, names: list[str]) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        for name in names:
            client.drop_database(name)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (a stopped run) unwinds like Ctrl-C, so the server and FerretDB it started stop
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = datetime.now(UTC).replace(microsecond=0)
    clock = time.monotonic()
    run_id = secrets.token_hex(4)
    run_dir = VAR_DIR / "bench" / run_id
    fhircare_database = f"bench_{run_id}"
    raw_database = f"bench_raw_{run_id}"
    server: FhircareServer | None = None
    measured: Measured | None = None
    validation: ValidationSection | None = None
    peak_kib: int | None = None
    processes = 0
    failed = False

    def peak() -> int | None:
        return server.peak_memory_kib()[0] if server is not None else None

    with mongo_store(run_dir) as (uri, store):
        try:
            if args.base_url is None:
                # the validation section reads the server's own timing of each write
                os.environ["FHIRCARE_SERVER_TIMING"] = "true"
                server = FhircareServer(
                    uri, fhircare_database, args.workers, run_dir / "fhircare.log"
                )
                progress(f"starting fhircare ({args.workers} worker(s)) on port {server.port}")
                base_url = server.start().base_url
            else:
                base_url = args.base_url
            measured = run_async(
                measure(
                    args,
                    uri,
                    base_url,
                    fhircare_database if server is not None else None,
                    raw_database,
                    run_id,
                    peak,
                )
            )
            validation = run_async(validation_section(base_url, progress))
            if server is not None:
                peak_kib, processes = server.peak_memory_kib()
        except RuntimeError as exc:  # BenchError, or the server would not start
            progress(f"failed: {exc}")
            failed = True
        finally:
            if server is not None:
                server.stop()
            drop_databases(uri, [raw_database] + ([fhircare_database] if server else []))
    if failed and server is not None:
        shutil.rmtree(run_dir / "ferretdb", ignore_errors=True)
        progress(f"server log kept in {server.log_path}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    if failed or measured is None:
        return 2

    if server is not None:
        described = (
            f"{measured.software} at {base_url}, {args.workers} worker(s), started by the bench"
        )
    else:
        described = f"{measured.software} at {base_url} (--base-url)"
    minutes = (time.monotonic() - clock) / 60
    policies = [str(info.policy["reason"]) for info in measured.sizes if info.policy["reason"]]
    notes = [
        *(note for info in measured.sizes if (note := info.note())),
        *(f"scan policy: {reason}" for reason in policies),
        *measured.notes,
        f"client and server share this machine: {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {len(http_load.BODY.encode())}-byte Observation; "
        f"the run took {minutes:.0f} min",
        f"{WARMUP} untimed creates per side first; at each size the scan-bound rows ran "
        "first, then the rest (which add resources); p50/p99 are of successful calls; "
        "errors = server+raw; raw documents are {_id, json}: smaller than fhircare's stored "
        "ones, which carry the search index entries",
    ]
    report = Report(
        timestamp=started.isoformat().replace("+00:00", "Z"),
        command=command_line(),
        server=described,
        store=f"{store}; buildInfo: {measured.store}",
        rows=measured.rows,
        server_peak_kib=peak_kib,
        server_processes=processes,
        notes=notes,
        peak_by_size=measured.peaks if server is not None else [],
    )
    search: SearchSection | None = None
    if measured.search:
        search = SearchSection(
            measured.search,
            f"search: the care-manager queries on the population at each size (seed "
            f"{args.seed}); {args.search_reps} call(s) per query at concurrency 1 and "
            f"{args.search_rounds} x C at a concurrency C above 1, unless the scan policy "
            "above says otherwise",
            [*SEARCH_NOTES, *measured.search_notes],
        )
    print(render(report))
    if search is not None:
        print()
        print(render_search(search))
    if validation is not None:
        print()
        print(render_validation(validation))
    extra: dict[str, Any] = {
        "config": {
            "sizes": args.sizes if server else None,
            "concurrency": args.concurrency,
            "requests": {c: requests_for(c, args.requests) for c in args.concurrency},
            "workers": args.workers if server else None,
            "base_url": args.base_url,
            "warmup": WARMUP,
            "body_bytes": len(http_load.BODY.encode()),
            "transactions": args.transactions,
            "transaction_entries": args.transaction_entries,
            "conditional_creates": args.conditional_creates,
            "search_reps": args.search_reps,
            "search_rounds": args.search_rounds,
            "full_scans": args.full_scans,
            "scan_cap": args.scan_cap,
            "sample_scans_above": args.sample_scans_above,
            "seed": args.seed,
        },
        "sizes": [asdict(info) for info in measured.sizes],
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "httpx": httpx.__version__,
            "pymongo": pymongo.version,
            "minutes": round(minutes, 1),
        },
    }
    if search is not None:
        extra["search"] = search_json(search)
    if validation is not None:
        extra["validation"] = validation_json(validation)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(to_json(report, extra), indent=2) + "\n")
    progress(f"saved {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    search_failed = any(r.server.errors or r.raw.errors for r in measured.search) or any(
        n.startswith("MISMATCH") for n in measured.search_notes
    )
    return 1 if search_failed or any(r.server.errors or r.raw.errors for r in measured.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
