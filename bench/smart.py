"""``python -m bench.smart``: what SMART authorization costs, read and search beside ``none``.

One SQLite file is grown to ``--size`` resources (``bench/sqlite/loading.py``), then served
three times by a fresh ``fhircare serve``: with ``FHIRCARE_AUTH=none``, and with
``FHIRCARE_AUTH=smart`` under a ``system/*.rs`` token (every request verifies a token; no
narrowing) and under a ``patient/*.rs`` token of one patient (verification plus the
compartment predicate on searches and the membership check on reads). Each row asks the
same question in each mode: a read of one of that patient's Observations, the patient's
Observations (``Observation?subject=`` in ``none``; the same URL narrowed under the patient
token), the active CarePlans on a page of 20, and the patient's ``$everything``. Each mode
runs ``--rounds`` times, the order of the modes alternating, and each cell keeps its best
round, so no mode pays for running first. Tokens
are signed by a key made in the run folder (``fhircare token``'s code). Progress goes to
stderr, the table to stdout; the JSON is saved under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import http_load
from bench.population import Population
from bench.report import Stats
from bench.runner import Operation, run_concurrent
from bench.servers import VAR_DIR, FhircareServer
from bench.sqlite.loading import grow
from fhircare.token_cli import load_or_create_key, sign_token, write_jwks

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ISSUER = "bench-issuer"
MODES = ("none", "smart system/*.rs", "smart patient/*.rs")


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.smart", description=__doc__)
    parser.add_argument("--size", type=int, default=10_000, help="resources in the store")
    parser.add_argument("--requests", type=int, default=400, help="calls per row and mode")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of every mode, in alternating order"
    )
    return parser.parse_args(argv)


def _urls(pop: Population, patient: str) -> dict[str, list[str]]:
    observations = [
        r["id"]
        for r in pop.resources
        if r["resourceType"] == "Observation"
        and (r.get("subject") or {}).get("reference") == f"Patient/{patient}"
    ]
    return {
        "read own Observation": [f"/Observation/{id}" for id in observations] or ["/metadata"],
        "search own Observations": [f"/Observation?subject=Patient/{patient}"],
        "search active CarePlans": ["/CarePlan?status=active&_count=20"],
        "$everything": [f"/Patient/{patient}/$everything"],
    }


def _operation(http: httpx.AsyncClient, urls: list[str]) -> Operation:
    async def get(index: int) -> str | None:
        url = urls[index % len(urls)]
        answer = await http.get(url)
        return None if answer.status_code == 200 else f"GET {url}: {answer.status_code}"

    return get


async def _rows(
    base_url: str, token: str | None, urls: dict[str, list[str]], args: argparse.Namespace
) -> dict[str, Stats]:
    found: dict[str, Stats] = {}
    async with http_load.client(base_url, args.concurrency) as http:
        if token:
            http.headers["Authorization"] = f"Bearer {token}"
        for name, targets in urls.items():
            await run_concurrent(20, 2, _operation(http, targets))  # warm up
            outcome = await run_concurrent(
                args.requests, args.concurrency, _operation(http, targets)
            )
            if outcome.errors:
                progress(f"{name}: {outcome.errors} errors, first: {outcome.first_error}")
            found[name] = Stats.of(outcome)
    return found


async def _mode_rows(
    path: Path,
    run_dir: Path,
    mode: str,
    key: Any,
    jwks: Path,
    patient: str,
    urls: dict[str, list[str]],
    args: argparse.Namespace,
) -> dict[str, Stats]:
    """Every row against a fresh server in ``mode``."""
    os.environ["FHIRCARE_AUTH"] = "none" if mode == "none" else "smart"
    os.environ.update({"FHIRCARE_JWKS": str(jwks), "FHIRCARE_TOKEN_ISSUER": ISSUER})
    os.environ["FHIRCARE_AUDIT"] = "false"
    os.environ.pop("FHIRCARE_TOKEN_AUDIENCE", None)  # default: the server's own base
    server = _serve(path, run_dir, mode)
    token = None
    if mode != "none":
        scope = mode.split(" ", 1)[1]
        token = sign_token(
            key,
            "RS256",
            issuer=ISSUER,
            audience=server.base_url.rstrip("/"),
            scope=scope,
            client_id="bench",
            expires_in=3600,
            patient=patient if scope.startswith("patient/") else None,
        )
    try:
        return await _rows(server.base_url, token, urls, args)
    finally:
        server.stop()


def _better(kept: dict[str, Stats] | None, found: dict[str, Stats]) -> dict[str, Stats]:
    """Per row, the round with the lower p50 (rounds alternate the order of the modes, so
    no mode always runs first)."""
    if kept is None:
        return found
    return {
        name: min((kept[name], stats), key=lambda s: s.p50_ms or float("inf"))
        for name, stats in found.items()
    }


def _serve(path: Path, run_dir: Path, mode: str) -> FhircareServer:
    server = FhircareServer(str(path.resolve()), "bench", 1, run_dir / f"server-{mode[:5]}.log")
    return server.start()


async def bench(args: argparse.Namespace, command: str) -> int:
    run_dir = VAR_DIR / "bench" / f"smart-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "bench.sqlite3"
    keys = run_dir / "keys"
    key = load_or_create_key(keys, "RS256")
    jwks = write_jwks(keys)
    os.environ["FHIRCARE_AUTH"] = "none"
    server = _serve(path, run_dir, "none")
    try:
        async with http_load.client(server.base_url, 4) as http:
            progress(f"growing the store to {args.size:,}")
            pop, _ = await grow(http, args.size, args.seed, 0)
    finally:
        server.stop()
    patient = pop.pick("patients", 1, args.seed)[0]
    urls = _urls(pop, patient)
    results: dict[str, dict[str, Stats]] = {}
    for round_ in range(args.rounds):
        for mode in MODES if round_ % 2 == 0 else tuple(reversed(MODES)):
            progress(f"round {round_ + 1}: rows in mode {mode}")
            found = await _mode_rows(path, run_dir, mode, key, jwks, patient, urls, args)
            results[mode] = _better(results.get(mode), found)
    print(render(results, args, command))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    saved = RESULTS_DIR / f"smart-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    data = {m: {n: s.__dict__ for n, s in rows.items()} for m, rows in results.items()}
    saved.write_text(json.dumps({"rows": data, "command": command}, indent=1))
    progress(f"saved {saved}")
    errors = sum(s.errors for rows in results.values() for s in rows.values())
    return 1 if errors else 0


def render(results: dict[str, dict[str, Stats]], args: argparse.Namespace, command: str) -> str:
    none = results["none"]
    head = (
        f"{'row':<26}" + "".join(f"{m:>24}" for m in MODES) + f"{'ratio sys':>11}{'ratio pat':>11}"
    )
    lines = [
        f"fhircare SMART bench on SQLite, {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}: "
        f"{args.size:,} resources, {args.requests} calls per cell, {args.concurrency} in flight",
        "cells: p50 ms / requests per second; ratio: p50 of the smart mode over none",
        head,
    ]
    for name, base in none.items():
        cells = []
        for mode in MODES:
            stats = results[mode][name]
            cells.append(f"{(stats.p50_ms or 0):8.2f} / {stats.throughput:8.0f}")
        ratios = [(results[mode][name].p50_ms or 0) / (base.p50_ms or 1) for mode in MODES[1:]]
        lines.append(
            f"{name:<26}"
            + "".join(f"{c:>24}" for c in cells)
            + "".join(f"{r:>10.2f}x" for r in ratios)
        )
    lines.append(f"command: {command}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([".venv/bin/python", "-m", "bench.smart", *(argv or sys.argv[1:])])
    return asyncio.run(bench(args, command))


if __name__ == "__main__":
    raise SystemExit(main())
