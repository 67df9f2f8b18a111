"""Quantity units in predicates: https://hl7.org/fhir/R4/search.html#quantity."""

from __future__ import annotations

from fhircare.search.match import matches
from fhircare.search.predicates import predicate
from fhircare.search.request import Clause, Value


def _entry(code: str | None, unit: str | None, system: str | None = None) -> dict[str, object]:
    return {"p": "q", "lo": 99.5, "hi": 100.5, "n": 100.0, "s": system, "c": code, "u": unit}


def _found(value: Value, entry: dict[str, object]) -> bool:
    return matches(predicate(Clause("q", "quantity", None, (value,))), [entry], {})


def test_code_without_system_matches_the_code_or_the_unit() -> None:
    wanted = Value("100", None, "", "mg")
    assert _found(wanted, _entry("mg", "milligram", "http://unitsofmeasure.org"))
    assert _found(wanted, _entry(None, "mg"))
    assert not _found(wanted, _entry("g", "g"))


def test_system_and_code_match_both_and_never_the_unit() -> None:
    wanted = Value("100", None, "http://unitsofmeasure.org", "mg")
    assert _found(wanted, _entry("mg", None, "http://unitsofmeasure.org"))
    assert not _found(wanted, _entry(None, "mg"))
    assert not _found(wanted, _entry("mg", "mg", "http://other"))


def test_prefixes_keep_the_unit_alternatives() -> None:
    ne = Value("100", "ne", "", "mg")
    assert not _found(ne, _entry(None, "mg"))
    assert _found(ne, _entry("g", "g"))
    assert _found(Value("50", "gt", "", "mg"), _entry(None, "mg"))
