"""token extraction: Coding, CodeableConcept, Identifier, ContactPoint, code, boolean.

https://hl7.org/fhir/R4/search.html#token
"""

from __future__ import annotations

import logging

import pytest

from fhircare.search.extract import token
from fhircare.search.extract.context import ExtractContext

CTX = ExtractContext("Observation", "http://example.org/fhir")
LOINC = "http://loinc.org"


def test_coding() -> None:
    coding = {"system": LOINC, "code": "4548-4", "display": "Hemoglobin A1c"}
    assert token.extract("code", [coding], CTX) == [
        {"p": "code", "s": LOINC, "c": "4548-4", "t": "hemoglobin a1c"}
    ]


def test_coding_without_system_or_display() -> None:
    assert token.extract("code", [{"code": "x"}], CTX) == [{"p": "code", "s": None, "c": "x"}]


def test_codeable_concept_gives_each_coding_and_its_text() -> None:
    concept = {
        "coding": [
            {"system": LOINC, "code": "2708-6", "display": "Oxygen saturation"},
            {"system": LOINC, "code": "59408-5"},
        ],
        "text": "SpO₂ Pulsoxymétrie",
    }
    assert token.extract("code", [concept], CTX) == [
        {"p": "code", "s": LOINC, "c": "2708-6", "t": "oxygen saturation"},
        {"p": "code", "s": LOINC, "c": "59408-5"},
        {"p": "code", "s": None, "c": None, "t": "spo2 pulsoxymetrie"},
    ]


def test_codeable_concept_with_only_text() -> None:
    assert token.extract("code", [{"text": "Walking"}], CTX) == [
        {"p": "code", "s": None, "c": None, "t": "walking"}
    ]


def test_identifier_with_type_gives_of_type() -> None:
    identifier = {
        "use": "usual",
        "type": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"},
                {"code": "local"},
            ],
            "text": "Medical Record Number",
        },
        "system": "https://riverside.example.org/mrn",
        "value": "RFP-004817",
    }
    base = {
        "p": "identifier",
        "s": "https://riverside.example.org/mrn",
        "c": "RFP-004817",
        "t": "medical record number",
    }
    assert token.extract("identifier", [identifier], CTX) == [
        {**base, "ot": "http://terminology.hl7.org/CodeSystem/v2-0203|MR"},
        {**base, "ot": "|local"},
    ]


def test_identifier_without_system_or_type() -> None:
    assert token.extract("identifier", [{"value": "A-1"}], CTX) == [
        {"p": "identifier", "s": None, "c": "A-1"}
    ]


def test_identifier_with_a_uri_system_is_not_a_contact_point() -> None:
    entries = token.extract("identifier", [{"system": "urn:oid:1.2.3", "value": "9"}], CTX)
    assert entries == [{"p": "identifier", "s": "urn:oid:1.2.3", "c": "9"}]


@pytest.mark.parametrize(
    "contact",
    [
        {"system": "phone", "value": "+1-217-555-0193", "use": "home"},
        {"system": "email", "value": "+1-217-555-0193", "rank": 1},
        {"value": "+1-217-555-0193", "rank": 2},
    ],
)
def test_contact_point_gives_its_value_without_system(contact: dict[str, object]) -> None:
    assert token.extract("telecom", [contact], CTX) == [
        {"p": "telecom", "s": None, "c": "+1-217-555-0193"}
    ]


def test_primitives_are_codes_without_system() -> None:
    assert token.extract("status", ["final", True, False, "a-b.c"], CTX) == [
        {"p": "status", "s": None, "c": "final"},
        {"p": "status", "s": None, "c": "true"},
        {"p": "status", "s": None, "c": "false"},
        {"p": "status", "s": None, "c": "a-b.c"},
    ]


def test_code_is_kept_exactly() -> None:
    assert token.extract("code", [{"system": "s", "code": "Ab C"}], CTX)[0]["c"] == "Ab C"


@pytest.mark.parametrize(
    "bad",
    [
        7,
        None,
        "",
        "x\x00",
        ["final"],
        {"value": 8.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
        {"coding": [{"system": LOINC, "display": "no code"}]},
        {"family": "Smith"},
        {"reference": "Patient/1"},
    ],
)
def test_values_that_cannot_be_indexed_are_logged_not_raised(
    bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert token.extract("code", [bad], CTX) == []
    assert "search parameter code" in caplog.text
