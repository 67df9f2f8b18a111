"""The structural engines agree: every valid resource passes both, every invalid one fails both.

https://hl7.org/fhir/R4/json.html, https://hl7.org/fhir/R4/datatypes.html. Valid resources
are the example bundles, the minimal instances and the bench populations; invalid ones are
generated from them (``mutations``), one broken rule each, alongside valid variants. Where
the engines disagreed, the one the R4 text proved wrong was fixed in our code (mostly in the
common rule walk, see ``validation/formats.py``), never by dropping the case here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from bench.population import population
from tests.unit.validation.minimal_resources import MINIMAL, care_plan, minimal
from tests.unit.validation.mutations import FAMILIES, Variant, variants

from fhircare.fhir import jsonio
from fhircare.validation import engines, find_issues

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def engine() -> None:
    """Both engines run in every test here: not once per engine (``conftest.engine``)."""
    return None


def _examples() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(EXAMPLES.glob("*.json")):
        bundle = jsonio.loads(path.read_bytes())
        for index, entry in enumerate(bundle["entry"]):
            resource = entry["resource"]
            out.append((f"{path.name}#{index} {resource['resourceType']}", resource))
    return out


@cache
def bases() -> list[tuple[str, dict[str, Any]]]:
    """Every example resource, every minimal instance and the realistic CarePlan."""
    out = _examples()
    out += [(f"minimal {name}", minimal(name)) for name in sorted(MINIMAL)]
    out.append(("care_plan()", care_plan()))
    return out


@cache
def corpus() -> list[Variant]:
    """The variants of one base per resource type (and of the large CarePlan)."""
    seen: set[str] = set()
    out: list[Variant] = []
    for label, resource in bases():
        if resource["resourceType"] not in seen or label == "care_plan()":
            seen.add(resource["resourceType"])
            out.extend(variants(label, resource))
    return out


def _verdicts(resource: dict[str, Any]) -> dict[str, bool]:
    """Engine name -> whether it rejects ``resource``."""
    return {name: bool(find_issues(resource, name)) for name in engines.ENGINES}


def _disagreements(resources: list[tuple[str, dict[str, Any]]], invalid: bool) -> list[str]:
    out = []
    for label, resource in resources:
        verdicts = _verdicts(resource)
        if set(verdicts.values()) != {invalid}:
            out.append(f"{label}: {verdicts}")
    return out


def test_every_valid_resource_passes_both_engines() -> None:
    assert len(bases()) > 90
    assert _disagreements(bases(), invalid=False) == []


@pytest.mark.parametrize("seed", [7, 2026])
def test_bench_population_passes_both_engines(seed: int) -> None:
    resources = population(500, seed).resources
    parsed = [(f"#{i}", jsonio.loads(jsonio.dumps(r))) for i, r in enumerate(resources)]
    assert len(parsed) == 500
    assert _disagreements(parsed, invalid=False) == []


@pytest.mark.parametrize("family", FAMILIES)
def test_both_engines_decide_each_variant_alike(family: str) -> None:
    chosen = [v for v in corpus() if v.family == family]
    assert chosen
    invalid = family != "valid variants"
    assert all(v.valid is not invalid for v in chosen)
    assert _disagreements([(str(v), v.resource) for v in chosen], invalid) == []


def test_the_corpus_is_large_and_varied() -> None:
    found = corpus()
    invalid = [v for v in found if not v.valid]
    assert len(invalid) > 1000 and len(found) - len(invalid) > 200
    assert len({v.base for v in found}) > 20
    assert len({v.kind for v in invalid}) > 150
    # each variant really differs from its base, and is plain JSON again
    assert all(json.loads(jsonio.dumps(v.resource)) for v in found)
