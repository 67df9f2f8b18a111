"""``python -m bench.sqlite``: fhircare on SQLite at each size, every row beside raw sqlite3.

For each size of ``--sizes`` the store (a fresh file under ``var/bench/``) is grown to that
many resources by transaction bundles over HTTP (``loading.py``; the load rate is reported),
then every row runs over HTTP and as raw sqlite3 on the same file (``raw.py``), at each
``--concurrency``: create, read, update, history, a ``--transaction-entries`` transaction,
a conditional create, the care-manager searches (``bench/search_queries.py``, each with
``--search-reps`` parameter sets), ``Patient/$everything`` (every page), a practitioner's
``$worklist`` (every page) and a care plan's ``$progress``; the raw side of a search or an
operation replays the statements the store ran for it (``recorded.py``). Progress goes to
stderr, the tables to stdout; the JSON is saved under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import sys
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import http_load
from bench.population import Population
from bench.report import COLUMNS, Row, Stats, fixed_width, fmt_kib, row_cells
from bench.runner import Operation, run_concurrent
from bench.search_queries import queries
from bench.servers import VAR_DIR, FhircareServer
from bench.sqlite import raw as raw_ops
from bench.sqlite.loading import Loaded, grow
from bench.sqlite.recorded import Recorder, recorder

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"
GROUPS = [("", 5), ("server (HTTP)", 3), ("raw sqlite3", 3), ("ratio", 2)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sqlite", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="store sizes, comma-separated")
    parser.add_argument("--concurrency", default="1,32", help="concurrencies, comma-separated")
    parser.add_argument("--requests", type=int, default=500, help="calls per simple row")
    parser.add_argument("--transactions", type=int, default=20, help="calls of the transaction row")
    parser.add_argument("--transaction-entries", type=int, default=100)
    parser.add_argument("--search-reps", type=int, default=5, help="parameter sets per query")
    parser.add_argument("--everything", type=int, default=10, help="$everything calls")
    parser.add_argument("--care", type=int, default=10, help="$worklist and $progress calls (each)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--synchronous", default="NORMAL", choices=["NORMAL", "FULL"])
    parser.add_argument("--seed", type=int, default=2026)
    return parser.parse_args(argv)


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


async def row(
    name: str,
    size: int,
    concurrency: int,
    requests: int,
    server: Operation,
    raw: Operation,
) -> Row:
    progress(f"{size:,} {name} c={concurrency}")
    over_http = await run_concurrent(requests, concurrency, server)
    direct = await run_concurrent(requests, concurrency, raw)
    for side, outcome in (("server", over_http), ("raw", direct)):
        if outcome.errors:
            progress(f"{name}: {outcome.errors} {side} errors, first: {outcome.first_error}")
    return Row(name, concurrency, Stats.of(over_http), Stats.of(direct), size)


def get_operation(http: httpx.AsyncClient, urls: list[str], follow_next: bool = False) -> Operation:
    """GET each URL in turn (and every next page); 200 is success."""

    async def get(index: int) -> str | None:
        url = urls[index % len(urls)]
        while url:
            answer = await http.get(url)
            if answer.status_code != 200:
                return f"GET {url}: {answer.status_code} {answer.text[:200]}"
            links = {link["relation"]: link["url"] for link in answer.json().get("link", [])}
            url = links.get("next", "") if follow_next else ""
        return None

    return get


async def search_urls(
    http: httpx.AsyncClient, pop: Population, reps: int, seed: int
) -> dict[str, list[str]]:
    """Each care-manager query's URLs, one per parameter set (page 2: its next link)."""
    found: dict[str, list[str]] = {}
    for query in queries(pop, reps, seed):
        urls = []
        for rep in range(reps):
            url = query.url(rep)
            if query.page2:
                answer = (await http.get(f"/{url}")).json()
                links = {link["relation"]: link["url"] for link in answer.get("link", [])}
                if "next" not in links:
                    continue
                url = links["next"].split("/fhir/", 1)[1]
            urls.append(f"/{url}")
        if urls:
            found[query.name] = urls
    return found


async def run_size(
    args: argparse.Namespace,
    http: httpx.AsyncClient,
    raw: raw_ops.RawSqlite,
    record: Recorder,
    size: int,
    pop: Population,
    run: str,
) -> list[Row]:
    rows: list[Row] = []
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    observations = [r["id"] for r in pop.resources if r["resourceType"] == "Observation"]
    keys = [f"Observation/{id}" for id in observations[: max(args.requests, 1)]]
    searches = await search_urls(http, pop, args.search_reps, args.seed)
    patients = pop.pick("patients", args.everything, args.seed)
    everything = [f"/Patient/{p}/$everything" for p in patients]
    care_ops = {
        "$worklist": [
            f"/Practitioner/{p}/$worklist" for p in pop.pick("practitioners", args.care, args.seed)
        ],
        "$progress": [
            f"/CarePlan/{c}/$progress" for c in pop.pick("careplans", args.care, args.seed)
        ],
    }
    for c in concurrencies:
        tag = f"{run}-{size}-{c}"
        created: list[str] = []
        simple: list[tuple[str, int, Operation, Operation]] = [
            ("create", args.requests, http_load.create_operation(http, created),
             raw_ops.create_operation(raw, tag)),
            ("read", args.requests, http_load.read_operation(http, observations),
             raw_ops.read_operation(raw, keys)),
            ("update", args.requests, http_load.update_operation(http, observations),
             raw_ops.update_operation(raw, keys)),
            ("history", args.requests, http_load.history_operation(http, observations),
             raw_ops.history_operation(raw, keys)),
            ("transaction", args.transactions,
             http_load.transaction_operation(http, args.transaction_entries, tag),
             raw_ops.transaction_operation(raw, args.transaction_entries, tag)),
            ("cond create", args.requests, http_load.conditional_create_operation(http, tag),
             raw_ops.conditional_create_operation(raw, f"{tag}-raw")),
        ]  # fmt: skip
        for name, requests, server, direct in simple:
            rows.append(await row(name, size, c, requests, server, direct))
        for name, urls in searches.items():
            recorded = [await record.statements(u) for u in urls]
            calls = len(urls) if c == 1 else 2 * c
            server, direct = get_operation(http, urls), raw_ops.replay_operation(raw, recorded)
            rows.append(await row(name, size, c, calls, server, direct))
        for name, urls in {"$everything": everything, **care_ops}.items():
            recorded = [await record.statements(u, follow_next=True) for u in urls]
            server = get_operation(http, urls, follow_next=True)
            calls = len(urls) if c == 1 else 2 * c
            direct = raw_ops.replay_operation(raw, recorded)
            rows.append(await row(name, size, c, calls, server, direct))
    return rows


def render(
    rows: list[Row], loads: dict[int, Loaded], memory: dict[int, int | None], command: str
) -> str:
    lines = [
        f"fhircare bench on SQLite, {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
        fixed_width(list(COLUMNS), GROUPS, [row_cells(r) for r in rows]),
        "",
    ]
    for size, loaded in loads.items():
        lines.append(
            f"size {size:,}: {loaded.resources:,} resources loaded over HTTP in "
            f"{loaded.seconds:.1f}s ({loaded.per_second:,.0f}/s, transaction bundles of 1,000 "
            "PUTs); server peak "
            f"memory after its rows {fmt_kib(memory.get(size))}"
        )
    lines += [
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; client, server "
        "and raw side share it",
        "raw: sqlite3 on the same file, in the same run: a write is the store's own statements "
        "(index entries computed beforehand), a search or $everything replays the statements "
        "the store ran for it; no HTTP, JSON, validation or indexing",
        f"command: {command}",
    ]
    return "\n".join(lines)


async def bench(args: argparse.Namespace, command: str) -> int:
    run = uuid.uuid4().hex[:8]
    run_dir = VAR_DIR / "bench" / f"sqlite-{run}"
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "bench.sqlite3"
    os.environ["FHIRCARE_SQLITE_SYNCHRONOUS"] = args.synchronous
    server = FhircareServer(str(path.resolve()), "bench", args.workers, run_dir / "server.log")
    server.start()
    rows: list[Row] = []
    loads: dict[int, Loaded] = {}
    memory: dict[int, int | None] = {}
    connections = max(int(c) for c in args.concurrency.split(","))
    raw = raw_ops.RawSqlite(path, connections, args.synchronous)
    try:
        async with http_load.client(server.base_url, connections) as http, recorder(path) as record:
            pop: Population | None = None
            for layer, size in enumerate(int(s) for s in args.sizes.split(",")):
                progress(f"growing the store to {size:,}")
                grown, loads[size] = await grow(http, size, args.seed, layer)
                pop = grown if pop is None else pop.combined(grown)
                rows += await run_size(args, http, raw, record, size, pop, run)
                memory[size] = server.peak_memory_kib()[0]
    finally:
        raw.close()
        server.stop()
    report = render(rows, loads, memory, command)
    print(report)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    saved = RESULTS_DIR / f"sqlite-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    data = {"rows": [asdict(r) for r in rows], "loads": {k: asdict(v) for k, v in loads.items()}}
    saved.write_text(json.dumps({**data, "command": command}, indent=1))
    progress(f"saved {saved}")
    return 1 if any(r.server.errors or r.raw.errors for r in rows) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([".venv/bin/python", "-m", "bench.sqlite", *(argv or sys.argv[1:])])
    started = time.monotonic()
    status = asyncio.run(bench(args, command))
    progress(f"took {(time.monotonic() - started) / 60:.1f} min")
    return status


if __name__ == "__main__":
    sys.exit(main())
