"""``python -m bench.realistic``: Synthea patients loaded into each server over HTTP, then
checked and queried the same way on each; the first ``--server`` is the reference.

For each server in turn: its counts of a few types (to see it starts empty), the load (each
bundle POSTed to ``[base]`` one at a time: hospitals, practitioners, then patients), its
counts again against what the bundles hold, the care-manager queries (``params``) and the
reads. The tables go to stdout and, with every call's figures, to
``bench/results/realistic-<time>.json``; progress goes to stderr. Exit status 1 when a
bundle failed, a count or a query's matches differ, or a call failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.realistic import checks, load, queries, servers
from bench.realistic.data import COUNTED, PatientFacts, expected_counts, patient_facts
from bench.realistic.params import EVERYTHING_COUNT, Pick, picks
from bench.realistic.report import Run, ServerResult, problems, render, to_json
from bench.synthea import DEFAULT_SEED, SyntheaData, SyntheaError, describe, generate

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
QUERY_TIMEOUT = 300.0
"""Seconds for one query call: generous, a slow store's scans are measured, not failed."""


def say(message: str) -> None:
    print(f"realistic: {message}", file=sys.stderr, flush=True)


def server(text: str) -> tuple[str, str]:
    """``LABEL=BASE_URL``."""
    label, sep, url = text.partition("=")
    if not sep or not label or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"not LABEL=BASE_URL: {text}")
    return label, url.rstrip("/")


def concurrencies(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("comma-separated concurrencies, each at least 1")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.realistic",
        description="Synthea patients loaded into FHIR servers over HTTP, checked and queried.",
    )
    parser.add_argument("--patients", type=int, default=20, help="living patients (default 20)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed (default 2026)")
    parser.add_argument(
        "--server",
        type=server,
        action="append",
        default=[],
        help="LABEL=BASE_URL of a running server, repeatable; the first is the reference",
    )
    parser.add_argument(
        "--start",
        action="append",
        default=[],
        choices=servers.KINDS,
        help="start this server for its turn and stop it after (fresh and empty), "
        "repeatable, after the --server ones in order: hapi, sqlite, ferretdb",
    )
    parser.add_argument("--reps", type=int, default=5, help="timed calls per query (default 5)")
    parser.add_argument(
        "--reads", type=int, default=200, help="reads per concurrency (default 200)"
    )
    parser.add_argument(
        "--concurrency", type=concurrencies, default=[1, 32], help="of the reads (default 1,32)"
    )
    parser.add_argument(
        "--everything-count",
        type=int,
        default=EVERYTHING_COUNT,
        help=f"page size (_count) of $everything on every server (default {EVERYTHING_COUNT})",
    )
    parser.add_argument(
        "--load-timeout",
        type=float,
        default=1800.0,
        help="seconds for one bundle's POST (default 1800: bundles reach 14,000 entries)",
    )
    parser.add_argument(
        "--skip-load", action="store_true", help="the servers hold the data already: query only"
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path(os.environ.get("FHIRCARE_VAR_DIR", "var")),
        help="where the Synthea data is cached (default $FHIRCARE_VAR_DIR or var)",
    )
    args = parser.parse_args(argv)
    labels = [label for label, _ in args.server]
    if len(set(labels)) != len(labels) or len(set(args.start)) != len(args.start):
        parser.error("each --server needs a label of its own, and each --start a kind")
    if not args.server and not args.start:
        parser.error("name a --server or --start one")
    if min(args.reps, args.reads, args.patients, args.everything_count) < 1:
        parser.error("--patients, --reps, --reads and --everything-count must be at least 1")
    return args


def read_bundles(data: SyntheaData) -> tuple[list[PatientFacts], dict[str, int]]:
    """The patients' facts and the counts an empty server ends with, bundle by bundle."""
    facts: list[PatientFacts] = []
    bundles: list[dict[str, Any]] = []
    for bundle_file in data.bundles:
        bundle = json.loads(bundle_file.path.read_bytes())
        found = patient_facts(bundle)
        if found is not None:
            facts.append(found)
        # only the requests and types matter to the counts: keep those, not the resources
        bundles.append(
            {
                "entry": [
                    {
                        "request": e.get("request") or {},
                        "resource": {"resourceType": (e.get("resource") or {}).get("resourceType")},
                    }
                    for e in bundle.get("entry") or []
                ]
            }
        )
    return facts, expected_counts(bundles)


async def software(http: httpx.AsyncClient) -> str:
    try:
        response = await http.get("metadata")
        response.raise_for_status()
        found = response.json().get("software") or {}
    except (httpx.HTTPError, ValueError) as exc:
        return f"unknown ({exc})"
    return " ".join(str(found[k]) for k in ("name", "version") if found.get(k)) or "unknown"


async def measure_server(
    args: argparse.Namespace,
    label: str,
    base_url: str,
    data: SyntheaData,
    reps: list[Pick],
    warm: Pick,
) -> ServerResult:
    """Count, load, count again, query and read on one server."""
    connections = max(args.concurrency)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    result = ServerResult(label, base_url)
    async with httpx.AsyncClient(
        base_url=base_url,
        limits=limits,
        timeout=httpx.Timeout(QUERY_TIMEOUT, connect=10.0),
        # no-cache: HAPI would answer a repeated search from its 60 s search cache
        headers={"Accept": load.FHIR_JSON, "Cache-Control": "no-cache"},
    ) as http:
        result.software = await software(http)
        say(f"{label}: {result.software} at {base_url}")
        result.before = await checks.counts(http, COUNTED)
        if not args.skip_load:
            say(f"{label}: loading {len(data.bundles)} bundles ({data.entries:,} entries)")
            http.timeout = httpx.Timeout(args.load_timeout, connect=10.0)
            result.loads = await load.load_all(http, data.bundles, lambda m: say(f"{label}: {m}"))
            http.timeout = httpx.Timeout(QUERY_TIMEOUT, connect=10.0)
        result.after = await checks.counts(http, COUNTED)
        say(f"{label}: the queries, {len(reps)} calls each")
        run = await queries.measure_queries(
            http, base_url, reps, warm, args.everything_count, lambda m: say(f"{label}: {m}")
        )
        result.queries = run.rows
        for concurrency in args.concurrency:
            say(f"{label}: {args.reads} reads at concurrency {concurrency}")
            row = await queries.measure_reads(http, run.read_targets, args.reads, concurrency)
            result.reads[row.name] = row
    return result


def command_line() -> str:
    argv = getattr(sys, "orig_argv", None) or [sys.executable, "-m", "bench.realistic"]
    return shlex.join(argv)


async def main_async(args: argparse.Namespace) -> int:
    try:
        data = await asyncio.to_thread(generate, args.var_dir, args.patients, args.seed)
    except SyntheaError as exc:
        say(str(exc))
        return 1
    say(describe(data))
    facts, expected = await asyncio.to_thread(read_bundles, data)
    chosen = picks(facts, args.reps + 1, args.seed)
    results = [
        await measure_server(args, label, url, data, chosen[:-1], chosen[-1])
        for label, url in args.server
    ]
    for kind in args.start:
        say(f"starting {kind}")
        with servers.started(kind, args.var_dir) as (label, url, peak_memory):
            result = await measure_server(args, label, url, data, chosen[:-1], chosen[-1])
            result.peak_memory_kib = peak_memory()
            results.append(result)
    now = datetime.now(UTC)
    run = Run(
        timestamp=now.isoformat(timespec="seconds"),
        command=command_line(),
        data=data,
        expected=expected,
        servers=results,
        reps=args.reps,
        reads=args.reads,
        seed=args.seed,
        concurrency=args.concurrency,
        skip_load=args.skip_load,
    )
    print(render(run))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"realistic-{now:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(to_json(run), indent=1) + "\n")
    say(f"saved {path}")
    return 1 if problems(run) else 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
