"""One run of the realistic-data bench as text (the tables of ``tables``, the problems
found, the requests behind each row, the command) and as JSON with every call's figures.

Pure, like ``bench.report``: the run in, the text and the data out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.realistic import checks
from bench.realistic.load import BundleLoad, summarize
from bench.realistic.params import EVERYTHING_QUERY, QUERY_ORDER
from bench.realistic.queries import EVERYTHING_PAGE, EVERYTHING_WALK, Measured
from bench.realistic.tables import (
    QUERY_FIELDS,
    READ_FIELDS,
    check_table,
    load_table,
    match_differences,
    measured_table,
)
from bench.report import fmt_kib
from bench.synthea import SyntheaData, describe

ROW_NAMES = [
    *(name for name in QUERY_ORDER if name != EVERYTHING_QUERY),
    EVERYTHING_PAGE,
    EVERYTHING_WALK,
]
"""The query table's rows: ``$everything`` as its pages and its whole walk."""


@dataclass
class ServerResult:
    """Everything measured on one server."""

    label: str
    base_url: str
    software: str = "unknown"
    before: dict[str, int | None] = field(default_factory=dict)
    after: dict[str, int | None] = field(default_factory=dict)
    loads: list[BundleLoad] = field(default_factory=list)
    queries: dict[str, Measured] = field(default_factory=dict)
    reads: dict[str, Measured] = field(default_factory=dict)
    peak_memory_kib: int | None = None
    """The server's peak resident memory over its turn (for a server the bench started)."""


@dataclass(frozen=True)
class Run:
    """A run: what was asked, the data, and each server's results (the first the reference)."""

    timestamp: str
    command: str
    data: SyntheaData
    expected: dict[str, int]
    servers: list[ServerResult]
    reps: int
    reads: int
    seed: int
    concurrency: list[int]
    skip_load: bool = False

    @property
    def labels(self) -> list[str]:
        return [server.label for server in self.servers]


def problems(run: Run) -> list[str]:
    """Failed bundles, counts that differ, matches that differ, failed calls."""
    labels = run.labels
    found = [f"{s.label}: {b.name}: {b.problem}" for s in run.servers for b in s.loads if not b.ok]
    # with --skip-load the data was there before: only a load must start from empty
    before = {} if run.skip_load else {s.label: s.before for s in run.servers}
    found += checks.problems(run.expected, before, {s.label: s.after for s in run.servers})
    found += match_differences(labels, ROW_NAMES, {s.label: s.queries for s in run.servers})
    found += [
        f"{s.label}: {name}: {row.errors} failed, the first: {row.first_error}"
        for s in run.servers
        for name, row in {**s.queries, **s.reads}.items()
        if row.errors
    ]
    return found


def render(run: Run) -> str:
    labels = run.labels
    reference = run.servers[0]
    summaries = {s.label: summarize(s.loads) for s in run.servers}
    read_names = [f"read c={c}" for c in run.concurrency]
    load_lines = (
        ["load: skipped (--skip-load)"]
        if run.skip_load
        else [
            "load: POST [base] of each bundle, one at a time, Prefer: return=minimal",
            load_table(labels, summaries),
        ]
    )
    return "\n".join(
        [
            f"realistic-data bench, {run.timestamp}; reference: {labels[0]}",
            *(f"{s.label}: {s.software} at {s.base_url}" for s in run.servers),
            describe(run.data).splitlines()[0],
            "",
            *load_lines,
            "",
            "checks: counts after the load (conditional creates once)",
            check_table(labels, run.expected, {s.label: s.after for s in run.servers}),
            "",
            f"queries: {run.reps} calls each after one warm-up, parameters from the data "
            f"(seed {run.seed}); matches by _summary=count summed over the calls "
            "($everything: entries over all pages)",
            measured_table(
                "query", labels, ROW_NAMES, {s.label: s.queries for s in run.servers}, QUERY_FIELDS
            ),
            "",
            f"reads: GET [type]/[id] of resources of a $everything walk, {run.reads} per row",
            measured_table(
                "read", labels, read_names, {s.label: s.reads for s in run.servers}, READ_FIELDS
            ),
            "",
            "peak resident memory of each server over its turn (load, queries, reads): "
            + ", ".join(f"{s.label} {fmt_kib(s.peak_memory_kib)}" for s in run.servers),
            "",
            f"the requests ({labels[0]}'s ids):",
            *(
                f"  {name}: {reference.queries[name].example}"
                for name in ROW_NAMES
                if name in reference.queries
            ),
            "",
            *(f"problem: {line}" for line in problems(run)),
            f"command: {run.command}",
        ]
    )


def row_json(row: Measured) -> dict[str, Any]:
    return {**asdict(row), "p50_ms": row.p50_ms, "p99_ms": row.p99_ms, "matched": row.matched}


def to_json(run: Run) -> dict[str, Any]:
    data = run.data
    return {
        "timestamp": run.timestamp,
        "command": run.command,
        "reference": run.labels[0],
        "synthea": {
            "version": data.version,
            "seed": data.seed,
            "patients": data.patients,
            "reference_date": data.reference_date,
            "bundles": [
                {"name": b.path.name, "kind": b.kind, "entries": b.entries} for b in data.bundles
            ],
        },
        "expected_counts": run.expected,
        "servers": {
            s.label: {
                "base_url": s.base_url,
                "software": s.software,
                "counts_before": s.before,
                "counts_after": s.after,
                "peak_memory_kib": s.peak_memory_kib,
                "loads": [asdict(b) | {"ok": b.ok} for b in s.loads],
                "load_summary": asdict(summarize(s.loads))
                | {"entries_per_second": summarize(s.loads).entries_per_second},
                "queries": {name: row_json(row) for name, row in s.queries.items()},
                "reads": {name: row_json(row) for name, row in s.reads.items()},
            }
            for s in run.servers
        },
        "problems": problems(run),
        "table": render(run),
    }
