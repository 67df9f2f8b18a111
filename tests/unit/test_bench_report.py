"""The pure parts of ``bench``: percentiles, row statistics, ratios and the text table."""

from __future__ import annotations

import statistics

import pytest
from bench.report import (
    Report,
    Row,
    Stats,
    fmt_kib,
    fmt_number,
    fmt_ratio,
    fmt_size,
    format_table,
    memory_line,
    percentile,
    ratio,
    render,
    to_json,
)
from bench.runner import Outcome


def stats(throughput: float, p50: float | None, p99: float | None, errors: int = 0) -> Stats:
    return Stats(
        requests=100, errors=errors, seconds=1.0, throughput=throughput, p50_ms=p50, p99_ms=p99
    )


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([4, 1, 3, 2], 0) == 1  # unsorted input is sorted first
    assert percentile([4, 1, 3, 2], 100) == 4
    assert percentile(range(1, 101), 99) == pytest.approx(99.01)
    assert percentile([7.5], 99) == 7.5


def test_percentile_matches_statistics_inclusive_quantiles() -> None:
    values = [0.3, 12.0, 5.5, 1.25, 9.0, 2.0, 40.0, 3.3, 8.8, 0.1, 6.0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    assert percentile(values, 50) == pytest.approx(cuts[49])
    assert percentile(values, 99) == pytest.approx(cuts[98])


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentile_rejects_out_of_range(q: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0], q)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


def test_stats_from_outcome_use_milliseconds_and_wall_time() -> None:
    outcome = Outcome(
        requests=5,
        concurrency=2,
        wall_seconds=0.5,
        latencies=[0.001, 0.002, 0.003, 0.004],
        errors=1,
        first_error="500",
    )
    result = Stats.of(outcome)
    assert result.throughput == 10.0
    assert result.p50_ms == pytest.approx(2.5)
    assert result.p99_ms == pytest.approx(3.97)
    assert result.errors == 1


def test_stats_without_successes_have_no_latency() -> None:
    result = Stats.of(Outcome(requests=3, concurrency=1, wall_seconds=1.0, errors=3))
    assert result.p50_ms is None and result.p99_ms is None


def test_ratios_are_server_p50_over_raw_and_raw_throughput_over_server() -> None:
    row = Row("create", 16, server=stats(400.0, 8.0, 20.0), raw=stats(2000.0, 2.0, 5.0))
    assert row.p50_ratio == 4.0
    assert row.throughput_ratio == 5.0
    assert ratio(1.0, 0.0) is None
    assert ratio(None, 2.0) is None
    assert Row("read", 1, stats(0.0, None, None), stats(10.0, 1.0, 1.0)).p50_ratio is None


def test_formatting_of_numbers() -> None:
    assert fmt_number(12345.678) == "12,345.7"
    assert fmt_number(0.12345, 2) == "0.12"
    assert fmt_number(None) == "-"
    assert fmt_ratio(4.0) == "4.0x"
    assert fmt_ratio(12.345) == "12.3x"
    assert fmt_ratio(None) == "-"
    assert fmt_kib(2048) == "2.0 MiB"
    assert fmt_kib(None) == "n/a"


def test_table_has_aligned_rows_with_ratios() -> None:
    rows = [
        Row("create", 1, server=stats(125.0, 7.8, 12.3), raw=stats(1250.0, 0.78, 1.5), size=10_000),
        Row(
            "read",
            16,
            server=stats(1500.5, 9.0, 30.25),
            raw=stats(6000.0, 2.25, 4.0, errors=2),
            size=100_000,
        ),
    ]
    lines = format_table(rows).splitlines()
    assert len(lines) == 4
    assert "server (HTTP)" in lines[0] and "raw pymongo" in lines[0] and "ratio" in lines[0]
    assert lines[1].split()[:4] == ["size", "operation", "conc", "requests"]
    assert lines[2].split() == [
        "10,000", "create", "1", "100", "0", "125.0", "7.80", "12.30", "1,250.0", "0.78",
        "1.50", "10.0x", "10.0x",
    ]  # fmt: skip
    assert lines[3].split() == [
        "100,000", "read", "16", "100", "0+2", "1,500.5", "9.00", "30.25", "6,000.0", "2.25",
        "4.00", "4.0x", "4.0x",
    ]  # fmt: skip
    # right-aligned numeric columns end at the same place on every line
    assert len({len(line) for line in lines[1:]}) == 1
    assert lines[2].index("10.0x") == lines[3].index(" 4.0x")
    assert lines[2].index("10,000") == lines[3].index("100,000") + 1


def test_a_store_the_bench_did_not_fill_has_no_size() -> None:
    row = Row("create", 1, server=stats(1.0, 1.0, 1.0), raw=stats(1.0, 1.0, 1.0))
    assert row.size is None
    assert format_table([row]).splitlines()[2].split()[0] == "-"
    assert fmt_size(None) == "-" and fmt_size(0) == "0" and fmt_size(12345) == "12,345"


def test_render_and_json_carry_memory_command_and_rows() -> None:
    row = Row(
        "create", 1, server=stats(100.0, 10.0, 20.0), raw=stats(1000.0, 1.0, 2.0), size=10_000
    )
    report = Report(
        timestamp="2026-01-01T00:00:00Z",
        command=".venv/bin/python -m bench --requests 100",
        server="fhircare 0.1.0",
        store="FerretDB",
        rows=[row],
        server_peak_kib=102400,
        server_processes=1,
        notes=[],
    )
    text = render(report)
    assert "server peak memory (VmHWM): 100.0 MiB" in text
    assert text.splitlines()[-1] == "command: .venv/bin/python -m bench --requests 100"
    data = to_json(report)
    assert data["rows"][0]["size"] == 10_000
    assert data["rows"][0]["p50_ratio_server_over_raw"] == 10.0
    assert data["rows"][0]["throughput_ratio_raw_over_server"] == 10.0
    assert data["rows"][0]["server"]["p99_ms"] == 20.0
    assert data["server_peak_memory_kib"] == 102400
    assert data["table"] == text


def test_peak_memory_is_given_after_each_size() -> None:
    report = Report(
        timestamp="t",
        command="c",
        server="s",
        store="st",
        rows=[],
        server_peak_kib=4096,
        server_processes=1,
        notes=[],
        peak_by_size=[(10_000, 2048), (100_000, 4096)],
    )
    assert memory_line(report) == (
        "server peak memory (VmHWM): 4.0 MiB; after the rows of size 10,000: 2.0 MiB, "
        "100,000: 4.0 MiB"
    )
    assert to_json(report)["server_peak_memory_kib_by_size"] == [
        {"size": 10_000, "kib": 2048},
        {"size": 100_000, "kib": 4096},
    ]
    one = Report("t", "c", "s", "st", [], 4096, 1, [], [(10_000, 4096)])
    assert memory_line(one) == "server peak memory (VmHWM): 4.0 MiB"


def test_redact_hides_only_the_password() -> None:
    from bench.servers import redact

    assert redact("mongodb://bench:s3cr%40t@db.example:27017/?tls=true") == (
        "mongodb://bench:***@db.example:27017/?tls=true"
    )
    assert redact("mongodb://127.0.0.1:27017/") == "mongodb://127.0.0.1:27017/"
