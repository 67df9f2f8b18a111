"""Indexing a whole resource: dispatch by parameter type, dedupe, storable entries.

https://hl7.org/fhir/R4/search.html#ptypes. The last tests walk every example resource.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from fhircare.fhir import jsonio
from fhircare.search import indexer
from fhircare.search.entries import Entry
from fhircare.search.indexer import ExtractContext, Indexer, index_resource, storable

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.json"))
BASE = "https://fhircare.example.org/fhir"


@dataclass(frozen=True)
class Param:
    code: str
    type: str
    components: tuple[tuple[str, str], ...] = ()


def params(*items: Param) -> dict[str, Param]:
    return {p.code: p for p in items}


def by_path(paths: Mapping[str, str]) -> indexer.Evaluate:
    """A fake registry evaluate: each code is a top-level element (lists flattened)."""

    def evaluate(code: str, resource: dict[str, Any]) -> list[Any]:
        value = resource.get(paths[code])
        return value if isinstance(value, list) else [] if value is None else [value]

    return evaluate


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "contained": [{"resourceType": "Organization", "id": "org"}],
    "identifier": [{"system": "urn:mrn", "value": "1"}, {"system": "urn:mrn", "value": "1"}],
    "name": [{"family": "Zoë", "given": ["Zoë"]}],
    "birthDate": "1952-03",
    "active": True,
    "managingOrganization": {"reference": "#org"},
    "generalPractitioner": [
        {"reference": f"{BASE}/Practitioner/gp/_history/4"},
        {"reference": "Practitioner/gp"},
    ],
}
PATIENT_PARAMS = params(
    Param("identifier", "token"),
    Param("name", "string"),
    Param("birthdate", "date"),
    Param("active", "token"),
    Param("organization", "reference"),
    Param("general-practitioner", "reference"),
    Param("_text", "special"),
)
PATIENT_PATHS = {
    "identifier": "identifier",
    "name": "name",
    "birthdate": "birthDate",
    "active": "active",
    "organization": "managingOrganization",
    "general-practitioner": "generalPractitioner",
}


def test_every_type_is_dispatched_and_duplicates_removed() -> None:
    entries = index_resource(
        PATIENT, PATIENT_PARAMS, by_path(PATIENT_PATHS), ExtractContext("Patient", BASE)
    )
    assert entries == [
        {"p": "identifier", "s": "urn:mrn", "c": "1"},
        {"p": "name", "v": "zoe", "x": "Zoë"},
        {"p": "name", "v": "zoe zoe", "x": "Zoë Zoë"},
        {
            "p": "birthdate",
            "lo": datetime.fromisoformat("1952-03-01T00:00:00+00:00"),
            "hi": datetime.fromisoformat("1952-04-01T00:00:00+00:00"),
        },
        {"p": "active", "s": None, "c": "true"},
        {"p": "organization", "r": "#org", "ty": "Organization"},
        {"p": "general-practitioner", "r": "Practitioner/gp", "ty": "Practitioner"},
    ]


def test_special_parameters_are_not_evaluated() -> None:
    def evaluate(code: str, resource: dict[str, Any]) -> list[Any]:
        assert code != "_text"
        return []

    assert index_resource(PATIENT, PATIENT_PARAMS, evaluate, ExtractContext("Patient")) == []


def test_a_failing_expression_or_extractor_is_logged_and_the_rest_indexed(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def evaluate(code: str, resource: dict[str, Any]) -> list[Any]:
        if code == "name":
            raise RuntimeError("boom")
        return by_path(PATIENT_PATHS)(code, resource)

    def broken(code: str, values: list[Any], context: ExtractContext) -> list[Entry]:
        raise RuntimeError("extractor bug")

    monkeypatch.setitem(indexer.EXTRACTORS, "date", broken)
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        entries = index_resource(PATIENT, PATIENT_PARAMS, evaluate, ExtractContext("Patient"))
    assert {e["p"] for e in entries} == {
        "identifier",
        "active",
        "organization",
        "general-practitioner",
    }
    assert "search parameter name" in caplog.text and "search parameter birthdate" in caplog.text


def test_an_unknown_parameter_type_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        found = index_resource(
            PATIENT, params(Param("odd", "geo")), lambda c, r: ["x"], ExtractContext("Patient")
        )
    assert found == [] and "search parameter odd" in caplog.text


def test_unstorable_entries_are_dropped(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sloppy(code: str, values: list[Any], context: ExtractContext) -> list[Entry]:
        return [
            {"p": code, "$bad": 1},
            {"p": code, "a.b": 1},
            {"p": code, "v": "x\x00"},
            {"p": code, "v": [[1]]},
            {"p": code, "v": float("inf")},
            {"p": code, "v": 2**64},
            {"p": code, "v": object()},
            {"p": code, "v": "fine"},
        ]

    monkeypatch.setitem(indexer.EXTRACTORS, "uri", sloppy)
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        found = index_resource(
            PATIENT, params(Param("u", "uri")), lambda c, r: [1], ExtractContext("Patient")
        )
    assert found == [{"p": "u", "v": "fine"}]
    assert caplog.text.count("cannot be stored") == 7


OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "bp",
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
    "component": [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {"value": 140, "code": "mm[Hg]"},
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
            "valueQuantity": {"value": 90, "code": "mm[Hg]"},
        },
    ],
}
OBSERVATION_PARAMS = params(
    Param("component-code", "token"),
    Param("component-value-quantity", "quantity"),
    Param(
        "component-code-value-quantity",
        "composite",
        (("component-code", "code"), ("component-value-quantity", "value.ofType(Quantity)")),
    ),
    Param("broken", "composite", (("nowhere", "code"),)),
)


def test_composite_fragments_from_the_built_in_component_paths(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def evaluate(code: str, resource: dict[str, Any]) -> list[Any]:
        composites = ("component-code-value-quantity", "broken")
        return resource["component"] if code in composites else []

    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        entries = index_resource(
            OBSERVATION, OBSERVATION_PARAMS, evaluate, ExtractContext("Observation")
        )
    assert "search parameter broken" in caplog.text
    systolic, diastolic = entries
    assert systolic["k"] == ["http://loinc.org|8480-6", "8480-6"]
    assert systolic["q"] == [{"i": 1, "lo": 139.5, "hi": 140.5, "c": "mm[Hg]"}]
    assert diastolic["k"] == ["http://loinc.org|8462-4", "8462-4"]
    assert diastolic["q"] == [{"i": 1, "lo": 89.5, "hi": 90.5, "c": "mm[Hg]"}]


def test_composite_fragments_from_the_registry() -> None:
    seen: list[str] = []

    def evaluate_composite(code: str, resource: dict[str, Any]) -> list[tuple[list[Any], ...]]:
        seen.append(code)
        return [([{"coding": [{"code": "a"}]}], [{"value": 1}])]

    entries = index_resource(
        OBSERVATION,
        {"component-code-value-quantity": OBSERVATION_PARAMS["component-code-value-quantity"]},
        lambda c, r: [],
        ExtractContext("Observation"),
        evaluate_composite,
        types={"component-code": "token", "component-value-quantity": "quantity"},
    )
    assert seen == ["component-code-value-quantity"]
    assert entries == [
        {
            "p": "component-code-value-quantity",
            "k": ["|a", "a"],
            "q": [{"i": 1, "lo": 0.5, "hi": 1.5}],
        }
    ]


class FakeRegistry:
    """The registry's surface that ``Indexer`` uses, over top-level paths."""

    def __init__(self, paths: Mapping[str, str], known: Mapping[str, Param]) -> None:
        self.paths, self.known = paths, known

    def params_for(self, resource_type: str) -> Mapping[str, Param]:
        return self.known

    def evaluate(self, resource_type: str, code: str, resource: Mapping[str, Any]) -> list[Any]:
        return by_path(self.paths)(code, dict(resource))

    def evaluate_all(self, resource_type: str, resource: Mapping[str, Any]) -> dict[str, list[Any]]:
        return {code: self.evaluate(resource_type, code, resource) for code in self.paths}

    def evaluate_composite(
        self, resource_type: str, code: str, resource: Mapping[str, Any]
    ) -> list[tuple[list[Any], ...]]:
        return []


def test_indexer_over_a_registry() -> None:
    index = Indexer(FakeRegistry(PATIENT_PATHS, PATIENT_PARAMS), BASE)
    everything = index.entries(PATIENT)
    assert len(everything) == 7
    assert index.entries_of(PATIENT, "general-practitioner") == [
        {"p": "general-practitioner", "r": "Practitioner/gp", "ty": "Practitioner"}
    ]
    assert index.entries_of(PATIENT, "nope") == []


def example_resources() -> list[dict[str, Any]]:
    found = []
    for path in EXAMPLES:
        bundle = jsonio.loads(path.read_bytes())
        found += [entry["resource"] for entry in bundle["entry"]]
    return found


def contract_problems(entry: Entry, sub_entry: bool = False) -> list[str]:
    """What entries.py forbids: ``$``/dotted keys, NUL, nesting other than a composite's
    ``q`` of flat sub-entries (and non-storables)."""
    problems = []
    for key, value in entry.items():
        if key.startswith("$") or "." in key or "\x00" in key:
            problems.append(f"key {key!r}")
        if key == "q" and not sub_entry and isinstance(value, list):
            for part in value:
                if not isinstance(part, dict) or not isinstance(part.get("i"), int):
                    problems.append(f"sub-entry {part!r}")
                else:
                    problems += contract_problems(part, sub_entry=True)
            continue
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, list | dict) for item in items):
            problems.append(f"nested {key!r}")
        if any(isinstance(item, str) and "\x00" in item for item in items):
            problems.append(f"NUL in {key!r}")
    if not storable(entry) or (not sub_entry and not isinstance(entry.get("p"), str)):
        problems.append("not storable")
    return problems


TYPES = ("string", "token", "date", "number", "quantity", "reference", "uri")


def test_every_extractor_survives_every_element_of_every_example(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every top-level element value of every example, fed to every type of extractor
    (and to a composite of each pair), gives storable entries or warnings, never errors."""
    resources = example_resources()
    assert len(resources) >= 50
    everything = params(
        *(Param(t, t) for t in TYPES),
        *(
            Param(f"{a}-{b}", "composite", ((a, "code"), (b, "value")))
            for a in TYPES
            for b in TYPES
        ),
    )

    def evaluate(code: str, resource: dict[str, Any]) -> list[Any]:
        values: list[Any] = []
        for value in resource.values():
            values += value if isinstance(value, list) else [value]
        return values

    total = 0
    with caplog.at_level(logging.DEBUG, logger="fhircare.search"):
        for resource in resources:
            entries = index_resource(
                resource, everything, evaluate, ExtractContext(resource["resourceType"], BASE)
            )
            total += len(entries)
            for entry in entries:
                assert contract_problems(entry) == [], (resource["id"], entry)
    assert total > 1000
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_examples_index_through_the_real_registry_without_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from fhircare.search.registry import default_registry

    index = Indexer(default_registry(), BASE)
    by_id: dict[str, list[Entry]] = {}
    with caplog.at_level(logging.WARNING):
        for resource in example_resources():
            by_id[resource["id"]] = index.entries(resource)
    assert [r.getMessage() for r in caplog.records] == []
    for entries in by_id.values():
        assert all(contract_problems(e) == [] for e in entries)
    hba1c = {e["p"]: e for e in by_id["obs-diabetes-hf-hba1c-2026-03"]}
    assert "http://loinc.org|4548-4" in hba1c["code-value-quantity"]["k"]
    [part] = hba1c["code-value-quantity"]["q"]
    assert part["i"] == 1 and part["lo"] == pytest.approx(8.05) and part["c"] == "%"
    assert hba1c["subject"] == {"p": "subject", "r": "Patient/pat-diabetes-hf", "ty": "Patient"}
    assert hba1c["value-quantity"]["lo"] == pytest.approx(8.05)
