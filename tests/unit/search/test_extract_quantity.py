"""quantity extraction: the number range plus system, code and unit.

https://hl7.org/fhir/R4/search.html#quantity
"""

from __future__ import annotations

import logging

import pytest

from fhircare.fhir import jsonio
from fhircare.search.extract import quantity
from fhircare.search.extract.context import ExtractContext
from fhircare.search.extract.number import MAX_NUMBER

CTX = ExtractContext("Observation", "http://example.org/fhir")
UCUM = "http://unitsofmeasure.org"


def load(text: str) -> object:
    return jsonio.loads(text)


def test_quantity() -> None:
    value = load('{"value": 8.10, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}')
    assert quantity.extract("value-quantity", [value], CTX) == [
        {
            "p": "value-quantity",
            "lo": pytest.approx(8.095),
            "hi": pytest.approx(8.105),
            "n": pytest.approx(8.1),
            "s": UCUM,
            "c": "%",
            "u": "%",
        }
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # Age
            '{"value": 72, "unit": "yr", "system": "http://unitsofmeasure.org", "code": "a"}',
            (71.5, 72.5, UCUM, "a", "yr"),
        ),
        (  # Duration
            '{"value": 1.5, "unit": "hours", "system": "http://unitsofmeasure.org", "code": "h"}',
            (1.45, 1.55, UCUM, "h", "hours"),
        ),
        (  # Count
            '{"value": 3, "system": "http://unitsofmeasure.org", "code": "1"}',
            (2.5, 3.5, UCUM, "1", None),
        ),
        (  # Distance
            '{"value": 235, "unit": "m", "system": "http://unitsofmeasure.org", "code": "m"}',
            (234.5, 235.5, UCUM, "m", "m"),
        ),
    ],
)
def test_quantity_profiles(text: str, expected: tuple[object, ...]) -> None:
    (entry,) = quantity.extract("q", [load(text)], CTX)
    assert (entry["lo"], entry["hi"], entry["s"], entry["c"], entry["u"]) == pytest.approx(expected)


def test_simple_quantity_without_units() -> None:
    assert quantity.extract("q", [{"value": 3}], CTX) == [
        {"p": "q", "lo": 2.5, "hi": 3.5, "n": 3.0, "s": None, "c": None, "u": None}
    ]


def test_bare_number() -> None:
    assert quantity.extract("q", [3], CTX)[0]["s"] is None


@pytest.mark.parametrize(
    ("comparator", "lo", "hi"),
    [
        ("<", -MAX_NUMBER, 5.5),
        ("<=", -MAX_NUMBER, 5.5),
        (">", 4.5, MAX_NUMBER),
        (">=", 4.5, MAX_NUMBER),
    ],
)
def test_comparator_opens_one_side(comparator: str, lo: float, hi: float) -> None:
    value = {"value": 5, "comparator": comparator, "unit": "mg", "system": UCUM, "code": "mg"}
    (entry,) = quantity.extract("q", [value], CTX)
    assert (entry["lo"], entry["hi"], entry["n"]) == (lo, hi, 5.0)


def test_money() -> None:
    (entry,) = quantity.extract("total", [load('{"value": 12.50, "currency": "USD"}')], CTX)
    assert entry == {
        "p": "total",
        "lo": pytest.approx(12.495),
        "hi": pytest.approx(12.505),
        "n": pytest.approx(12.5),
        "s": "urn:iso:std:iso:4217",
        "c": "USD",
        "u": "USD",
    }


def test_range() -> None:
    value = load(
        '{"low": {"value": 4.0, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},'
        ' "high": {"value": 5.6, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}}'
    )
    assert quantity.extract("q", [value], CTX) == [
        {
            "p": "q",
            "lo": pytest.approx(3.95),
            "hi": pytest.approx(5.65),
            "n": None,
            "s": UCUM,
            "c": "%",
            "u": "%",
        }
    ]


def test_range_with_units_only_on_high_and_open_low() -> None:
    (entry,) = quantity.extract("q", [{"high": {"value": 10, "unit": "mg"}}], CTX)
    assert (entry["lo"], entry["hi"], entry["u"]) == (-MAX_NUMBER, 10.5, "mg")


@pytest.mark.parametrize(
    "bad",
    [
        {"unit": "mg", "system": UCUM, "code": "mg"},
        {"value": "5", "unit": "mg"},
        {"value": 5, "comparator": "~"},
        {"coding": [{"code": "x"}], "value": 3},
        {"system": "urn:oid:1", "value": "123"},
        "5 mg",
        True,
        None,
    ],
)
def test_values_that_cannot_be_indexed_are_logged_not_raised(
    bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert quantity.extract("q", [bad], CTX) == []
    assert "search parameter q" in caplog.text
