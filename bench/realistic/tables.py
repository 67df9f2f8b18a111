"""The report of the realistic-data benchmark: a table per section, one column block per
server, and for each server after the first its ratio to the first (the reference).

Pure: the figures in, the text out, with ``report.fixed_width`` drawing the tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bench.realistic.load import LoadSummary
from bench.realistic.queries import Measured
from bench.report import fixed_width, fmt_number, fmt_ratio, ratio


def ratio_headers(labels: Sequence[str]) -> list[tuple[str, str]]:
    """One ratio column per server after the reference: ``label/reference``."""
    return [(f"{label}/{labels[0]}", ">") for label in labels[1:]]


def ratios(values: Sequence[float | None]) -> list[str]:
    """Each value after the first divided by the first."""
    return [fmt_ratio(ratio(value, values[0])) for value in values[1:]]


def seconds(value: float | None) -> str:
    return fmt_number(value, 2)


@dataclass(frozen=True)
class Metric:
    """One row of the load table: a cell per server, and whether a ratio makes sense."""

    name: str
    cell: Callable[[LoadSummary], str]
    value: Callable[[LoadSummary], float | None] | None = None


def largest(summary: LoadSummary) -> str:
    mark = "" if summary.largest_ok else " FAILED"
    return f"{seconds(summary.largest_seconds)} ({summary.largest_entries:,} entries){mark}"


LOAD_METRICS: tuple[Metric, ...] = (
    Metric("bundles ok", lambda s: f"{s.bundles_ok}/{s.bundles}"),
    Metric("entries loaded", lambda s: f"{s.entries_ok:,}/{s.entries:,}"),
    Metric("load s (all bundles)", lambda s: seconds(s.seconds), lambda s: s.seconds),
    Metric(
        "entries/s",
        lambda s: fmt_number(s.entries_per_second),
        lambda s: s.entries_per_second,
    ),
    Metric(
        "hospital batch s (conditional)",
        lambda s: seconds(s.hospital_seconds),
        lambda s: s.hospital_seconds,
    ),
    Metric(
        "practitioner batch s",
        lambda s: seconds(s.practitioner_seconds),
        lambda s: s.practitioner_seconds,
    ),
    Metric("largest bundle s", largest, lambda s: s.largest_seconds),
    Metric(
        "patient bundle p50 s",
        lambda s: seconds(s.patient_p50_seconds),
        lambda s: s.patient_p50_seconds,
    ),
)


def load_table(labels: Sequence[str], summaries: Mapping[str, LoadSummary]) -> str:
    columns = [("load", "<"), *((label, ">") for label in labels), *ratio_headers(labels)]
    groups = [("", 1), ("per server", len(labels)), ("ratio", len(labels) - 1)]
    body = []
    for metric in LOAD_METRICS:
        cells = [metric.cell(summaries[label]) for label in labels]
        values = [metric.value(summaries[label]) if metric.value else None for label in labels]
        body.append([metric.name, *cells, *ratios(values)])
    return fixed_width(columns, _groups(groups), body)


def _groups(groups: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Without empty spans (one server: no ratio block)."""
    return [(title, span) for title, span in groups if span]


def check_table(
    labels: Sequence[str],
    expected: Mapping[str, int],
    found: Mapping[str, Mapping[str, int | None]],
) -> str:
    columns = [("type", "<"), ("bundles", ">"), *((label, ">") for label in labels)]
    columns.append(("", "<"))
    body = []
    for kind, want in expected.items():
        got = [found[label].get(kind) for label in labels]
        cells = ["?" if n is None else f"{n:,}" for n in got]
        verdict = "ok" if all(n == want for n in got) else "DIFFERS"
        body.append([kind, f"{want:,}", *cells, verdict])
    groups = [("", 2), ("_summary=count", len(labels)), ("", 1)]
    return fixed_width(columns, groups, body)


def matches_cell(row: Measured | None) -> str:
    if row is None or row.matched is None:
        return "-"
    cell = f"{row.matched:,}"
    return f"{cell} +{row.included:,} incl" if row.included else cell


def errors_cell(row: Measured | None) -> str:
    return "-" if row is None else str(row.errors)


QUERY_FIELDS: tuple[tuple[str, Callable[[Measured | None], str]], ...] = (
    ("calls", lambda r: "-" if r is None else f"{r.calls:,}"),
    ("err", errors_cell),
    ("p50 ms", lambda r: fmt_number(r.p50_ms if r else None, 1)),
    ("p99 ms", lambda r: fmt_number(r.p99_ms if r else None, 1)),
    ("matches", matches_cell),
)
READ_FIELDS: tuple[tuple[str, Callable[[Measured | None], str]], ...] = (
    ("calls", lambda r: "-" if r is None else f"{r.calls:,}"),
    ("err", errors_cell),
    ("req/s", lambda r: fmt_number(r.throughput if r else None, 1)),
    ("p50 ms", lambda r: fmt_number(r.p50_ms if r else None, 2)),
    ("p99 ms", lambda r: fmt_number(r.p99_ms if r else None, 2)),
)


def measured_table(
    title: str,
    labels: Sequence[str],
    names: Sequence[str],
    rows: Mapping[str, Mapping[str, Measured]],
    fields: Sequence[tuple[str, Callable[[Measured | None], str]]],
) -> str:
    """A row per name; per server the ``fields``; then each server's p50 over the
    reference's. ``rows`` is label -> row name -> what was measured."""
    columns: list[tuple[str, str]] = [(title, "<")]
    groups: list[tuple[str, int]] = [("", 1)]
    for label in labels:
        columns += [(header, ">") for header, _ in fields]
        groups.append((label, len(fields)))
    columns += [(f"p50 {header}", a) for header, a in ratio_headers(labels)]
    groups.append(("ratio", len(labels) - 1))
    body = []
    for name in names:
        found = [rows[label].get(name) for label in labels]
        cells = [cell(row) for row in found for _, cell in fields]
        p50s = [row.p50_ms if row else None for row in found]
        body.append([name, *cells, *ratios(p50s)])
    return fixed_width(columns, _groups(groups), body)


def match_differences(
    labels: Sequence[str], names: Sequence[str], rows: Mapping[str, Mapping[str, Measured]]
) -> list[str]:
    """Queries whose matches (per repetition) differ from the reference's."""
    found: list[str] = []
    reference = labels[0]
    for name in names:
        want = rows[reference].get(name)
        for label in labels[1:]:
            got = rows[label].get(name)
            if want is None or got is None or want.matches == got.matches:
                continue
            found.append(
                f"{name}: matches per call differ, {reference} {want.matches} "
                f"vs {label} {got.matches}"
            )
    return found
