"""Rules of https://hl7.org/fhir/R4/datatypes.html and json.html the rule walk checks itself.

Each was missed by one engine or the other (test_validator_differential.py found them); the
walk runs with both, so each test here runs once per engine.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.validation.minimal_resources import minimal

from fhircare.fhir import jsonio
from fhircare.validation import find_issues

EXTENSION_URL = "http://example.org/fhir/StructureDefinition/x"


def _issues(resource: dict[str, Any]) -> list[tuple[str, str]]:
    parsed = jsonio.loads(jsonio.dumps(resource))
    return [(i.code, i.expression[0]) for i in find_issues(parsed)]


def _patient(**elements: Any) -> dict[str, Any]:
    return {**minimal("Patient"), **elements}


@pytest.mark.parametrize("value", ["a" * 65, "a b", "a_b", "a/b"])
def test_resource_ids(value: str) -> None:
    """id: [A-Za-z0-9\\-\\.]{1,64}; fhirkit takes Resource.id for a string, the models
    check no length."""
    assert _issues(_patient(id=value)) == [("value", "Patient.id")]
    assert _issues(_patient(meta={"versionId": value})) == [("value", "Patient.meta.versionId")]


def test_a_64_character_id_is_fine() -> None:
    assert _issues(_patient(id="a" * 64, meta={"versionId": "A-1.b"})) == []


@pytest.mark.parametrize(
    ("elements", "expression"),
    [
        ({"implicitRules": "http://example.org/a b"}, "Patient.implicitRules"),
        ({"identifier": [{"system": "urn:x y", "value": "1"}]}, "Patient.identifier[0].system"),
        ({"meta": {"profile": ["http://example.org/p |1"]}}, "Patient.meta.profile[0]"),
        ({"photo": [{"url": " http://example.org/p.png"}]}, "Patient.photo[0].url"),
    ],
)
def test_uris_have_no_whitespace(elements: dict[str, Any], expression: str) -> None:
    """uri, url and canonical: regex \\S* (the models accept spaces)."""
    assert _issues(_patient(**elements)) == [("value", expression)]


@pytest.mark.parametrize(
    ("elements", "expression"),
    [
        ({"birthDate": "2023-02-30"}, "Patient.birthDate"),
        ({"birthDate": "0000"}, "Patient.birthDate"),
        ({"deceasedDateTime": "2023-02-29T10:00:00Z"}, "Patient.deceased.ofType(dateTime)"),
        ({"meta": {"lastUpdated": "2023-04-31T10:00:00Z"}}, "Patient.meta.lastUpdated"),
    ],
)
def test_dates_are_calendar_dates(elements: dict[str, Any], expression: str) -> None:
    """ "Dates SHALL be valid dates", and the year regex excludes 0000 (fhirkit takes both)."""
    assert _issues(_patient(**elements)) == [("value", expression)]


def test_leap_days_and_partial_dates_are_fine() -> None:
    patient = _patient(birthDate="2024-02-29", deceasedDateTime="2024-02")
    patient["meta"] = {"lastUpdated": "2000-02-29T23:59:59.999+14:00"}
    assert _issues(patient) == []


@pytest.mark.parametrize(
    ("extension", "expected"),
    [
        ({"url": EXTENSION_URL, "valueDecimal": "1.5"}, ("value", "value.ofType(decimal)")),
        ({"url": EXTENSION_URL, "valueDate": "2023-02-30"}, ("value", "value.ofType(date)")),
        ({"url": EXTENSION_URL, "valueCode": ""}, ("value", "value.ofType(code)")),
        ({"valueString": "x"}, ("required", "url")),
        ({"url": "a b", "valueString": "x"}, ("value", "url")),
        ({"url": EXTENSION_URL, "valueString": "x", "foo": 1}, ("structure", "foo")),
    ],
)
def test_extensions_are_checked_inside(
    extension: dict[str, Any], expected: tuple[str, str]
) -> None:
    code, step = expected
    assert _issues(_patient(extension=[extension])) == [(code, f"Patient.extension[0].{step}")]
    nested = {"url": EXTENSION_URL, "extension": [extension]}
    expression = f"Patient.modifierExtension[0].extension[0].{step}"
    assert _issues(_patient(modifierExtension=[nested])) == [(code, expression)]


def test_an_unaligned_null_in_a_primitive_array() -> None:
    """A null only holds the place of a value whose _name entry has the extension."""
    patient = _patient(name=[{"family": "x", "given": ["a", None]}])
    assert _issues(patient) == [("structure", "Patient.name[0].given[1]")]
    role = minimal("PractitionerRole")
    role["availableTime"] = [{"daysOfWeek": ["mon", None]}]
    assert _issues(role) == [("structure", "PractitionerRole.availableTime[0].daysOfWeek[1]")]


@pytest.mark.parametrize(
    ("name", "expression"),
    [
        ({"given": ["a"], "_given": [None, {"id": "x"}]}, "Patient.name[0].given"),
        ({"given": ["a", "b"], "_given": [{"id": "x"}]}, "Patient.name[0].given"),
        ({"_given": [None]}, "Patient.name[0].given[0]"),
        ({"given": ["a", None], "_given": [None, None]}, "Patient.name[0].given[1]"),
    ],
)
def test_value_and_extension_arrays_line_up(name: dict[str, Any], expression: str) -> None:
    assert _issues(_patient(name=[{"family": "x", **name}])) == [("structure", expression)]


def test_extensions_alone_in_a_primitive_array_are_fine() -> None:
    extension = {"extension": [{"url": EXTENSION_URL, "valueString": "x"}]}
    assert _issues(_patient(name=[{"family": "x", "_given": [extension]}])) == []


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        ({**minimal("CarePlan"), "description": ""}, "CarePlan.description"),  # markdown
        (_patient(name=[{"family": ""}]), "Patient.name[0].family"),
        (_patient(name=[{"family": "x", "given": ["a", ""]}]), "Patient.name[0].given[1]"),
        (_patient(gender=""), "Patient.gender"),
    ],
)
def test_empty_strings_are_not_values(resource: dict[str, Any], expression: str) -> None:
    assert _issues(resource) == [("value", expression)]


def test_empty_objects_in_arrays_are_not_elements() -> None:
    assert _issues(_patient(name=[{"family": "x"}, {}])) == [("structure", "Patient.name[1]")]


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        (
            {**minimal("ActivityDefinition"), "subjectCanonical": "http://example.org/g"},
            "ActivityDefinition.subjectCanonical",
        ),
        (
            _patient(extension=[{"url": EXTENSION_URL, "valueRatioRange": {"lowNumerator": {}}}]),
            "Patient.extension[0].valueRatioRange",
        ),
    ],
)
def test_elements_r4b_added_are_unknown(resource: dict[str, Any], expression: str) -> None:
    """We serve R4: the R4B models know these, R4 does not."""
    assert _issues(resource) == [("structure", expression)]
