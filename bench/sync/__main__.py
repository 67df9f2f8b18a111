"""``python -m bench.sync``: the sync adapter's push and pull against HAPI FHIR beside
HAPI's own create and read of the same resources, at each ``--sizes``.

For each size N (``data.py``: N care-coordination resources, one Patient in ten):

1. the data is loaded into a fresh SQLite file through fhircare's loader (not a row);
2. on a fresh HAPI: **HAPI create** (transactions of 100 POSTs by a plain httpx client),
   **HAPI read** (``_lastUpdated``-sorted searches, page after page) and **sync pull**
   (into a fresh SQLite file, by the same searches) of what HAPI created;
3. on another fresh HAPI: **sync push** of the SQLite file, then HAPI's counts checked.

With ``--start hapi`` each HAPI is started on a folder of its own under ``var/bench/`` and
stopped after its rows (two starts per size, a minute or two each). With ``--hapi-url`` the
one running server takes everything: each size's resources carry tags of their own, HAPI
read and sync pull add ``_tag`` to their searches, and the push goes into a server holding the
earlier rows' data. Every row runs in a child process (``child.py``), whose peak RSS is
reported. The table goes to stdout, progress to stderr, the JSON to
``bench/results/sync-<time>.json``; exit status 1 when a row moved a count other than N or
reported failures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tests.peers.hapi_server import HAPI_VERSION, HapiServer, free_port

from bench.report import fmt_kib
from bench.sync import data
from bench.sync.child import run_child
from bench.sync.rows import BUNDLE, LOAD_BUNDLE, PAGE
from bench.sync.table import (
    HAPI_CREATE,
    HAPI_READ,
    SYNC_PULL,
    SYNC_PUSH,
    Row,
    Run,
    problems,
    render,
    to_json,
)

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


def say(message: str) -> None:
    print(f"sync bench: {message}", file=sys.stderr, flush=True)


def sizes(text: str) -> list[int]:
    values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("comma-separated sizes, each at least 1")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sync",
        description="The sync adapter's push and pull against HAPI FHIR, beside HAPI's own "
        "create and read of the same resources.",
    )
    parser.add_argument(
        "--sizes", type=sizes, default=[10_000, 100_000], help="default: 10000,100000"
    )
    peer = parser.add_mutually_exclusive_group(required=True)
    peer.add_argument(
        "--start",
        choices=["hapi"],
        help="start a fresh HAPI for the create, read and pull rows and another for the "
        "push, at each size",
    )
    peer.add_argument("--hapi-url", help="a running HAPI's FHIR base, which takes every row")
    parser.add_argument("--seed", type=int, default=2026, help="default: 2026")
    parser.add_argument("--heap", default="2g", help="HAPI's JVM -Xmx with --start (default 2g)")
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path(os.environ.get("FHIRCARE_VAR_DIR", "var")),
        help="default: $FHIRCARE_VAR_DIR or var",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the SQLite files and HAPI folders"
    )
    return parser.parse_args(argv)


class Bench:
    """One run: its folder, its rows and its notes."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run = uuid.uuid4().hex[:8]
        self.dir = (args.var_dir / "bench" / f"sync-{self.run}").resolve()
        self.dir.mkdir(parents=True)
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.hapi_memory: list[str] = []

    @contextmanager
    def hapi(self, name: str) -> Iterator[str]:
        """A fresh HAPI (``--start``) or the running one; yields its base URL."""
        if self.args.hapi_url:
            yield self.args.hapi_url.rstrip("/")
            return
        say(f"starting HAPI for {name}")
        started = time.monotonic()
        server = HapiServer(
            self.args.var_dir, self.dir / f"hapi-{name}", free_port(), heap=self.args.heap
        )
        server.start()
        say(f"HAPI up in {time.monotonic() - started:.0f}s at {server.base_url}")
        try:
            yield server.base_url
        finally:
            self.hapi_memory.append(f"{name} {fmt_kib(server.memory_kib()[1])}")
            server.stop()

    def row(self, name: str, child: str, size: int, spec: dict[str, Any]) -> Row:
        say(f"{size:,}: {name}")
        done = run_child(child, {**spec, "size": size})
        result = done.result
        row = Row(
            size=size,
            name=name,
            count=int(result.get("count", 0)),
            failed=int(result.get("failed", 0)),
            seconds=float(result.get("seconds", 0.0)),
            peak_rss_kib=done.peak_rss_kib,
            expected=size,
            details={k: v for k, v in result.items() if k not in ("count", "failed", "seconds")},
        )
        rate = f"{row.per_second:,.0f}/s" if row.per_second else "-"
        say(f"{size:,}: {name}: {row.count:,} in {row.seconds:.1f}s ({rate}) {row.check()}")
        for error in result.get("errors") or []:
            say(f"  {error}")
        self.rows.append(row)
        return row

    def measure(self, size: int) -> None:
        seed, shared = self.args.seed, bool(self.args.hapi_url)
        create_tag, push_tag = f"create-{self.run}-{size}", f"push-{self.run}-{size}"
        source = self.dir / f"push-{size}.sqlite3"
        say(f"{size:,}: loading the data into {source.name}")
        bundles = self.dir / f"bundles-{size}"
        loaded = run_child(
            "load",
            {"size": size, "seed": seed, "tag": push_tag, "sqlite": str(source),
             "bundles": str(bundles)},
        )  # fmt: skip
        shutil.rmtree(bundles, ignore_errors=True)
        count, seconds = loaded.result.get("count", 0), loaded.result.get("seconds", 0.0)
        self.notes.append(
            f"{size:,}: {count:,} resources loaded into the local SQLite file in {seconds:.1f}s "
            f"(fhircare.loader, transactions of {LOAD_BUNDLE:,} PUTs; not a row)"
        )
        if count != size or loaded.result.get("failed"):
            raise RuntimeError(f"the local load made {count:,} of {size:,}: {loaded.result}")

        read_tag = create_tag if shared else None
        with self.hapi(f"{size}-create") as base_url:
            common = {"seed": seed, "base_url": base_url}
            self.row(HAPI_CREATE, "hapi-create", size, {**common, "tag": create_tag})
            read = self.row(HAPI_READ, "hapi-read", size, {**common, "tag": read_tag})
            pages = int(read.details.get("pages") or 0)
            if pages:
                self.notes.append(
                    f"{size:,}: HAPI read took {pages:,} pages, {read.count / pages:.0f} "
                    f"resources a page (HAPI's own limit on _count={PAGE})"
                )
            pulled = str(self.dir / f"pull-{size}.sqlite3")
            self.row(SYNC_PULL, "sync-pull", size, {**common, "tag": read_tag, "sqlite": pulled})
        with self.hapi(f"{size}-push") as base_url:
            push = self.row(
                SYNC_PUSH, "sync-push", size, {"base_url": base_url, "sqlite": str(source)}
            )
            held = remote_counts(base_url, push_tag)
            push.details["hapi_counts"] = held
            want = data.counts(size)
            self.notes.append(
                f"{size:,}: HAPI holds {sum(held.values()):,} of the pushed resources "
                + ("(every type as generated)" if held == want else f"MISMATCH: {held} != {want}")
            )
            if held != want:
                self.rows[-1] = replace(push, failed=push.failed or 1)


def remote_counts(base_url: str, tag: str) -> dict[str, int]:
    """How many resources of each type with ``tag`` the server holds."""
    found = {}
    with httpx.Client(base_url=base_url, timeout=120) as http:
        for kind in data.TYPES:
            params = {"_tag": f"{data.TAG_SYSTEM}|{tag}", "_summary": "count"}
            found[kind] = int(http.get(kind, params=params).json().get("total", -1))
    return found


def notes(bench: Bench) -> list[str]:
    args = bench.args
    if args.hapi_url:
        where = (
            f"HAPI at {args.hapi_url}, running: it takes every row, so the push goes into a "
            "server holding the earlier rows' data; HAPI read and sync pull are _tag searches"
        )
    else:
        where = (
            f"HAPI FHIR JPA {HAPI_VERSION} (H2, -Xmx{args.heap}), a fresh one for the create, "
            "read and pull rows of each size and another for its push; its peak RSS: "
            + ", ".join(bench.hapi_memory)
        )
    return [
        *bench.notes,
        where,
        f"HAPI create: transactions of {BUNDLE} POSTs (urn:uuid references), one at a time; "
        f"HAPI read: [type]?_sort=_lastUpdated&_count={PAGE}, every page; sync: page_size "
        f"{PAGE}, pull by _lastUpdated-sorted search (HAPI pages _history by _offset: hours "
        "at 100k), the remote's other settings at their defaults (HAPI assigns ids: a push "
        "POSTs with If-None-Exist on the sync tag)",
        f"types: {', '.join(data.TYPES)}; one Patient in {len(data.GROUP)} resources",
        "res/s: resources over the row's own seconds; peak RSS: the process that ran the row "
        "(os.wait4 ru_maxrss)",
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; HAPI and the "
        "row's process share it",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([".venv/bin/python", "-m", "bench.sync", *(argv or sys.argv[1:])])
    bench = Bench(args)
    started = time.monotonic()
    failed = True
    try:
        for size in args.sizes:
            bench.measure(size)
        failed = False
    finally:
        now = datetime.now(UTC)
        run = Run(now.strftime("%Y-%m-%dT%H:%M:%SZ"), command, bench.rows, notes(bench))
        if bench.rows:
            print(render(run), flush=True)
        RESULTS_DIR.mkdir(exist_ok=True)
        saved = RESULTS_DIR / f"sync-{now:%Y%m%dT%H%M%SZ}.json"
        saved.write_text(json.dumps(to_json(run), indent=1) + "\n")
        say(f"saved {saved}; took {(time.monotonic() - started) / 60:.1f} min")
        if failed or args.keep or problems(run):
            say(f"kept {bench.dir}")
        else:
            shutil.rmtree(bench.dir, ignore_errors=True)
    for problem in problems(run):
        say(problem)
    return 1 if problems(run) else 0


if __name__ == "__main__":
    sys.exit(main())
