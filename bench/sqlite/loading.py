"""Bringing the SQLite store to a size: population layers posted as transaction bundles.

Over HTTP on purpose: loading is a row of its own (entries per second through the whole
server: parsing, validation, indexing and one SQLite transaction per bundle).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.population import Population, population

BUNDLE = 1000
"""Entries per transaction bundle."""


@dataclass
class Loaded:
    resources: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.resources / self.seconds if self.seconds else 0.0


async def total(http: httpx.AsyncClient) -> int:
    """How many resources the store holds (a system-level count)."""
    answer = await http.get("", params={"_summary": "count"})
    answer.raise_for_status()
    return int(answer.json()["total"])


async def grow(
    http: httpx.AsyncClient, size: int, seed: int, layer: int
) -> tuple[Population, Loaded]:
    """Post population layer ``layer`` until the store holds ``size`` resources."""
    missing = max(0, size - await total(http))
    pop = population(max(missing, 1), seed, layer=layer)
    started = time.perf_counter()
    resources = pop.resources[:missing]
    for start in range(0, len(resources), BUNDLE):
        chunk = resources[start : start + BUNDLE]
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [_put(r) for r in chunk],
        }
        answer = await http.post("", json=bundle, headers={"Prefer": "return=minimal"}, timeout=600)
        if answer.status_code != 200:
            raise RuntimeError(
                f"loading bundle at {start}: {answer.status_code} {answer.text[:500]}"
            )
        done = start + len(chunk)
        rate = done / (time.perf_counter() - started)
        line = f"bench: loading {done:,}/{len(resources):,} ({rate:,.0f}/s)"
        if sys.stderr.isatty():
            print(f"\r{line}", end="", file=sys.stderr)
        elif done == len(resources) or done // BUNDLE % 50 == 0:
            print(line, file=sys.stderr)  # a line per 50 bundles into a log
    if sys.stderr.isatty():
        print(file=sys.stderr)
    return pop, Loaded(len(resources), time.perf_counter() - started)


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    url = f"{resource['resourceType']}/{resource['id']}"
    return {"resource": resource, "request": {"method": "PUT", "url": url}}
