"""The pure parts of ``bench/everything_ops.py``: the raw filters it compiles with
fhircare's own code, and the HTTP walk over every page (on ``httpx.MockTransport``)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from bench.everything_ops import (
    compartment_filter,
    everything_url,
    http_operation,
    next_url,
    supporting_ids,
)
from bench.population import population
from bench.search_queries import Seen

from fhircare.care.compartment import Scope, compartment_predicate
from fhircare.search.indexer import Indexer
from fhircare.search.match import matches
from fhircare.search.registry import default_registry


def test_next_url() -> None:
    bundle = {"link": [{"relation": "self", "url": "a"}, {"relation": "next", "url": "b"}]}
    assert next_url(bundle) == "b"
    assert next_url({"link": [{"relation": "self", "url": "a"}]}) is None
    assert next_url({}) is None
    assert everything_url("p1") == "/Patient/p1/$everything"


def test_the_compartment_filter_is_one_query_over_every_type() -> None:
    criteria = compartment_filter("bench-pat-1")
    assert criteria["deleted"] is False and "type" not in criteria
    (branches,) = criteria["$and"]
    by_type = {b["$and"][0]["type"]["$eq"]: b for b in branches["$or"]}
    assert {"CarePlan", "Goal", "Observation", "Task", "Patient"} <= set(by_type)
    task = json.dumps(by_type["Task"])
    assert '"idx.p": "patient"' in task and '"idx.r": {"$eq": "Patient/bench-pat-1"}' in task
    elem = json.dumps(compartment_filter("bench-pat-1", per_entry=True))
    assert '"$elemMatch": {"p": "patient", "r": {"$eq": "Patient/bench-pat-1"}}' in elem


def test_the_compartment_is_what_refers_to_the_patient() -> None:
    """Evaluated in memory on each resource's index entries (what the store's exact match
    does), the compartment predicate picks the Tasks, CarePlans, Observations and Goals of
    the population that name the patient, and nothing else."""
    pop = population(400, seed=3)
    registry = default_registry()
    indexer = Indexer(registry)
    patient = pop.patients[1]
    found = compartment_predicate(registry, Scope(patient))
    assert found is not None
    picked = set()
    expected = set()
    for resource in pop.resources:
        key = f"{resource['resourceType']}/{resource['id']}"
        fields = {"rid": resource["id"], "type": resource["resourceType"], "lastUpdated": None}
        if matches(found, indexer.entries(resource), fields):
            picked.add(key)
        subject = resource.get("for") or resource.get("subject") or {}
        if subject.get("reference") == f"Patient/{patient}":
            expected.add(key)
    assert picked == expected and expected
    assert {k.split("/")[0] for k in picked} <= {"Task", "CarePlan", "Observation", "Goal"}


def test_the_supporting_reads_are_what_a_page_refers_to() -> None:
    pop = population(400, seed=3)
    documents = [{"json": json.dumps(r)} for r in pop.resources if r["resourceType"] == "Task"]
    owners = sorted({json.loads(d["json"])["owner"]["reference"] for d in documents})
    assert supporting_ids(documents) == owners  # not the patients or care plans they name
    goals = [{"json": json.dumps(r)} for r in pop.resources if r["resourceType"] == "Goal"]
    assert supporting_ids(goals) == []  # a Goal refers only to its patient


async def test_the_http_side_follows_every_page() -> None:
    pages: dict[str, dict[str, Any]] = {
        "/fhir/Patient/p1/$everything": {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 3,
            "link": [{"relation": "next", "url": "http://test/fhir/page2"}],
            "entry": [
                {"search": {"mode": "match"}},
                {"search": {"mode": "match"}},
                {"search": {"mode": "include"}},
            ],
        },
        "/fhir/page2": {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 3,
            "link": [],
            "entry": [{"search": {"mode": "match"}}, {"search": {"mode": "include"}}],
        },
    }
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        page = pages.get(request.url.path)
        return httpx.Response(200, json=page) if page else httpx.Response(404, json={})

    transport = httpx.MockTransport(answer)
    async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
        seen = Seen()
        assert await http_operation(http, ["p1"], seen, count=2)(0) is None
        assert asked == [
            "http://test/fhir/Patient/p1/$everything?_count=2",
            "http://test/fhir/page2",
        ]
        assert (seen.page, seen.included, seen.total) == (3, 2, 3)
        problem = await http_operation(http, ["p2"])(0)
        assert problem is not None and "404" in problem
