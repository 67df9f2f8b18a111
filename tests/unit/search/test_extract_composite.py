"""composite extraction: one entry per fragment, ``k`` the equality combinations, ``q`` the
ordered components' values as their own types index them.

https://hl7.org/fhir/R4/search.html#composite
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from fhircare.fhir import jsonio
from fhircare.search.extract import composite
from fhircare.search.extract.context import ExtractContext
from fhircare.search.indexer import component_values, dedupe
from fhircare.search.normalize import composite_part

CTX = ExtractContext("Observation", "https://fhircare.example.org/fhir")
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CODE_QUANTITY = [("code", "token"), ("value-quantity", "quantity")]


def extract(values: list[Any], components: list[tuple[str, str]] = CODE_QUANTITY) -> list[Any]:
    return composite.extract("code-value-quantity", values, CTX, components)


def keys(values: list[Any], components: list[tuple[str, str]] = CODE_QUANTITY) -> list[Any]:
    return [e["k"] for e in extract(values, components)]


def test_token_forms_in_k_and_the_quantity_as_its_own_entry_in_q() -> None:
    code = {"coding": [{"system": LOINC, "code": "4548-4", "display": "HbA1c"}], "text": "A1c"}
    value = jsonio.loads(f'{{"value": 8.10, "unit": "percent", "system": "{UCUM}", "code": "%"}}')
    [entry] = extract([[[code], [value]]])
    assert entry["p"] == "code-value-quantity"
    assert sorted(entry["k"]) == sorted([f"{LOINC}|4548-4", "4548-4"])
    [part] = entry["q"]
    assert part == {"i": 1, "lo": pytest.approx(8.095), "hi": pytest.approx(8.105)} | {
        "s": UCUM,
        "c": "%",
        "u": "percent",
    }


def test_the_query_side_normalises_to_a_key() -> None:
    (k,) = keys([[[{"coding": [{"system": LOINC, "code": "4548-4"}]}], [{"value": 1}]]])
    for query in (f"{LOINC}|4548-4", "4548-4"):
        assert composite_part("token", query) in k


def test_code_without_system_and_a_bare_number() -> None:
    [entry] = extract([[[{"coding": [{"code": "x"}]}], [3]]])
    assert sorted(entry["k"]) == ["x", "|x"]
    assert entry["q"] == [{"i": 1, "lo": 2.5, "hi": 3.5}]


def test_a_range_and_a_comparator_keep_their_open_ends() -> None:
    ranged = {"low": {"value": 1, "unit": "mg"}, "high": {"value": 5, "unit": "mg"}}
    [entry] = extract([[["a"], [ranged]]])
    assert entry["q"] == [{"i": 1, "lo": 0.5, "hi": 5.5, "u": "mg"}]
    [entry] = extract([[["a"], [{"value": 5, "comparator": ">"}]]])
    assert entry["q"][0]["lo"] == 4.5 and entry["q"][0]["hi"] > 1e300


def test_one_entry_per_fragment_keeps_parts_together() -> None:
    systolic = [[{"coding": [{"system": LOINC, "code": "8480-6"}]}], [{"value": 140}]]
    diastolic = [[{"coding": [{"system": LOINC, "code": "8462-4"}]}], [{"value": 90}]]
    first, second = extract([systolic, diastolic])
    assert "8480-6" in first["k"] and first["q"] == [{"i": 1, "lo": 139.5, "hi": 140.5}]
    assert "8462-4" in second["k"] and second["q"] == [{"i": 1, "lo": 89.5, "hi": 90.5}]


def test_a_fragment_missing_a_component_gives_no_entry_and_no_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert extract([[[{"coding": [{"code": "x"}]}], []]]) == []
        assert extract([[[], [3]]]) == []
    assert caplog.records == []


def test_concept_string_reference_and_uri_components_are_combined_in_k() -> None:
    concept = [("code", "token"), ("value-concept", "token")]
    [entry] = extract(
        [[[{"coding": [{"code": "a"}]}], [{"coding": [{"system": "s", "code": "b"}]}]]], concept
    )
    assert sorted(entry["k"]) == sorted(["a$s|b", "a$b", "|a$s|b", "|a$b"])
    assert "q" not in entry
    string = [("code", "token"), ("value-string", "string")]
    assert keys([[["a"], ["  Zoë  Smith "]]], string) == [["|a$zoe smith", "a$zoe smith"]]
    refs = [("relatesto", "token"), ("relation", "reference")]
    (k,) = keys([[["replaces"], [{"reference": f"{CTX.base_url}/DocumentReference/d1"}]]], refs)
    assert "replaces$DocumentReference/d1" in k
    uris = [("code", "token"), ("url", "uri")]
    assert keys([[["a"], ["http://x/y"]]], uris) == [["|a$http://x/y", "a$http://x/y"]]


def test_date_components_are_ranges_in_utc() -> None:
    dates = [("code", "token"), ("value-date", "date")]
    [entry] = extract(
        [[["a"], ["2026-03-16T20:45:00-05:00", {"start": "2026-04", "end": "2026-05-01"}]]], dates
    )
    assert entry["k"] == ["|a", "a"]
    assert entry["q"] == [
        {
            "i": 1,
            "lo": datetime(2026, 3, 17, 1, 45, tzinfo=UTC),
            "hi": datetime(2026, 3, 17, 1, 45, 1, tzinfo=UTC),
        },
        {"i": 1, "lo": datetime(2026, 4, 1, tzinfo=UTC), "hi": datetime(2026, 5, 2, tzinfo=UTC)},
    ]


def test_ordered_components_only_give_no_k_and_each_part_its_position() -> None:
    components = [("when", "date"), ("code", "token"), ("amount", "number")]
    [entry] = extract([[["2026"], ["x"], [2, 2]]], components)
    assert entry["k"] == ["|x", "x"]
    assert entry["q"] == [
        {"i": 0, "lo": datetime(2026, 1, 1, tzinfo=UTC), "hi": datetime(2027, 1, 1, tzinfo=UTC)},
        {"i": 2, "lo": 1.5, "hi": 2.5},
    ]
    [entry] = extract([[["2026"], [7]]], [("when", "date"), ("amount", "number")])
    assert "k" not in entry and [p["i"] for p in entry["q"]] == [0, 1]


def test_entries_with_parts_dedupe() -> None:
    [entry] = extract([[["a"], [1]]])
    assert dedupe([entry, {**entry, "q": [dict(p) for p in entry["q"]]}]) == [entry]
    assert len(dedupe([entry, {**entry, "q": [{"i": 1, "lo": 0.0, "hi": 1.0}]}])) == 2


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
    concept = [("code", "token"), ("value-concept", "token")]
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert keys([[codes, codes]], concept) == []
    assert "combinations" in caplog.text


def test_too_many_ordered_values_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    quantities = [{"value": i, "unit": "u"} for i in range(composite.MAX_COMBINATIONS + 1)]
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert extract([[["a"], quantities]]) == []
        assert len(extract([[["a"], quantities[1:]]])) == 1
    assert "ordered values" in caplog.text


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
