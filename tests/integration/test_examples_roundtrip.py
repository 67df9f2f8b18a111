"""Every example loads, reads back as written (plus id and the server's meta, keeping the
profiles it claims), and reloads as a no-op.

https://hl7.org/fhir/R4/json.html: a server returns what it was given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fhircare.fhir import jsonio
from fhircare.interactions.request import Context
from fhircare.loader import bundle_files, entries_of, load
from fhircare.storage.protocol import HistoryQuery, ResourceStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_resources() -> list[dict[str, Any]]:
    return [e["resource"] for path in bundle_files([EXAMPLES]) for e in entries_of(path)]


def without_server_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


async def test_examples_load_round_trip_and_reload(store: ResourceStore) -> None:
    context = Context(store)
    steps: list[tuple[int, int]] = []
    report = await load(context, [EXAMPLES], lambda done, total: steps.append((done, total)))
    resources = example_resources()
    assert report.errors == []
    assert report.counts["created"] == len(resources) >= 60
    files = len(list(EXAMPLES.glob("*.json")))
    assert steps == [(n, files) for n in range(1, files + 1)]  # one step per file
    assert report.entries == len(resources) and report.seconds > 0

    for original in resources:
        stored = await store.read(original["resourceType"], original["id"])
        assert stored is not None and stored.body is not None, original["id"]
        assert stored.version == 1
        read_back = jsonio.loads(stored.body)
        content = without_server_meta(original)
        assert without_server_meta(read_back) == content
        assert list(read_back)[3:] == [k for k in content if k not in ("resourceType", "id")]
        assert jsonio.dumps(without_server_meta(read_back)) == jsonio.dumps(content)
        claimed = original.get("meta", {}).get("profile")
        assert read_back["meta"].get("profile") == claimed, original["id"]
    profiled = {r["resourceType"] for r in resources if "profile" in r.get("meta", {})}
    assert profiled == {"CarePlan", "CareTeam", "Communication", "Goal", "Task"}

    writes = await store.count_history(HistoryQuery())
    again = await load(context, [EXAMPLES])
    assert again.counts["unchanged"] == len(resources) and again.errors == []
    assert await store.count_history(HistoryQuery()) == writes


async def test_load_reports_the_resource_and_field_of_a_bad_entry(
    store: ResourceStore, tmp_path: Path
) -> None:
    bad = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Goal", "id": "g1", "lifecycleStatus": "bogus"},
                "request": {"method": "PUT", "url": "Goal/g1"},
            }
        ],
    }
    (tmp_path / "bad.json").write_bytes(jsonio.dumps(bad))
    report = await load(Context(store), [tmp_path])
    assert report.counts["failed"] == 1
    assert "Goal/g1" in report.errors[0] and "lifecycleStatus" in report.errors[0]


@pytest.mark.parametrize("literal", [b'"value": 7.00', b"09:30:00.031Z"])
def test_examples_hold_the_literals_fidelity_is_judged_on(literal: bytes) -> None:
    assert any(literal in path.read_bytes() for path in bundle_files([EXAMPLES]))
