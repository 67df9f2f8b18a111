"""The SMART bench's pure parts: which URLs each row asks, and the table."""

from __future__ import annotations

import argparse

from bench.population import population
from bench.report import Stats
from bench.smart import MODES, _urls, render


def test_rows_ask_about_the_patient_in_context() -> None:
    pop = population(500, seed=3)
    patient = pop.pick("patients", 1, 3)[0]
    urls = _urls(pop, patient)
    reads = urls["read own Observation"]
    owned = {
        r["id"]
        for r in pop.resources
        if r["resourceType"] == "Observation" and r["subject"]["reference"] == f"Patient/{patient}"
    }
    assert reads and {url.rsplit("/", 1)[1] for url in reads} == owned
    assert urls["search own Observations"] == [f"/Observation?subject=Patient/{patient}"]
    assert urls["$everything"] == [f"/Patient/{patient}/$everything"]


def test_the_table_gives_each_smart_mode_over_none() -> None:
    def stats(p50: float) -> Stats:
        return Stats(10, 0, 1.0, 10.0, p50, p50 * 2)

    results = {mode: {"read": stats(2.0 * (i + 1))} for i, mode in enumerate(MODES)}
    args = argparse.Namespace(size=100, requests=10, concurrency=2)
    table = render(results, args, "cmd")
    line = next(row for row in table.splitlines() if row.startswith("read"))
    assert line.rstrip().endswith("2.00x      3.00x")
    assert table.splitlines()[-1] == "command: cmd"


def test_each_cell_keeps_its_best_round() -> None:
    from bench.smart import _better

    def stats(p50: float) -> Stats:
        return Stats(10, 0, 1.0, 10.0, p50, p50)

    first = {"read": stats(5.0), "search": stats(2.0)}
    second = {"read": stats(3.0), "search": stats(4.0)}
    kept = _better(_better(None, first), second)
    assert kept["read"].p50_ms == 3.0 and kept["search"].p50_ms == 2.0
