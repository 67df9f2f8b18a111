"""The command line of ``python -m bench``: its options, their defaults and checks."""

from __future__ import annotations

import argparse

from bench import search_data
from bench.plan import SAMPLE_SCANS_ABOVE, SCAN_CAP, ScanOptions

DESCRIPTION = "Every row at each data size, over HTTP beside raw pymongo on the same store."
DEFAULT_SIZES = [10_000, 100_000]
DEFAULT_REQUESTS = {1: 500}
"""Requests per row by concurrency; any other concurrency gets DEFAULT_OTHER."""
DEFAULT_OTHER = 2000
WARMUP = 20
"""Untimed creates on each side before the first row (connections, caches, first-call imports)."""
DEFAULT_SEARCH_REPS = 3
DEFAULT_SEARCH_ROUNDS = 1
DEFAULT_CONDITIONAL_CREATES = 100
"""Where the scan policy does not cap them (MongoDB, --full-scans): on FerretDB each one's
search reads the whole store (twice when nothing matches)."""


def int_list(text: str, minimum: int) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text}") from exc
    if not values or min(values) < minimum:
        raise argparse.ArgumentTypeError(f"each value must be at least {minimum}")
    return values


def concurrency_list(text: str) -> list[int]:
    return int_list(text, 1)


def size_list(text: str) -> list[int]:
    """Sizes, ascending and without repeats; 0 (nothing loaded) or at least 20 each."""
    values = sorted(set(int_list(text, 0)))
    if any(0 < v < search_data.MIN_LAYER for v in values):
        raise argparse.ArgumentTypeError(f"a size is 0 or at least {search_data.MIN_LAYER}")
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
    parser = argparse.ArgumentParser(prog="python -m bench", description=DESCRIPTION)
    parser.add_argument(
        "--sizes",
        type=size_list,
        default=DEFAULT_SIZES,
        help="comma-separated data sizes: the store is brought to each in turn and every row "
        "runs at each (default 10000,100000; 0: the store as it is, no search section)",
    )
    parser.add_argument(
        "--search-size",
        type=non_negative,
        default=None,
        help="the same as --sizes with one size (kept for older command lines)",
    )
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
        "fhircare; raw pymongo still runs against MONGODB_URI or a throwaway FerretDB; "
        "no data is loaded, so --sizes and the search section do not apply",
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
        f"{DEFAULT_CONDITIONAL_CREATES}; capped by the scan policy on FerretDB)",
    )
    parser.add_argument(
        "--search-reps",
        type=positive,
        default=DEFAULT_SEARCH_REPS,
        help="calls of each search query per side at concurrency 1, each with other "
        f"patients, owners or plans (default {DEFAULT_SEARCH_REPS}; 1 under the scan policy)",
    )
    parser.add_argument(
        "--search-rounds",
        type=positive,
        default=DEFAULT_SEARCH_ROUNDS,
        help="at a concurrency C above 1 each search query makes rounds x C calls per side "
        f"(default {DEFAULT_SEARCH_ROUNDS}: 32 at 32)",
    )
    parser.add_argument(
        "--full-scans",
        action="store_true",
        help="run every scan-bound row (searches, conditional creates, extra scan-bound rows) "
        "in full at every size and concurrency on FerretDB too (hours at 100,000)",
    )
    parser.add_argument(
        "--scan-cap",
        type=positive,
        default=SCAN_CAP,
        help="scan policy: most calls of a scan-bound row other than a search on FerretDB "
        f"(default {SCAN_CAP})",
    )
    parser.add_argument(
        "--sample-scans-above",
        type=non_negative,
        default=SAMPLE_SCANS_ABOVE,
        help="scan policy: above this size on FerretDB only the first search query and one "
        f"call of each other scan-bound row run (default {SAMPLE_SCANS_ABOVE:,})",
    )
    parser.add_argument(
        "--seed", type=int, default=2026, help="seed of the population (default 2026)"
    )
    args = parser.parse_args(argv)
    if args.search_size is not None:
        if 0 < args.search_size < search_data.MIN_LAYER:
            parser.error(f"--search-size must be 0 or at least {search_data.MIN_LAYER}")
        args.sizes = [args.search_size]
    return args


def requests_for(concurrency: int, override: int | None) -> int:
    return override or DEFAULT_REQUESTS.get(concurrency, DEFAULT_OTHER)


def scan_options(args: argparse.Namespace) -> ScanOptions:
    return ScanOptions(
        concurrency=tuple(args.concurrency),
        search_reps=args.search_reps,
        search_rounds=args.search_rounds,
        full_scans=args.full_scans,
        sample_above=args.sample_scans_above,
        cap=args.scan_cap,
    )
