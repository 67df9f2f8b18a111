"""Extensions by url: https://hl7.org/fhir/R4/profiling.html#extensions and
https://hl7.org/fhir/R4/extensibility.html"""

from __future__ import annotations

from typing import Any

from tests.unit.validation.profiles.builders import (
    care_plan,
    element,
    errors,
    extension,
    found,
    profile,
    url,
)


def _with(*slices: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    elements = [
        element(
            f"CarePlan.extension:{name}",
            slice_name=name,
            type=[{"code": "Extension", "profile": [url(name)]}],
            **facts,
        )
        for name, facts in slices
    ]
    return profile("CarePlan", *elements)


MOOD = extension("mood", value="code")
REVIEW = extension(
    "review",
    element("Extension.extension:date", slice_name="date", min=1, max="1"),
    element("Extension.extension:date.url", fixedUri="date"),
    element("Extension.extension:date.value[x]", min=1, type=[{"code": "date"}]),
    element("Extension.extension:by", slice_name="by", max="1"),
    element("Extension.extension:by.url", fixedUri="by"),
    element(
        "Extension.extension:by.value[x]",
        type=[
            {
                "code": "Reference",
                "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Practitioner"],
            }
        ],
    ),
    value=None,
)


def _mood(value: Any = "calm", **more: Any) -> dict[str, Any]:
    return {"url": url("mood"), "valueCode": value, **more}


def test_an_extension_slice_is_matched_by_the_definitions_url() -> None:
    rules = _with(("mood", {"min": 1, "max": "1"}))
    other = {"url": "http://example.org/other", "valueString": "x"}
    assert errors(care_plan(extension=[other, _mood()]), rules, MOOD) == []
    assert errors(care_plan(extension=[other]), rules, MOOD) == ["CarePlan.extension"]
    assert errors(care_plan(extension=[_mood(), _mood()]), rules, MOOD) == ["CarePlan.extension"]


def test_a_simple_extension_is_checked_against_its_definition() -> None:
    rules = _with(("mood", {}))
    assert errors(care_plan(extension=[{"url": url("mood")}]), rules, MOOD) == [
        "CarePlan.extension[0].value"
    ]
    assert errors(care_plan(extension=[{"url": url("mood"), "valueInteger": 1}]), rules, MOOD) == [
        "CarePlan.extension[0].value.ofType(integer)"
    ]
    nested = _mood(extension=[{"url": "x", "valueString": "y"}])
    assert errors(care_plan(extension=[nested]), rules, MOOD) == ["CarePlan.extension[0].extension"]


def test_a_complex_extension_checks_its_nested_extensions() -> None:
    rules = _with(("review", {}))

    def review(*parts: dict[str, Any]) -> dict[str, Any]:
        return care_plan(extension=[{"url": url("review"), "extension": list(parts)}])

    date = {"url": "date", "valueDate": "2024-01-01"}
    by = {"url": "by", "valueReference": {"reference": "Practitioner/1"}}
    assert errors(review(date, by), rules, REVIEW) == []
    assert errors(review(by), rules, REVIEW) == ["CarePlan.extension[0].extension"]
    assert errors(review(date, {"url": "date", "valueDate": "2024-02-01"}), rules, REVIEW) == [
        "CarePlan.extension[0].extension"
    ]
    assert errors(review({"url": "date", "valueString": "soon"}), rules, REVIEW) == [
        "CarePlan.extension[0].extension[0].value.ofType(string)"
    ]
    wrong_target = {"url": "by", "valueReference": {"reference": "Patient/1"}}
    assert errors(review(date, wrong_target), rules, REVIEW) == [
        "CarePlan.extension[0].extension[1].value.ofType(Reference).reference"
    ]
    with_value = {"url": url("review"), "valueString": "x", "extension": [date]}
    assert errors(care_plan(extension=[with_value]), rules, REVIEW) == [
        "CarePlan.extension[0].value"
    ]


def test_an_extension_of_a_known_definition_outside_the_slices_is_checked() -> None:
    rules = _with(("review", {}))
    assert errors(care_plan(extension=[_mood(value=None)]), rules, REVIEW, MOOD) == [
        "CarePlan.extension[0].value"
    ]


def test_an_unknown_extension_is_information_at_most() -> None:
    rules = _with(("mood", {}))
    plan = care_plan(extension=[{"url": "http://example.org/unknown", "valueString": "x"}])
    assert found(plan, rules, MOOD) == [("information", "informational", "CarePlan.extension[0]")]


def test_an_extension_slice_whose_definition_is_not_known_is_information() -> None:
    rules = _with(("mood", {"min": 1}))
    assert found(care_plan(extension=[_mood()]), rules) == [
        ("information", "informational", "CarePlan.extension[0]")
    ]
    assert found(care_plan(), rules) == [("error", "required", "CarePlan.extension")]


def test_extensions_on_a_primitive() -> None:
    rules = profile(
        "CarePlan",
        element(
            "CarePlan.title.extension:mood",
            slice_name="mood",
            min=1,
            type=[{"code": "Extension", "profile": [url("mood")]}],
        ),
    )
    plan = care_plan(title="Plan", _title={"extension": [_mood()]})
    assert errors(plan, rules, MOOD) == []
    assert errors(care_plan(title="Plan"), rules, MOOD) == ["CarePlan.title.extension"]
    bad = care_plan(title="Plan", _title={"extension": [_mood(value=None)]})
    assert errors(bad, rules, MOOD) == ["CarePlan.title.extension[0].value"]


def test_modifier_extensions_are_sliced_by_url_too() -> None:
    rules = profile(
        "CarePlan",
        element(
            "CarePlan.modifierExtension:mood",
            slice_name="mood",
            max="0",
            type=[{"code": "Extension", "profile": [url("mood")]}],
        ),
    )
    assert errors(care_plan(modifierExtension=[_mood()]), rules, MOOD) == [
        "CarePlan.modifierExtension"
    ]
    assert errors(care_plan(), rules, MOOD) == []
