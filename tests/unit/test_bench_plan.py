"""The pure parts of the bench's plan: the rows, the scan policy, the
order rows run in at a size, and the command line's sizes."""

from __future__ import annotations

import argparse

import pytest
from bench.__main__ import jobs_at
from bench.options import parse_args
from bench.plan import (
    SAMPLE_SCANS_ABOVE,
    SCAN_CAP,
    RowContext,
    ScanOptions,
    row_plan,
    scan_policy,
)
from bench.raw_mongo import equivalent, is_ferretdb
from bench.runner import Operation

OPTIONS = ScanOptions(concurrency=(1, 32), search_reps=3, search_rounds=1)


def test_on_mongodb_everything_runs_in_full_at_every_size() -> None:
    for size in (10_000, 100_000, 1_000_000):
        policy = scan_policy(size, ferretdb=False, options=OPTIONS, scan_seconds=0.01)
        assert policy.reason is None
        assert policy.concurrency == (1, 32)
        assert policy.search_calls(1) == 3 and policy.search_calls(32) == 32
        assert policy.calls(100) == 100
        assert policy.select([1, 2, 3]) == [1, 2, 3]


def test_full_scans_and_unfilled_stores_lift_the_policy_on_ferretdb() -> None:
    full = ScanOptions((1, 32), 3, 2, full_scans=True)
    policy = scan_policy(100_000, ferretdb=True, options=full, scan_seconds=80.0)
    assert policy.reason is None and policy.concurrency == (1, 32)
    assert policy.search_calls(32) == 64
    assert scan_policy(None, ferretdb=True, options=OPTIONS).reason is None


def test_on_ferretdb_up_to_the_sampling_size_scan_bound_rows_run_once_at_concurrency_1() -> None:
    policy = scan_policy(10_000, ferretdb=True, options=OPTIONS, scan_seconds=8.04)
    assert policy.concurrency == (1,)
    assert policy.search_calls(1) == 1
    assert policy.select(["a", "b", "c"]) == ["a", "b", "c"]
    assert policy.calls(100) == SCAN_CAP and policy.calls(3) == 3
    assert policy.reason is not None
    assert policy.reason.startswith("size 10,000: FerretDB reads the whole store")
    assert "a raw count of the whole store took 8.0s" in policy.reason
    assert "--full-scans" in policy.reason
    assert SAMPLE_SCANS_ABOVE == 10_000


def test_on_ferretdb_above_the_sampling_size_only_a_sample_runs() -> None:
    policy = scan_policy(100_000, ferretdb=True, options=OPTIONS, scan_seconds=80.0)
    assert policy.concurrency == (1,)
    assert policy.select(["a", "b", "c"]) == ["a"]
    assert policy.calls(100) == 1
    assert policy.reason is not None and "the first search query once" in policy.reason
    # the thresholds are options
    wider = ScanOptions((1, 32), 3, 1, sample_above=100_000, cap=2)
    policy = scan_policy(100_000, ferretdb=True, options=wider)
    assert policy.select(["a", "b"]) == ["a", "b"] and policy.calls(100) == 2
    assert policy.reason is not None and "each reads every document" in policy.reason
    # scan-bound rows run at the lowest concurrency asked for
    assert scan_policy(500, True, ScanOptions((8, 32), 3, 1)).concurrency == (8,)


def test_ferretdb_is_told_by_build_info() -> None:
    assert is_ferretdb({"version": "7.0.77", "ferretdbVersion": "v1.24.2"})
    assert not is_ferretdb({"version": "7.0.14"})


def test_raw_equivalents_hold_the_resource_as_json() -> None:
    document = equivalent({"resourceType": "Patient", "id": "p1", "active": True}, "~1")
    assert document == {
        "_id": "Patient/p1~1",
        "json": '{"resourceType":"Patient","id":"p1","active":true}',
    }


def op(ctx: RowContext) -> Operation:
    async def call(_: int) -> str | None:
        return None

    return call


def args(*argv: str) -> argparse.Namespace:
    return parse_args(["--requests", "7", *argv])


def test_rows_run_scan_bound_first_and_as_the_policy_allows() -> None:
    plan = row_plan(3, 100, 40)
    names = [spec.name for spec in plan]
    assert names == [
        "create", "read", "update", "history", "transaction", "cond create", "$everything"
    ]  # fmt: skip
    limited = scan_policy(10_000, ferretdb=True, options=OPTIONS)
    jobs = [(j.spec.name, j.concurrency, j.requests) for j in jobs_at(plan, args(), limited, True)]
    assert jobs == [
        ("cond create", 1, SCAN_CAP),
        ("$everything", 1, SCAN_CAP),
        ("create", 1, 7),
        ("create", 32, 7),
        ("read", 1, 7),
        ("read", 32, 7),
        ("update", 1, 7),
        ("update", 32, 7),
        ("history", 1, 7),
        ("history", 32, 7),
        ("transaction", 1, 3),
        ("transaction", 32, 3),
    ]
    full = scan_policy(10_000, ferretdb=False, options=OPTIONS)
    jobs = [(j.spec.name, j.concurrency, j.requests) for j in jobs_at(plan, args(), full, True)]
    assert jobs[:4] == [
        ("cond create", 1, 40),
        ("cond create", 32, 40),
        ("$everything", 1, 7),
        ("$everything", 32, 7),
    ]
    # without a population (--base-url) rows that need it do not run
    assert "$everything" not in {j.spec.name for j in jobs_at(plan, args(), full, False)}


def test_everything_is_the_last_row_and_scan_bound() -> None:
    last = row_plan(1, 2, 3)[-1]
    assert last.name == "$everything"
    assert last.scan_bound and last.needs_population and last.requests is None


def test_sizes_on_the_command_line() -> None:
    assert parse_args([]).sizes == [10_000, 100_000]
    assert parse_args(["--sizes", "100000,1000,1000"]).sizes == [1000, 100_000]
    assert parse_args(["--sizes", "0,2000"]).sizes == [0, 2000]
    assert parse_args(["--search-size", "2000"]).sizes == [2000]
    assert parse_args(["--search-size", "0"]).sizes == [0]
    defaults = parse_args([])
    assert (defaults.search_reps, defaults.search_rounds, defaults.full_scans) == (3, 1, False)
    assert (defaults.scan_cap, defaults.sample_scans_above) == (SCAN_CAP, SAMPLE_SCANS_ABOVE)
    for bad in (["--sizes", "10"], ["--sizes", "x"], ["--sizes", "-1"], ["--search-size", "5"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
