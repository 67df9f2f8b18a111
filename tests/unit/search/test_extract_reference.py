"""reference extraction: relative, versioned, absolute, contained, urn:uuid, logical, canonical.

https://hl7.org/fhir/R4/search.html#reference, https://hl7.org/fhir/R4/references.html
"""

from __future__ import annotations

import logging

import pytest

from fhircare.search.extract import reference
from fhircare.search.extract.context import ExtractContext

BASE = "https://fhircare.example.org/fhir"
CTX = ExtractContext("Observation", BASE, contained={"med1": "Medication"})


def one(value: object, context: ExtractContext = CTX) -> dict[str, object]:
    (entry,) = reference.extract("subject", [value], context)
    return entry


@pytest.mark.parametrize(
    ("written", "r", "ty"),
    [
        ("Patient/pat-1", "Patient/pat-1", "Patient"),
        ("Patient/pat-1/_history/3", "Patient/pat-1", "Patient"),
        (f"{BASE}/Patient/pat-1", "Patient/pat-1", "Patient"),
        (f"{BASE}/Patient/pat-1/_history/3", "Patient/pat-1", "Patient"),
        (
            "http://other.example.org/r4/Patient/77",
            "http://other.example.org/r4/Patient/77",
            "Patient",
        ),
        (
            "http://other.example.org/r4/Patient/77/_history/2",
            "http://other.example.org/r4/Patient/77/_history/2",
            "Patient",
        ),
        ("http://other.example.org/people?id=7", "http://other.example.org/people?id=7", None),
        (f"{BASE}/metadata", f"{BASE}/metadata", None),
        ("#med1", "#med1", "Medication"),
        ("#unknown", "#unknown", None),
        (
            "urn:uuid:9d0a2c66-1f1b-4a5e-9c1e-2f3b4c5d6e7f",
            "urn:uuid:9d0a2c66-1f1b-4a5e-9c1e-2f3b4c5d6e7f",
            None,
        ),
    ],
)
def test_literal_references(written: str, r: str, ty: str | None) -> None:
    expected: dict[str, object] = {"p": "subject", "r": r}
    if ty:
        expected["ty"] = ty
    assert one({"reference": written, "display": "x"}) == expected


def test_base_with_a_trailing_slash() -> None:
    context = ExtractContext("Observation", BASE + "/")
    assert one({"reference": f"{BASE}/Patient/1"}, context)["r"] == "Patient/1"


def test_without_a_base_absolute_urls_stay_absolute() -> None:
    context = ExtractContext("Observation", None)
    assert one({"reference": f"{BASE}/Patient/1"}, context) == {
        "p": "subject",
        "r": f"{BASE}/Patient/1",
        "ty": "Patient",
    }


def test_declared_type_when_the_reference_has_none() -> None:
    urn = "urn:uuid:9d0a2c66-1f1b-4a5e-9c1e-2f3b4c5d6e7f"
    assert one({"reference": urn, "type": "Patient"}) == {"p": "subject", "r": urn, "ty": "Patient"}


def test_identifier_only() -> None:
    value = {
        "type": "Patient",
        "identifier": {"system": "https://riverside.example.org/mrn", "value": "RFP-1"},
    }
    assert one(value) == {
        "p": "subject",
        "ty": "Patient",
        "is": "https://riverside.example.org/mrn",
        "iv": "RFP-1",
    }


def test_identifier_without_system_or_type() -> None:
    assert one({"identifier": {"value": "RFP-1"}}) == {"p": "subject", "is": None, "iv": "RFP-1"}


def test_reference_and_identifier_together() -> None:
    value = {"reference": "Patient/1", "identifier": {"system": "s", "value": "v"}}
    assert one(value) == {"p": "subject", "r": "Patient/1", "ty": "Patient", "is": "s", "iv": "v"}


def test_canonical_with_version_is_indexed_with_and_without_it() -> None:
    canonical = f"{BASE}/Questionnaire/intake|1.0.0"
    assert reference.extract("questionnaire", [canonical], CTX) == [
        {"p": "questionnaire", "r": f"{BASE}/Questionnaire/intake", "ty": "Questionnaire"},
        {"p": "questionnaire", "r": canonical},
    ]


def test_canonical_without_version_and_uri() -> None:
    assert reference.extract(
        "definition", ["http://hl7.org/fhir/us/core/PlanDefinition/x"], CTX
    ) == [
        {
            "p": "definition",
            "r": "http://hl7.org/fhir/us/core/PlanDefinition/x",
            "ty": "PlanDefinition",
        }
    ]
    assert reference.extract("definition", ["urn:oid:1.2.3"], CTX) == [
        {"p": "definition", "r": "urn:oid:1.2.3"}
    ]


def test_display_only_has_nothing_to_index_and_is_no_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert reference.extract("subject", [{"display": "Harold Whitaker"}], CTX) == []
    assert caplog.records == []


@pytest.mark.parametrize(
    "bad",
    [
        {"reference": "Patient/ 1"},
        {"reference": ""},
        {"reference": 5},
        {"reference": "Patient/1\x00"},
        {"family": "Smith"},
        {"coding": [{"code": "x"}]},
        "two words",
        7,
        None,
        ["Patient/1"],
    ],
)
def test_values_that_cannot_be_indexed_are_logged_not_raised(
    bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert reference.extract("subject", [bad], CTX) == []
    assert "search parameter subject" in caplog.text
