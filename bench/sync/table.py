"""The sync bench's table and JSON (pure).

Per size, four rows: HAPI's own create and read beside the sync push and pull that do the
same work, each with its resources per second and the peak resident memory of the process
that ran it; a sync row's ``vs HAPI`` is its rate over its HAPI row's. Under the table, for
each row, its memory at the largest size over the smallest, which is near 1.0x when a run's
memory does not grow with the data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.report import fixed_width, fmt_kib, fmt_number, fmt_ratio, ratio

HAPI_CREATE = "HAPI create"
SYNC_PUSH = "sync push"
HAPI_READ = "HAPI read"
SYNC_PULL = "sync pull"
ORDER = (HAPI_CREATE, SYNC_PUSH, HAPI_READ, SYNC_PULL)
BASELINE = {SYNC_PUSH: HAPI_CREATE, SYNC_PULL: HAPI_READ}
"""Which HAPI row each sync row is compared with."""

COLUMNS: list[tuple[str, str]] = [
    ("size", ">"),
    ("row", "<"),
    ("resources", ">"),
    ("failed", ">"),
    ("seconds", ">"),
    ("res/s", ">"),
    ("vs HAPI", ">"),
    ("peak RSS", ">"),
    ("check", "<"),
]
GROUPS: list[tuple[str, int]] = [("", 4), ("speed", 3), ("", 2)]


@dataclass(frozen=True)
class Row:
    """One row's run: how many resources it moved of the ``expected``, in how long, with
    how much memory at most (KiB, the process that ran it)."""

    size: int
    name: str
    count: int
    failed: int
    seconds: float
    peak_rss_kib: int | None
    expected: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float | None:
        return self.count / self.seconds if self.seconds > 0 else None

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.count == self.expected

    def check(self) -> str:
        if self.ok:
            return "ok"
        return f"MISMATCH: {self.count:,} of {self.expected:,}, {self.failed:,} failed"


@dataclass
class Run:
    """A whole run: its rows and what the footnotes say."""

    timestamp: str
    command: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)


def find(rows: list[Row], size: int, name: str) -> Row | None:
    return next((r for r in rows if r.size == size and r.name == name), None)


def vs_hapi(rows: list[Row], row: Row) -> float | None:
    """A sync row's rate over its HAPI row's at the same size."""
    baseline = BASELINE.get(row.name)
    other = None if baseline is None else find(rows, row.size, baseline)
    return None if other is None else ratio(row.per_second, other.per_second)


def cells(rows: list[Row], row: Row) -> list[str]:
    return [
        f"{row.size:,}",
        row.name,
        f"{row.count:,}",
        f"{row.failed:,}",
        fmt_number(row.seconds),
        fmt_number(row.per_second, 0),
        fmt_ratio(vs_hapi(rows, row)) if row.name in BASELINE else "",
        fmt_kib(row.peak_rss_kib),
        row.check(),
    ]


def ordered(rows: list[Row]) -> list[Row]:
    rank = {name: n for n, name in enumerate(ORDER)}
    return sorted(rows, key=lambda r: (r.size, rank.get(r.name, len(ORDER)), r.name))


def memory_growth(rows: list[Row]) -> list[str]:
    """Per row name measured at two sizes or more: peak RSS at the largest over the smallest."""
    sizes = sorted({r.size for r in rows})
    if len(sizes) < 2:
        return []
    small, large = sizes[0], sizes[-1]
    lines = []
    for name in ORDER:
        a, b = find(rows, small, name), find(rows, large, name)
        if a is None or b is None:
            continue
        growth = ratio(b.peak_rss_kib, a.peak_rss_kib)
        lines.append(
            f"  {name}: {fmt_kib(a.peak_rss_kib)} at {small:,}, {fmt_kib(b.peak_rss_kib)} at "
            f"{large:,}: {fmt_ratio(growth) if growth is None else f'{growth:.2f}x'}"
        )
    if not lines:
        return []
    return [f"peak RSS, {large:,} over {small:,}:", *lines]


def render(run: Run) -> str:
    rows = ordered(run.rows)
    lines = [
        f"fhircare sync against HAPI FHIR, {run.timestamp}",
        fixed_width(COLUMNS, GROUPS, [cells(rows, r) for r in rows]),
        "",
        *memory_growth(rows),
        *run.notes,
        f"command: {run.command}",
    ]
    return "\n".join(lines)


def problems(run: Run) -> list[str]:
    return [f"{r.size:,} {r.name}: {r.check()}" for r in run.rows if not r.ok]


def to_json(run: Run) -> dict[str, Any]:
    return {
        "timestamp": run.timestamp,
        "command": run.command,
        "notes": run.notes,
        "rows": [
            {**asdict(r), "per_second": r.per_second, "vs_hapi": vs_hapi(run.rows, r)}
            for r in ordered(run.rows)
        ],
    }
