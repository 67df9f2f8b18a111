"""The sync bench's pure parts: its data is deterministic and closed under references in
both forms it is sent in (PUTs with our ids, POSTs with ``urn:uuid`` full URLs,
https://hl7.org/fhir/R4/bundle.html#references), and its table has every row."""

from __future__ import annotations

from collections import Counter

import pytest
from bench.sync import data
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
    vs_hapi,
)

from fhircare.sync.identity import references


def test_data_is_deterministic_and_counted() -> None:
    first = list(data.resources(1003, 7, "t"))
    assert first == list(data.resources(1003, 7, "t"))
    assert first != list(data.resources(1003, 8, "t"))
    assert len(first) == 1003
    assert len({(r["resourceType"], r["id"]) for r in first}) == 1003
    assert dict(Counter(r["resourceType"] for r in first)) == data.counts(1003)
    assert data.counts(1003)["Patient"] == 101
    assert {r["meta"]["tag"][0]["code"] for r in first} == {"t"}


def test_every_reference_targets_a_resource_made_before_it() -> None:
    made: set[str] = set()
    for resource in data.resources(237, 1, "t"):
        refs = list(references(resource))
        assert all(ref in made for ref in refs), (resource["id"], refs)
        if resource["resourceType"] != "Patient":
            assert refs, resource["id"]
        made.add(f"{resource['resourceType']}/{resource['id']}")


def test_hapi_bundles_refer_only_to_their_own_entries() -> None:
    chunks = list(data.chunks(data.resources(250, 1, "t"), 100))
    assert [len(c) for c in chunks] == [100, 100, 50]
    for chunk in chunks:
        bundle = data.hapi_bundle(chunk)
        full_urls = {e["fullUrl"] for e in bundle["entry"]}
        assert len(full_urls) == len(chunk)
        for entry in bundle["entry"]:
            assert "id" not in entry["resource"]
            assert entry["request"] == {"method": "POST", "url": entry["resource"]["resourceType"]}
            assert set(references(entry["resource"])) <= full_urls


def test_local_bundles_put_our_ids() -> None:
    chunk = list(data.resources(20, 1, "t"))
    entries = data.local_bundle(chunk)["entry"]
    assert [e["request"]["url"] for e in entries[:2]] == [
        "Patient/bs000000-0",
        "Condition/bs000000-1",
    ]
    assert all(e["request"]["method"] == "PUT" for e in entries)


def rows(size: int, push_rss: int, failed: int = 0) -> list[Row]:
    return [
        Row(size, HAPI_CREATE, size, 0, 10.0, 90_000, size),
        Row(size, SYNC_PUSH, size, failed, 20.0, push_rss, size),
        Row(size, HAPI_READ, size, 0, 2.0, 40_000, size),
        Row(size, SYNC_PULL, size - 1, 0, 4.0, 200_000, size),
    ]


def test_table_has_every_row_ratio_and_memory_growth() -> None:
    run = Run(
        "2026-01-01T00:00:00Z",
        "python -m bench.sync",
        rows(100_000, 210_000) + rows(10_000, 200_000),
    )
    text = render(run)
    lines = text.splitlines()
    for name in (HAPI_CREATE, SYNC_PUSH, HAPI_READ, SYNC_PULL):
        assert sum(name in line for line in lines) >= 2, name
    body = [line for line in lines if line.lstrip().startswith(("10,000", "100,000"))]
    assert body[0].lstrip().startswith("10,000") and HAPI_CREATE in body[0]
    push = next(line for line in body if SYNC_PUSH in line)
    assert "0.5x" in push and "195.3 MiB" in push and " ok" in push
    assert "MISMATCH" in next(line for line in body if SYNC_PULL in line)
    assert "sync push: 195.3 MiB at 10,000, 205.1 MiB at 100,000: 1.05x" in text
    assert text.endswith("command: python -m bench.sync")
    assert vs_hapi(run.rows, run.rows[3]) == pytest.approx((99_999 / 4.0) / (100_000 / 2.0))
    assert problems(run) == [
        "100,000 sync pull: MISMATCH: 99,999 of 100,000, 0 failed",
        "10,000 sync pull: MISMATCH: 9,999 of 10,000, 0 failed",
    ]
    assert [r["name"] for r in to_json(run)["rows"]][:2] == [HAPI_CREATE, SYNC_PUSH]
