"""The pure parts of the bench's search section: the population and the search table."""

from __future__ import annotations

from bench.population import plan, population
from bench.report import SearchRow, SearchSection, Stats, format_search_table, search_json
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
    assert plan(100_000).practitioners == 20


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
        ),
    ]
    text = format_search_table(rows)
    lines = text.splitlines()
    assert "server (HTTP)" in lines[0] and "raw pymongo" in lines[0]
    assert len({len(line) for line in lines[1:4]}) == 1  # header and rows share widths
    assert "5.0x" in lines[2] and "340/340" in lines[2]
    assert "+10/10 incl" in lines[3]
    assert "[1] Task owner: GET Task?owner=P/1" in text
    assert "    raw: resources.find({})" in text
    data = search_json(SearchSection(rows, "heading", ["note"]))
    assert data["rows"][0]["matches"] == {"server_total": 340, "raw_count": 340}
    assert data["rows"][0]["p50_ratio_server_over_raw"] == 5.0
    assert data["table"].startswith("heading")
