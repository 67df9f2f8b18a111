"""The pure parts of the bench's search section: the population (and its layers), the
search table and its checks."""

from __future__ import annotations

import httpx
import pytest
from bench.population import plan, population
from bench.report import SearchRow, SearchSection, Stats, format_search_table, search_json
from bench.runner import Outcome
from bench.search_bench import page2_links, row_notes
from bench.search_data import MIN_LAYER, layer_size
from bench.search_queries import bundle_counts, compile_query, queries


def stats(p50: float) -> Stats:
    return Stats(requests=5, errors=0, seconds=1.0, throughput=5.0, p50_ms=p50, p99_ms=p50 * 2)


def test_population_is_deterministic_for_a_seed() -> None:
    assert population(500, seed=7).resources == population(500, seed=7).resources
    assert population(500, seed=7).resources != population(500, seed=8).resources


def test_population_has_exactly_the_planned_size_and_mix() -> None:
    for size in (20, 500, 1234):
        pop = population(size)
        assert len(pop.resources) == size == plan(size).total
        assert pop.counts() == {k: v for k, v in plan(size).counts().items() if v}
    assert plan(100_000).patients == 2000
    assert plan(100_000).practitioners == 200


def test_layers_have_ids_of_their_own_and_layer_0_is_the_plain_population() -> None:
    assert population(300, seed=7, layer=0).resources == population(300, seed=7).resources
    first, second = population(300, seed=7), population(300, seed=7, layer=1)
    assert second.resources == population(300, seed=7, layer=1).resources
    assert second.patients[0] == "bench-l1-pat-000"
    assert not {r["id"] for r in first.resources} & {r["id"] for r in second.resources}
    keys = {f"{r['resourceType']}/{r['id']}" for r in second.resources}
    for task in (r for r in second.resources if r["resourceType"] == "Task"):
        assert task["for"]["reference"] in keys  # references stay within the layer
    with pytest.raises(ValueError):
        population(300, layer=-1)


def test_combined_layers_offer_every_id_to_the_queries() -> None:
    first, second = population(300, seed=7), population(500, seed=7, layer=1)
    both = first.combined(second)
    assert len(both.resources) == 800
    assert both.patients == first.patients + second.patients
    assert both.counts() == {
        k: first.counts().get(k, 0) + second.counts().get(k, 0) for k in both.counts()
    }
    assert both.families == sorted(set(first.families) | set(second.families))
    assert both.observation_codes == first.observation_codes
    picked = both.pick("patients", len(both.patients), seed=1)
    assert set(picked) == set(both.patients)


def test_layer_size_loads_only_what_is_missing() -> None:
    assert layer_size(0, 10_000) == 10_000
    assert layer_size(16_720, 100_000) == 83_280
    assert layer_size(9_995, 10_000) == MIN_LAYER  # a population has at least 20
    assert layer_size(10_000, 10_000) == 0
    assert layer_size(16_720, 12_000) == 0


def test_population_references_resolve() -> None:
    pop = population(600)
    keys = {f"{r['resourceType']}/{r['id']}" for r in pop.resources}
    tasks = [r for r in pop.resources if r["resourceType"] == "Task"]
    assert tasks
    for task in tasks:
        for field in ("for", "focus", "owner"):
            assert task[field]["reference"] in keys


def test_queries_use_different_values_per_repetition() -> None:
    plan_ = queries(population(2000), reps=5)
    patients = {pairs[0][1] for pairs in plan_[0].params}
    assert len(patients) == 5  # 40 patients to pick from; 2 practitioners cycle
    assert all(len(q.params) == 5 for q in plan_)


def test_compile_query_builds_the_store_prefilter() -> None:
    compiled = compile_query("Task", [("owner", "Practitioner/x"), ("_count", "50")])
    assert compiled.count == 50
    assert compiled.filter == {
        "deleted": False,
        "type": "Task",
        "$and": [{"$and": [{"idx.p": "owner"}, {"idx.r": {"$eq": "Practitioner/x"}}]}],
    }
    chained = compile_query("Task", [("patient.name", "Smith")])
    assert chained.chain_type == "Patient"
    assert chained.chain_step is not None and chained.chain_step["type"] == "Patient"


def test_bundle_counts() -> None:
    bundle = {
        "total": 7,
        "entry": [{"search": {"mode": "match"}}] * 3 + [{"search": {"mode": "include"}}],
    }
    assert bundle_counts(bundle) == (3, 1, 7)
    assert bundle_counts({}) == (0, 0, None)


def search_row(
    query: str, p50: float, totals: tuple[int, int], concurrency: int = 1, size: int = 10_000
) -> SearchRow:
    return SearchRow(
        query,
        f"{query.split()[0]}?x",
        f"raw {query}",
        stats(p50),
        stats(p50 / 5),
        10,
        10,
        *totals,
        concurrency=concurrency,
        size=size,
    )


def test_search_table_lines_up_and_lists_the_raw_queries() -> None:
    rows = [
        SearchRow(
            "Task owner",
            "Task?owner=P/1",
            "resources.find({})",
            stats(12.5),
            stats(2.5),
            100,
            100,
            340,
            340,
            size=10_000,
        ),
        SearchRow(
            "CarePlan patient+_include",
            "CarePlan?patient=X",
            "raw2",
            stats(8.0),
            stats(4.0),
            10,
            10,
            10,
            10,
            10,
            10,
            concurrency=32,
            size=10_000,
        ),
        SearchRow(
            "Task owner",
            "Task?owner=P/2",
            "resources.find({2})",
            stats(125.0),
            stats(25.0),
            100,
            100,
            3400,
            3400,
            size=100_000,
        ),
    ]
    text = format_search_table(rows)
    lines = text.splitlines()
    assert "server (HTTP)" in lines[0] and "raw pymongo" in lines[0]
    assert lines[1].split()[:4] == ["size", "query", "conc", "calls"]
    assert len({len(line) for line in lines[1:5]}) == 1  # header and rows share widths
    assert lines[2].split()[:5] == ["10,000", "Task", "owner", "1", "5"]
    assert "5.0x" in lines[2] and "340/340" in lines[2]
    assert lines[3].split()[:5] == ["10,000", "CarePlan", "patient+_include", "32", "5"]
    assert "+10/10 incl" in lines[3]
    assert lines[4].split()[0] == "100,000" and "3,400/3,400" in lines[4]
    # each query's request and raw query once, as at the first size it ran
    assert "[1] Task owner: GET Task?owner=P/1" in text
    assert "    raw: resources.find({})" in text
    assert "[2] CarePlan patient+_include: GET CarePlan?patient=X" in text
    assert "[3]" not in text and "P/2" not in text
    data = search_json(SearchSection(rows, "heading", ["note"]))
    assert data["rows"][0]["matches"] == {"server_total": 340, "raw_count": 340}
    assert data["rows"][0]["p50_ratio_server_over_raw"] == 5.0
    assert [(r["size"], r["concurrency"]) for r in data["rows"]] == [
        (10_000, 1),
        (10_000, 32),
        (100_000, 1),
    ]
    assert data["table"].startswith("heading")


def test_row_notes_report_errors_and_count_mismatches() -> None:
    plan_ = {q.name: q for q in queries(population(500), reps=1)}
    ok = Outcome(requests=32, concurrency=32, wall_seconds=1.0)
    failed = Outcome(32, 32, 1.0, errors=2, first_error="ReadTimeout")
    exact, chain = plan_["Task owner"], plan_["Task patient.name (chain)"]
    assert row_notes(exact, search_row("Task owner", 10, (340, 340), 32), ok, ok) == []
    (note,) = row_notes(exact, search_row("Task owner", 10, (339, 340), 32), ok, ok)
    assert note == (
        "MISMATCH: Task owner size 10,000 concurrency=32: the server counted 339 matches, "
        "the raw filter 340"
    )
    # a chain's raw count may be larger, never smaller
    assert row_notes(chain, search_row("chain", 10, (20, 25)), ok, ok) == []
    assert row_notes(chain, search_row("chain", 10, (26, 25)), ok, ok)[0].startswith("MISMATCH")
    # no count check when calls failed: their totals are missing
    (error,) = row_notes(exact, search_row("Task owner", 10, (300, 340), 32), failed, ok)
    assert error == (
        "errors: search Task owner size 10,000 concurrency=32 server: 2 of 32; first: ReadTimeout"
    )


async def test_page_2_walks_only_parameter_sets_that_have_a_page_2() -> None:
    query = queries(population(2000), reps=3)[-1]
    assert query.page2
    query.compiled = [compile_query(query.resource_type, pairs) for pairs in query.params]
    long_owner = query.params[1][0][1]

    def answer(request: httpx.Request) -> httpx.Response:
        links = [{"relation": "self", "url": str(request.url)}]
        if request.url.params["owner"] == long_owner:
            links.append({"relation": "next", "url": "http://fhir/Task?_page=2"})
        return httpx.Response(200, json={"resourceType": "Bundle", "link": links})

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="http://fhir"
    ) as http:
        walkable, links, problem = await page2_links(http, query)
        assert walkable is not None and links == ["http://fhir/Task?_page=2"]
        assert walkable.params == [query.params[1]]
        assert walkable.compiled == [query.compiled[1]]
        assert problem is not None and "has no page 2" in problem
        query.params, query.compiled = [query.params[0]], [query.compiled[0]]
        assert (await page2_links(http, query))[0] is None
