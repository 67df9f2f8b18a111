"""Pure parts of the benchmark: percentiles, per-row statistics, ratios, the table and JSON."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.runner import Outcome


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks.

    The same definition as ``numpy.percentile``'s default and
    ``statistics.quantiles(method="inclusive")``: p50 of [1, 2, 3, 4] is 2.5.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0-100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Stats:
    """One side of a row: throughput over the wall time, latency of the successful calls."""

    requests: int
    errors: int
    seconds: float
    throughput: float
    p50_ms: float | None
    p99_ms: float | None

    @classmethod
    def of(cls, outcome: Outcome) -> Stats:
        ms = [seconds * 1000 for seconds in outcome.latencies]
        return cls(
            requests=outcome.requests,
            errors=outcome.errors,
            seconds=outcome.wall_seconds,
            throughput=outcome.requests / outcome.wall_seconds if outcome.wall_seconds else 0.0,
            p50_ms=percentile(ms, 50) if ms else None,
            p99_ms=percentile(ms, 99) if ms else None,
        )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class Row:
    """One operation at one concurrency and data size: the FHIR server beside raw pymongo.

    ``size`` is the number of resources the store was brought to before the rows of that
    size ran (None: a store the bench did not fill, as with ``--base-url``)."""

    operation: str
    concurrency: int
    server: Stats
    raw: Stats
    size: int | None = None

    @property
    def p50_ratio(self) -> float | None:
        """Server p50 / raw p50: how many times slower one call is."""
        return ratio(self.server.p50_ms, self.raw.p50_ms)

    @property
    def throughput_ratio(self) -> float | None:
        """Raw throughput / server throughput: how many times more calls raw pymongo makes."""
        return ratio(self.raw.throughput, self.server.throughput)


def fmt_number(value: float | None, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals and thousands separators, or ``-`` when missing."""
    return "-" if value is None else f"{value:,.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    """A ratio as ``12.3x`` (one decimal), or ``-`` when missing."""
    return "-" if value is None else f"{value:.1f}x"


def fmt_kib(kib: int | None) -> str:
    """A /proc size in KiB as MiB, or ``n/a``."""
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


def fmt_size(size: int | None) -> str:
    """A data size as ``10,000``, or ``-`` for a store the bench did not fill."""
    return "-" if size is None else f"{size:,}"


COLUMNS: list[tuple[str, str]] = [
    # (header, alignment); the groups above them are drawn by format_table
    ("size", ">"),
    ("operation", "<"),
    ("conc", ">"),
    ("requests", ">"),
    ("errors", ">"),
    ("req/s", ">"),
    ("p50 ms", ">"),
    ("p99 ms", ">"),
    ("req/s", ">"),
    ("p50 ms", ">"),
    ("p99 ms", ">"),
    ("p50 srv/raw", ">"),
    ("req/s raw/srv", ">"),
]
GROUPS: list[tuple[str, int]] = [("", 5), ("server (HTTP)", 3), ("raw pymongo", 3), ("ratio", 2)]


def row_cells(row: Row) -> list[str]:
    """The table cells of one row, in COLUMNS order."""
    errors = row.server.errors + row.raw.errors
    return [
        fmt_size(row.size),
        row.operation,
        str(row.concurrency),
        f"{row.server.requests:,}",
        f"{row.server.errors}+{row.raw.errors}" if errors else "0",
        fmt_number(row.server.throughput),
        fmt_number(row.server.p50_ms, 2),
        fmt_number(row.server.p99_ms, 2),
        fmt_number(row.raw.throughput),
        fmt_number(row.raw.p50_ms, 2),
        fmt_number(row.raw.p99_ms, 2),
        fmt_ratio(row.p50_ratio),
        fmt_ratio(row.throughput_ratio),
    ]


def format_table(rows: Sequence[Row]) -> str:
    """A fixed-width text table, one line per row, with a group line over the headers."""
    return fixed_width(list(COLUMNS), list(GROUPS), [row_cells(row) for row in rows])


@dataclass(frozen=True)
class Report:
    """Everything one run produced, with what is needed to reproduce it."""

    timestamp: str
    command: str
    server: str
    store: str
    rows: list[Row]
    server_peak_kib: int | None
    server_processes: int
    notes: list[str]
    peak_by_size: list[tuple[int | None, int | None]] = field(default_factory=list)
    """(size, the server's VmHWM in KiB once the rows of that size had run)."""


def memory_line(report: Report) -> str:
    """The server's peak memory over the run, and after each size when there were several."""
    processes = "" if report.server_processes <= 1 else f", summed over {report.server_processes}"
    line = f"server peak memory (VmHWM{processes}): {fmt_kib(report.server_peak_kib)}"
    if len(report.peak_by_size) > 1:
        line += "; after the rows of size " + ", ".join(
            f"{fmt_size(size)}: {fmt_kib(kib)}" for size, kib in report.peak_by_size
        )
    return line


def render(report: Report) -> str:
    """The text printed at the end of a run."""
    lines = [
        f"fhircare bench, {report.timestamp}",
        f"server: {report.server}",
        f"store:  {report.store}",
        "",
        format_table(report.rows),
        "",
        memory_line(report),
        *report.notes,
        f"command: {report.command}",
    ]
    return "\n".join(lines)


def to_json(report: Report, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report as JSON-ready data: the raw figures, the ratios and the rendered text."""
    rows = [
        {
            "size": row.size,
            "operation": row.operation,
            "concurrency": row.concurrency,
            "server": vars(row.server),
            "raw_pymongo": vars(row.raw),
            "p50_ratio_server_over_raw": row.p50_ratio,
            "throughput_ratio_raw_over_server": row.throughput_ratio,
        }
        for row in report.rows
    ]
    return {
        "timestamp": report.timestamp,
        "command": report.command,
        "server": report.server,
        "store": report.store,
        "server_peak_memory_kib": report.server_peak_kib,
        "server_peak_memory_kib_by_size": [
            {"size": size, "kib": kib} for size, kib in report.peak_by_size
        ],
        "server_processes": report.server_processes,
        "rows": rows,
        "notes": report.notes,
        **(extra or {}),
        "table": render(report),
    }


# --- the search section ------------------------------------------------------


@dataclass(frozen=True)
class SearchRow:
    """One search query at one concurrency and data size, over HTTP and as the raw pymongo
    query it compiles to.

    ``*_page`` and ``*_included`` are summed over the calls; ``server_total`` is the sum of
    ``Bundle.total`` and ``raw_total`` of ``count_documents`` of the raw filter."""

    query: str
    example: str
    raw_query: str
    server: Stats
    raw: Stats
    server_page: int
    raw_page: int
    server_total: int
    raw_total: int
    server_included: int = 0
    raw_included: int = 0
    concurrency: int = 1
    size: int | None = None

    @property
    def p50_ratio(self) -> float | None:
        return ratio(self.server.p50_ms, self.raw.p50_ms)

    @property
    def throughput_ratio(self) -> float | None:
        return ratio(self.raw.throughput, self.server.throughput)


SEARCH_COLUMNS: list[tuple[str, str]] = [
    ("size", ">"),
    ("query", "<"),
    ("conc", ">"),
    ("calls", ">"),
    ("errors", ">"),
    ("req/s", ">"),
    ("p50 ms", ">"),
    ("p99 ms", ">"),
    ("req/s", ">"),
    ("p50 ms", ">"),
    ("p99 ms", ">"),
    ("p50 srv/raw", ">"),
    ("matches srv/raw", ">"),
    ("page srv/raw", ">"),
]
SEARCH_GROUPS: list[tuple[str, int]] = [
    ("", 5),
    ("server (HTTP)", 3),
    ("raw pymongo", 3),
    ("", 1),
    ("summed over calls", 2),
]


def search_cells(row: SearchRow) -> list[str]:
    """The cells of one search row, in SEARCH_COLUMNS order."""
    errors = row.server.errors + row.raw.errors
    page = f"{row.server_page:,}/{row.raw_page:,}"
    if row.server_included or row.raw_included:
        page += f" +{row.server_included:,}/{row.raw_included:,} incl"
    return [
        fmt_size(row.size),
        row.query,
        str(row.concurrency),
        f"{row.server.requests:,}",
        f"{row.server.errors}+{row.raw.errors}" if errors else "0",
        fmt_number(row.server.throughput),
        fmt_number(row.server.p50_ms, 2),
        fmt_number(row.server.p99_ms, 2),
        fmt_number(row.raw.throughput),
        fmt_number(row.raw.p50_ms, 2),
        fmt_number(row.raw.p99_ms, 2),
        fmt_ratio(row.p50_ratio),
        f"{row.server_total:,}/{row.raw_total:,}",
        page,
    ]


def fixed_width(
    columns: list[tuple[str, str]], groups: list[tuple[str, int]], body: list[list[str]]
) -> str:
    widths = [
        max(len(header), *(len(cells[i]) for cells in body)) if body else len(header)
        for i, (header, _) in enumerate(columns)
    ]
    gap = "  "
    group_cells: list[str] = []
    start = 0
    for title, span in groups:
        width = sum(widths[start : start + span]) + len(gap) * (span - 1)
        group_cells.append(title.center(width, "-") if title else " " * width)
        start += span
    lines = [gap.join(group_cells).rstrip()]
    lines.append(gap.join(f"{h:{a}{w}}" for (h, a), w in zip(columns, widths, strict=True)))
    for cells in body:
        aligned = zip(cells, columns, widths, strict=True)
        lines.append(gap.join(f"{c:{a}{w}}" for c, (_, a), w in aligned))
    return "\n".join(line.rstrip() for line in lines)


def format_search_table(rows: Sequence[SearchRow]) -> str:
    """The search table, then each query's first HTTP request and its raw pymongo query
    (once per query, as at the first size it ran)."""
    lines = [fixed_width(SEARCH_COLUMNS, SEARCH_GROUPS, [search_cells(r) for r in rows]), ""]
    first: dict[str, SearchRow] = {}
    for row in rows:
        first.setdefault(row.query, row)
    for n, row in enumerate(first.values(), 1):
        lines.append(f"[{n}] {row.query}: GET {row.example}")
        lines.append(f"    raw: {row.raw_query}")
    return "\n".join(lines)


@dataclass(frozen=True)
class SearchSection:
    """The search section of a run: its rows and how the data was made."""

    rows: list[SearchRow]
    heading: str
    notes: list[str]


def render_search(section: SearchSection) -> str:
    return "\n".join([section.heading, "", format_search_table(section.rows), *section.notes])


def search_json(section: SearchSection) -> dict[str, Any]:
    """The search section as JSON-ready data."""
    return {
        "heading": section.heading,
        "rows": [
            {
                "size": row.size,
                "query": row.query,
                "concurrency": row.concurrency,
                "example": row.example,
                "raw_query": row.raw_query,
                "server": vars(row.server),
                "raw_pymongo": vars(row.raw),
                "p50_ratio_server_over_raw": row.p50_ratio,
                "throughput_ratio_raw_over_server": row.throughput_ratio,
                "matches": {"server_total": row.server_total, "raw_count": row.raw_total},
                "page_entries": {"server": row.server_page, "raw": row.raw_page},
                "included": {"server": row.server_included, "raw": row.raw_included},
            }
            for row in section.rows
        ],
        "notes": section.notes,
        "table": render_search(section),
    }
