"""``python -m bench``: run every row, print the table, save it under ``bench/results/``.

Rows are ``create``, ``read``, ``update`` (raw: ``replace_one``), ``history`` of one
resource (raw: its ``find_one``), ``transaction`` (a bundle of ``--transaction-entries``
creates; raw: one ``insert_many``) and ``cond create`` (``If-None-Exist``; raw: ``find_one``
then ``insert_one``) at each ``--concurrency``; each row is timed over HTTP and then done the
same way with raw pymongo on the same store. Then the search section
(``search_bench.py``): ``--search-size`` resources are loaded straight into fhircare's
database and each search query is timed over HTTP beside the raw pymongo query it compiles
to. With ``--base-url`` the search section is skipped: the bench cannot load data into
another server's store. Progress goes to stderr, the tables to stdout. Exit status 1 when
any call failed or a search's match count differs from its raw query's.
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
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pymongo
from pymongo import MongoClient

from bench import http_load, raw_mongo
from bench.report import (
    Report,
    Row,
    SearchSection,
    Stats,
    render,
    render_search,
    search_json,
    to_json,
)
from bench.runner import Operation, Outcome, run_concurrent
from bench.search_bench import search_section
from bench.servers import VAR_DIR, FhircareServer, mongo_store, redact

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_REQUESTS = {1: 500}
"""Requests per row by concurrency; any other concurrency gets DEFAULT_OTHER."""
DEFAULT_OTHER = 2000
WARMUP = 20
"""Untimed creates on each side before the first row (connections, caches, first-call imports)."""
DEFAULT_SEARCH_SIZE = 2_000
"""Not 100k: on FerretDB's SQLite backend every search scans the whole collection (about 1 s
per 5,000 resources raw, several times that over HTTP), see the report of the change."""
DEFAULT_SEARCH_REPS = 3
DEFAULT_CONDITIONAL_CREATES = 100
"""Not 1,000 by default: on FerretDB's SQLite backend a conditional create's search reads the
whole collection (twice when nothing matches), so each costs more as the bench's data grows."""


class BenchError(RuntimeError):
    """A run that cannot produce a meaningful table."""


def concurrency_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text}") from exc
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("concurrencies must be positive integers")
    return values


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--concurrency",
        type=concurrency_list,
        default=[1, 32],
        help="comma-separated concurrencies, each a row per operation (default 1,32)",
    )
    parser.add_argument(
        "--requests",
        type=positive,
        default=None,
        help=f"requests per row (default {DEFAULT_REQUESTS[1]} at concurrency 1, "
        f"{DEFAULT_OTHER} otherwise)",
    )
    parser.add_argument(
        "--workers", type=positive, default=1, help="fhircare worker processes (default 1)"
    )
    parser.add_argument(
        "--base-url",
        default=None,
        help="measure this FHIR base (e.g. http://localhost:8090/fhir) instead of starting "
        "fhircare; raw pymongo still runs against MONGODB_URI or a throwaway FerretDB",
    )
    parser.add_argument(
        "--transactions",
        type=positive,
        default=20,
        help="transaction bundles per row (default 20)",
    )
    parser.add_argument(
        "--transaction-entries",
        type=positive,
        default=100,
        help="creates in each transaction bundle (default 100)",
    )
    parser.add_argument(
        "--conditional-creates",
        type=positive,
        default=DEFAULT_CONDITIONAL_CREATES,
        help="conditional creates (If-None-Exist) per row (default "
        f"{DEFAULT_CONDITIONAL_CREATES}; each searches its type, a scan on FerretDB)",
    )
    parser.add_argument(
        "--search-size",
        type=non_negative,
        default=DEFAULT_SEARCH_SIZE,
        help=f"resources loaded for the search section (default {DEFAULT_SEARCH_SIZE:,}; "
        "0 skips it; it is skipped with --base-url too)",
    )
    parser.add_argument(
        "--search-reps",
        type=positive,
        default=DEFAULT_SEARCH_REPS,
        help=f"repetitions of each search query per side (default {DEFAULT_SEARCH_REPS})",
    )
    parser.add_argument(
        "--seed", type=int, default=2026, help="seed of the search population (default 2026)"
    )
    args = parser.parse_args(argv)
    if 0 < args.search_size < 20:
        parser.error("--search-size must be 0 or at least 20")
    return args


def requests_for(concurrency: int, override: int | None) -> int:
    return override or DEFAULT_REQUESTS.get(concurrency, DEFAULT_OTHER)


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


async def measure(
    args: argparse.Namespace, uri: str, base_url: str, raw_database: str
) -> tuple[list[Row], str, list[str]]:
    """Warm up, then every row; returns the rows, the server's name and error notes."""
    connections = max(args.concurrency)
    server_ids: list[str] = []
    raw_ids: list[str] = []
    rows: list[Row] = []
    notes: list[str] = []
    mongo = raw_mongo.client(uri, connections)
    try:
        collection = mongo[raw_database][raw_mongo.COLLECTION]
        async with http_load.client(base_url, connections) as http:
            software = await describe_server(http)
            progress(f"warming up: {WARMUP} creates over HTTP and {WARMUP} with pymongo")
            warm = await run_concurrent(WARMUP, 1, http_load.create_operation(http, server_ids))
            if warm.errors:
                raise BenchError(f"the server fails creates: {warm.first_error}")
            await run_concurrent(WARMUP, 1, raw_mongo.create_operation(collection, raw_ids))
            plan: list[tuple[str, Callable[[], Operation], Callable[[], Operation]]] = [
                (
                    "create",
                    lambda: http_load.create_operation(http, server_ids),
                    lambda: raw_mongo.create_operation(collection, raw_ids),
                ),
                (
                    "read",
                    lambda: http_load.read_operation(http, list(server_ids)),
                    lambda: raw_mongo.read_operation(collection, list(raw_ids)),
                ),
                (
                    "update",
                    lambda: http_load.update_operation(http, list(server_ids)),
                    lambda: raw_mongo.update_operation(collection, list(raw_ids)),
                ),
                (
                    "history",
                    lambda: http_load.history_operation(http, list(server_ids)),
                    lambda: raw_mongo.read_operation(collection, list(raw_ids)),
                ),
            ]
            patients = mongo[raw_database][raw_mongo.CONDITIONAL_COLLECTION]
            run = raw_database
            entries = args.transaction_entries
            plan += [
                (
                    "transaction",
                    lambda: http_load.transaction_operation(http, entries, run),
                    lambda: raw_mongo.transaction_operation(collection, entries),
                ),
                (
                    "cond create",
                    lambda: http_load.conditional_create_operation(http, f"{run}-{len(rows)}"),
                    lambda: raw_mongo.conditional_create_operation(patients, f"{len(rows)}"),
                ),
            ]
            fixed = {"transaction": args.transactions, "cond create": args.conditional_creates}
            total = len(plan) * len(args.concurrency)
            for operation, server_op, raw_op in plan:
                for concurrency in args.concurrency:
                    n = fixed.get(operation) or requests_for(concurrency, args.requests)
                    progress(
                        f"[{len(rows) + 1}/{total}] {operation} concurrency={concurrency} "
                        f"requests={n}: HTTP…"
                    )
                    server_outcome = await run_concurrent(n, concurrency, server_op())
                    progress(
                        f"[{len(rows) + 1}/{total}] {operation} concurrency={concurrency}: raw"
                    )
                    raw_outcome = await run_concurrent(n, concurrency, raw_op())
                    row = Row(
                        operation, concurrency, Stats.of(server_outcome), Stats.of(raw_outcome)
                    )
                    rows.append(row)
                    progress(
                        f"      {row.server.throughput:,.0f} req/s over HTTP, "
                        f"{row.raw.throughput:,.0f} req/s raw"
                    )
                    for side, outcome in (("server", server_outcome), ("raw", raw_outcome)):
                        if outcome.errors:
                            notes.append(error_note(operation, side, outcome))
                            progress(notes[-1])
    finally:
        await mongo.close()
    return rows, software, notes


def error_note(operation: str, side: str, outcome: Outcome) -> str:
    return (
        f"errors: {operation} concurrency={outcome.concurrency} {side}: "
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
    run_id = secrets.token_hex(4)
    run_dir = VAR_DIR / "bench" / run_id
    fhircare_database = f"bench_{run_id}"
    raw_database = f"bench_raw_{run_id}"
    server: FhircareServer | None = None
    search: SearchSection | None = None
    peak_kib: int | None = None
    processes = 0
    failed = False
    with mongo_store(run_dir) as (uri, store):
        try:
            if args.base_url is None:
                server = FhircareServer(
                    uri, fhircare_database, args.workers, run_dir / "fhircare.log"
                )
                progress(f"starting fhircare ({args.workers} worker(s)) on port {server.port}")
                base_url = server.start().base_url
            else:
                base_url = args.base_url
            rows, software, notes = run_async(measure(args, uri, base_url, raw_database))
            if server is not None and args.search_size:
                search = run_async(
                    search_section(
                        uri,
                        fhircare_database,
                        base_url,
                        args.search_size,
                        args.search_reps,
                        args.seed,
                        progress,
                    )
                )
            elif args.search_size:
                progress(
                    "search section skipped: --base-url names a server whose store we do not load"
                )
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
    if failed:
        return 2

    if server is not None:
        described = f"{software} at {base_url}, {args.workers} worker(s), started by the bench"
    else:
        described = f"{software} at {base_url} (--base-url)"
    notes += [
        f"client and server share this machine: {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {len(http_load.BODY.encode())}-byte Observation",
        f"{WARMUP} untimed creates per side first; p50/p99 are of successful calls; "
        "errors = server+raw",
    ]
    report = Report(
        timestamp=started.isoformat().replace("+00:00", "Z"),
        command=command_line(),
        server=described,
        store=store,
        rows=rows,
        server_peak_kib=peak_kib,
        server_processes=processes,
        notes=notes,
    )
    print(render(report))
    if search is not None:
        print()
        print(render_search(search))
    extra = {
        "config": {
            "concurrency": args.concurrency,
            "requests": {c: requests_for(c, args.requests) for c in args.concurrency},
            "workers": args.workers if server else None,
            "base_url": args.base_url,
            "warmup": WARMUP,
            "body_bytes": len(http_load.BODY.encode()),
            "transactions": args.transactions,
            "transaction_entries": args.transaction_entries,
            "conditional_creates": args.conditional_creates,
            "search_size": args.search_size if search else None,
            "search_reps": args.search_reps if search else None,
            "seed": args.seed,
        },
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "httpx": httpx.__version__,
            "pymongo": pymongo.version,
        },
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    if search is not None:
        extra["search"] = search_json(search)
    path.write_text(json.dumps(to_json(report, extra), indent=2) + "\n")
    progress(f"saved {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    search_failed = search is not None and any(r.server.errors or r.raw.errors for r in search.rows)
    search_failed = search_failed or (
        search is not None and any(n.startswith("MISMATCH") for n in search.notes)
    )
    return 1 if search_failed or any(r.server.errors or r.raw.errors for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
