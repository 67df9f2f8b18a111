"""number extraction: the range implied by significant digits.

https://hl7.org/fhir/R4/search.html#number
"""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from fhircare.fhir import jsonio
from fhircare.search.extract import number
from fhircare.search.extract.context import ExtractContext
from fhircare.search.extract.number import MAX_NUMBER

CTX = ExtractContext("RiskAssessment", "http://example.org/fhir")


def written(text: str) -> object:
    """A number as the write path parses it (a JsonNumber keeping its text)."""
    return jsonio.loads(f'{{"n": {text}}}')["n"]


@pytest.mark.parametrize(
    ("text", "lo", "hi", "n"),
    [
        ("100", 99.5, 100.5, 100.0),
        ("100.00", 99.995, 100.005, 100.0),
        ("7.00", 6.995, 7.005, 7.0),
        ("7.0", 6.95, 7.05, 7.0),
        ("1e2", 50.0, 150.0, 100.0),
        ("1.0e2", 95.0, 105.0, 100.0),
        ("1.00E+2", 99.5, 100.5, 100.0),
        ("0.001", 0.0005, 0.0015, 0.001),
        ("-3.5", -3.55, -3.45, -3.5),
        ("0", -0.5, 0.5, 0.0),
        (
            "1.000000000000000000E-245",
            9.999999999999999995e-246,
            1.0000000000000000005e-245,
            1e-245,
        ),
        (
            "123456789012345678901234567890",
            1.2345678901234568e29,
            1.2345678901234568e29,
            1.2345678901234568e29,
        ),
    ],
)
def test_significant_digits_give_the_range(text: str, lo: float, hi: float, n: float) -> None:
    entries = number.extract("probability", [written(text)], CTX)
    assert entries == [
        {
            "p": "probability",
            "lo": pytest.approx(lo),
            "hi": pytest.approx(hi),
            "n": pytest.approx(n),
        }
    ]
    assert all(isinstance(entries[0][k], float) for k in ("lo", "hi", "n"))


def test_json_number_text_decides_precision() -> None:
    seven = written("7.00")
    assert isinstance(seven, Decimal) and str(seven) == "7.00"
    assert number.extract("n", [seven], CTX)[0]["lo"] == pytest.approx(6.995)


@pytest.mark.parametrize(
    ("value", "lo", "hi"),
    [
        (42, 41.5, 42.5),
        (8.1, 8.05, 8.15),
        (Decimal("1.50"), 1.495, 1.505),
        (1e-05, 0.5e-05, 1.5e-05),
    ],
)
def test_python_numbers(value: object, lo: float, hi: float) -> None:
    entry = number.extract("n", [value], CTX)[0]
    assert (entry["lo"], entry["hi"]) == (pytest.approx(lo), pytest.approx(hi))


def test_range() -> None:
    value = {"low": {"value": written("0.2")}, "high": {"value": written("0.40")}}
    assert number.extract("probability", [value], CTX) == [
        {"p": "probability", "lo": pytest.approx(0.15), "hi": pytest.approx(0.405), "n": None}
    ]


def test_range_open_end() -> None:
    assert number.extract("probability", [{"low": {"value": 5}}], CTX) == [
        {"p": "probability", "lo": 4.5, "hi": MAX_NUMBER, "n": None}
    ]


@pytest.mark.parametrize(
    "bad",
    [
        True,
        "12",
        None,
        [1],
        float("nan"),
        float("inf"),
        written("1e400"),
        Decimal("NaN"),
        {"low": {"value": 5}, "high": {"value": 1}},
        {"high": {"unit": "mg"}},
        {"code": "x"},
    ],
)
def test_values_that_cannot_be_indexed_are_logged_not_raised(
    bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert number.extract("n", [bad], CTX) == []
    assert "search parameter n" in caplog.text
