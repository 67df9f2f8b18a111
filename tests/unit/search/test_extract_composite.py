"""composite extraction: one entry per fragment, ``k`` every way to write the combination.

https://hl7.org/fhir/R4/search.html#composite
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from fhircare.fhir import jsonio
from fhircare.search.extract import composite
from fhircare.search.extract.context import ExtractContext
from fhircare.search.indexer import component_values
from fhircare.search.normalize import composite_part

CTX = ExtractContext("Observation", "https://fhircare.example.org/fhir")
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CODE_QUANTITY = [("code", "token"), ("value-quantity", "quantity")]


def keys(values: list[Any], components: list[tuple[str, str]] = CODE_QUANTITY) -> list[Any]:
    return [e["k"] for e in composite.extract("code-value-quantity", values, CTX, components)]


def test_token_and_quantity_forms() -> None:
    code = {"coding": [{"system": LOINC, "code": "4548-4", "display": "HbA1c"}], "text": "A1c"}
    value = jsonio.loads(f'{{"value": 8.10, "unit": "percent", "system": "{UCUM}", "code": "%"}}')
    (k,) = keys([[[code], [value]]])
    assert sorted(k) == sorted(
        f"{c}${q}"
        for c in (f"{LOINC}|4548-4", "4548-4")
        for q in ("8.1", f"8.1|{UCUM}|%", "8.1||%", "8.1||percent")
    )


def test_the_query_side_normalises_to_a_key() -> None:
    code = {"coding": [{"system": LOINC, "code": "4548-4"}]}
    (k,) = keys([[[code], [jsonio.loads(f'{{"value": 81e-1, "system": "{UCUM}", "code": "%"}}')]]])
    for query in (f"{LOINC}|4548-4$8.100|{UCUM}|%", "4548-4$8.1", "4548-4$8.10||%"):
        left, right = query.split("$")
        assert f"{composite_part('token', left)}${composite_part('quantity', right)}" in k


def test_code_without_system() -> None:
    (k,) = keys([[[{"coding": [{"code": "x"}]}], [3]]])
    assert sorted(k) == ["x$3", "|x$3"]


def test_one_entry_per_fragment_keeps_parts_together() -> None:
    systolic = [[{"coding": [{"system": LOINC, "code": "8480-6"}]}], [{"value": 140}]]
    diastolic = [[{"coding": [{"system": LOINC, "code": "8462-4"}]}], [{"value": 90}]]
    first, second = keys([systolic, diastolic])
    assert "8480-6$140" in first and "8480-6$90" not in first
    assert "8462-4$90" in second and "8462-4$140" not in second


def test_a_fragment_missing_a_component_gives_no_entry_and_no_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert keys([[[{"coding": [{"code": "x"}]}], []]]) == []
    assert caplog.records == []


def test_concept_string_date_reference_and_uri_components() -> None:
    concept = [("code", "token"), ("value-concept", "token")]
    (k,) = keys(
        [[[{"coding": [{"code": "a"}]}], [{"coding": [{"system": "s", "code": "b"}]}]]], concept
    )
    assert sorted(k) == sorted(["a$s|b", "a$b", "|a$s|b", "|a$b"])
    string = [("code", "token"), ("value-string", "string")]
    assert keys([[["a"], ["  Zoë  Smith "]]], string) == [["|a$zoe smith", "a$zoe smith"]]
    dates = [("code", "token"), ("value-date", "date")]
    (k,) = keys(
        [[["a"], ["2026-03-16T08:45:00-05:00", {"start": "2026-04", "end": "2026-05-01"}]]], dates
    )
    assert {
        "a$2026",
        "a$2026-03",
        "a$2026-03-16",
        "a$2026-03-16T08:45:00-05:00",
        "a$2026-04",
    } <= set(k)
    assert {"a$2026-05-01", "|a$2026-05"} <= set(k)
    refs = [("relatesto", "token"), ("relation", "reference")]
    (k,) = keys([[["replaces"], [{"reference": f"{CTX.base_url}/DocumentReference/d1"}]]], refs)
    assert "replaces$DocumentReference/d1" in k
    uris = [("code", "token"), ("url", "uri")]
    assert keys([[["a"], ["http://x/y"]]], uris) == [["|a$http://x/y", "a$http://x/y"]]


@pytest.mark.parametrize(
    ("fragment", "components"),
    [
        ([["a"], ["not a number"]], CODE_QUANTITY),
        ([["a"], [{"unit": "mg"}]], CODE_QUANTITY),
        ([[7], [3]], CODE_QUANTITY),
        ([["a"], ["March"]], [("code", "token"), ("value-date", "date")]),
        ([["a"], [3]], [("code", "token"), ("value", "special")]),
        ([["a"]], CODE_QUANTITY),
        ("not a list", CODE_QUANTITY),
    ],
)
def test_values_that_cannot_be_indexed_are_logged_not_raised(
    fragment: Any, components: list[tuple[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert keys([fragment], components) == []
    assert "search parameter code-value-quantity" in caplog.text


def test_too_many_combinations_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    codes = [{"code": str(i)} for i in range(20)]
    quantities = [{"value": i, "unit": "u", "code": "c", "system": "s"} for i in range(20)]
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert keys([[codes, quantities]]) == []
    assert "combinations" in caplog.text


OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
    "valueString": "ok",
    "referenceSeq": {"chromosome": {"text": "1"}},
    "component": [
        {"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 140}},
        {"code": {"coding": [{"code": "8462-4"}]}, "valueRange": {"low": {"value": 1}}},
    ],
}


@pytest.mark.parametrize(
    ("expression", "fragment", "expected"),
    [
        ("code", OBSERVATION, [OBSERVATION["code"]]),
        ("value.ofType(string)", OBSERVATION, ["ok"]),
        ("value.as(String)", OBSERVATION, ["ok"]),
        ("value", OBSERVATION, ["ok"]),
        ("value.ofType(Quantity)", OBSERVATION, []),
        (
            "value.ofType(Quantity) | value.ofType(Range)",
            OBSERVATION["component"][1],
            [{"low": {"value": 1}}],
        ),
        ("%resource.referenceSeq.chromosome", OBSERVATION["component"][0], [{"text": "1"}]),
        ("component.code.coding.code", OBSERVATION, ["8480-6", "8462-4"]),
    ],
)
def test_component_paths(expression: str, fragment: dict[str, Any], expected: list[Any]) -> None:
    assert component_values(expression, fragment, OBSERVATION) == expected


@pytest.mark.parametrize(
    "expression", ["code.where(system = 'x')", "(value as Quantity)", "ofType(X)"]
)
def test_unsupported_component_paths_raise(expression: str) -> None:
    with pytest.raises(ValueError):
        component_values(expression, OBSERVATION, OBSERVATION)
