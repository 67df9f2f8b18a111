"""Snapshots from differentials: https://hl7.org/fhir/R4/profiling.html#snapshot and
element ids, https://hl7.org/fhir/R4/elementdefinition.html#id

Each rule is seen through what the profile then checks: the element the differential
reaches is where an issue appears.
"""

from __future__ import annotations

import copy

import pytest
from tests.unit.validation.profiles.builders import (
    CORE,
    care_plan,
    element,
    errors,
    extension,
    found,
    observation,
    profile,
    url,
)

from fhircare.validation.profiles import ProfileSet


def test_an_element_is_found_by_its_id() -> None:
    rules = profile("CarePlan", element("CarePlan.title", min=1))
    assert errors(care_plan(title="Plan"), rules) == []
    assert errors(care_plan(), rules) == ["CarePlan.title"]


def test_an_element_without_id_is_found_by_its_path() -> None:
    rules = profile("CarePlan", {"path": "CarePlan.title", "min": 1})
    assert errors(care_plan(), rules) == ["CarePlan.title"]


def test_an_element_without_id_after_a_slice_belongs_to_that_slice() -> None:
    rules = profile(
        "CarePlan",
        {
            "path": "CarePlan.identifier",
            "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"},
        },
        {"path": "CarePlan.identifier", "sliceName": "local", "min": 1},
        {"path": "CarePlan.identifier.system", "fixedUri": "urn:local"},
        {"path": "CarePlan.identifier.value", "min": 1},
    )
    assert errors(care_plan(identifier=[{"system": "urn:local", "value": "1"}]), rules) == []
    # the value is required in the slice only: other identifiers may go without
    plan = care_plan(identifier=[{"system": "urn:other"}, {"system": "urn:local"}])
    assert errors(plan, rules) == ["CarePlan.identifier[1].value"]


def test_constraints_on_datatype_children_expand_the_datatype() -> None:
    rules = profile(
        "CarePlan",
        element("CarePlan.category.coding", min=1),
        element("CarePlan.category.coding.system", min=1, fixedUri="http://example.org/cs"),
    )
    good = {"coding": [{"system": "http://example.org/cs", "code": "a"}]}
    assert errors(care_plan(category=[good]), rules) == []
    plan = care_plan(category=[good, {"text": "x"}, {"coding": [good["coding"][0], {"code": "b"}]}])
    assert errors(plan, rules) == [
        "CarePlan.category[1].coding",
        "CarePlan.category[2].coding[1].system",
    ]


def test_nested_backbone_elements_are_reached() -> None:
    rules = profile("CarePlan", element("CarePlan.activity.detail.description", min=1))
    plan = care_plan(
        activity=[
            {"detail": {"status": "scheduled", "description": "walk"}},
            {"detail": {"status": "scheduled"}},
            {"reference": {"reference": "Task/1"}},
        ]
    )
    assert errors(plan, rules) == ["CarePlan.activity[1].detail.description"]


def test_a_content_reference_expands_to_the_referenced_element() -> None:
    rules = profile("Questionnaire", element("Questionnaire.item.item.text", min=1))
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [
            {
                "linkId": "1",
                "type": "group",
                "item": [
                    {"linkId": "1.1", "type": "string", "text": "Name"},
                    {"linkId": "1.2", "type": "string"},
                ],
            }
        ],
    }
    assert errors(questionnaire, rules) == ["Questionnaire.item[0].item[1].text"]


def test_a_choice_narrowed_to_one_type() -> None:
    rules = profile("Observation", element("Observation.value[x]", type=[{"code": "Quantity"}]))
    assert errors(observation(valueQuantity={"value": 1}), rules) == []
    assert errors(observation(valueString="high"), rules) == ["Observation.value.ofType(string)"]


def test_a_renamed_choice_path_restricts_the_choice_to_that_type() -> None:
    rules = profile(
        "Observation",
        {"id": "Observation.valueQuantity", "path": "Observation.valueQuantity", "min": 1},
    )
    assert errors(observation(valueQuantity={"value": 1}), rules) == []
    assert errors(observation(valueCodeableConcept={"text": "x"}), rules) == [
        "Observation.value",
        "Observation.value.ofType(CodeableConcept)",
    ]


def test_children_of_a_renamed_choice_constrain_that_type() -> None:
    rules = profile(
        "Observation",
        {
            "id": "Observation.valueQuantity.system",
            "path": "Observation.valueQuantity.system",
            "fixedUri": "http://unitsofmeasure.org",
        },
    )
    ucum = {"value": 1, "system": "http://unitsofmeasure.org", "code": "kg"}
    assert errors(observation(valueQuantity=ucum), rules) == []
    wrong = observation(valueQuantity={**ucum, "system": "urn:units"})
    assert errors(wrong, rules) == ["Observation.value.ofType(Quantity).system"]


def test_a_type_slice_of_a_choice_constrains_only_that_type() -> None:
    rules = profile(
        "Observation",
        element(
            "Observation.value[x]",
            slicing={"discriminator": [{"type": "type", "path": "$this"}], "rules": "open"},
        ),
        element(
            "Observation.value[x]:valueQuantity",
            slice_name="valueQuantity",
            type=[{"code": "Quantity"}],
        ),
        element("Observation.value[x]:valueQuantity.unit", min=1),
    )
    assert errors(observation(valueString="x"), rules) == []  # still allowed
    assert errors(observation(valueQuantity={"value": 1, "unit": "kg"}), rules) == []
    assert errors(observation(valueQuantity={"value": 1}), rules) == [
        "Observation.value.ofType(Quantity).unit"
    ]


def test_a_backbone_slice_has_the_backbone_children() -> None:
    rules = profile(
        "CarePlan",
        element(
            "CarePlan.activity",
            slicing={"discriminator": [{"type": "exists", "path": "reference"}], "rules": "open"},
        ),
        element("CarePlan.activity:referenced", slice_name="referenced"),
        element("CarePlan.activity:referenced.reference", min=1),
        element("CarePlan.activity:referenced.progress", max="0"),
    )
    plan = care_plan(
        activity=[
            {"reference": {"reference": "Task/1"}, "progress": [{"text": "begun"}]},
            {"detail": {"status": "scheduled"}, "progress": [{"text": "fine here"}]},
        ]
    )
    assert errors(plan, rules) == ["CarePlan.activity[0].progress"]


def test_a_type_profile_points_at_an_extension_definition() -> None:
    rules = profile(
        "CarePlan",
        element(
            "CarePlan.extension:mood",
            slice_name="mood",
            type=[{"code": "Extension", "profile": [url("mood")]}],
        ),
    )
    mood = extension("mood", value="code")
    plan = care_plan(extension=[{"url": url("mood"), "valueString": "happy"}])
    assert errors(plan, rules, mood) == ["CarePlan.extension[0].value.ofType(string)"]
    plan = care_plan(extension=[{"url": url("mood"), "valueCode": "happy"}])
    assert errors(plan, rules, mood) == []


def test_a_profile_on_a_profile_keeps_its_base_profile_rules() -> None:
    base = profile("CarePlan", element("CarePlan.title", min=1), name="base")
    derived = profile(
        "CarePlan", element("CarePlan.description", min=1), name="derived", base=url("base")
    )
    assert errors(care_plan(), base, derived, name="derived") == [
        "CarePlan.title",
        "CarePlan.description",
    ]
    assert errors(care_plan(title="t", description="d"), base, derived, name="derived") == []


def test_a_derived_profile_adds_to_a_slice_of_its_base() -> None:
    base = profile(
        "CarePlan",
        element(
            "CarePlan.identifier",
            slicing={"discriminator": [{"type": "value", "path": "system"}], "rules": "open"},
        ),
        element("CarePlan.identifier:local", slice_name="local"),
        element("CarePlan.identifier:local.system", fixedUri="urn:local"),
        name="base",
    )
    derived = profile(
        "CarePlan",
        element("CarePlan.identifier:local", slice_name="local", min=1),
        element("CarePlan.identifier:local.value", min=1),
        name="derived",
        base=url("base"),
    )
    assert (
        errors(
            care_plan(identifier=[{"system": "urn:local", "value": "1"}]),
            base,
            derived,
            name="derived",
        )
        == []
    )
    assert errors(
        care_plan(identifier=[{"system": "urn:local"}]), base, derived, name="derived"
    ) == ["CarePlan.identifier[0].value"]
    assert errors(care_plan(), base, derived, name="derived") == ["CarePlan.identifier"]


def test_a_profile_with_only_a_snapshot_is_read_from_it() -> None:
    rules = profile(
        "CarePlan", element("CarePlan.title", min=1), base="http://example.org/unknown/base"
    )
    snapshot_only = copy.deepcopy(rules)
    snapshot_only["snapshot"] = snapshot_only.pop("differential")
    assert errors(care_plan(), snapshot_only) == ["CarePlan.title"]
    with pytest.raises(ValueError, match="not known and it has no snapshot"):
        ProfileSet.build([rules])


def test_a_snapshot_restating_the_base_adds_nothing() -> None:
    restated = profile(
        "CarePlan",
        element("CarePlan.status", min=1, max="1", type=[{"code": "code"}]),
        element("CarePlan.id", type=[{"code": "http://hl7.org/fhirpath/System.String"}]),
        element(
            "CarePlan.extension",
            slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
        ),
        element(
            "CarePlan",
            constraint=[
                {
                    "key": "dom-2",
                    "severity": "error",
                    "human": "...",
                    "expression": "contained.contained.empty()",
                }
            ],
        ),
    )
    restated["snapshot"] = restated.pop("differential")
    profiles = ProfileSet.build([restated])
    compiled = profiles.profile(restated["url"])
    assert compiled is not None and compiled.root.children == () and compiled.root.checks == ()


@pytest.mark.parametrize(
    ("elements", "message"),
    [
        ((element("CarePlan.nonsense", min=1),), r"CarePlan has no element 'nonsense'"),
        ((element("Patient.name", min=1),), r"\(Patient.name\): does not start with CarePlan"),
        (
            (element("CarePlan.title", max="2"),),
            r"\(CarePlan.title\): max 2 is above the base max 1",
        ),
        ((element("CarePlan.status", min=0),), r"min 0 is below the base min 1"),
        ((element("CarePlan.goal", min=2, max="1"),), r"min 2 is above max 1"),
        (
            (element("CarePlan.title", type=[{"code": "Quantity"}]),),
            r"type Quantity is not one of string",
        ),
        (
            (element("CarePlan.goal:first", slice_name="first"),),
            r"slice 'first' of CarePlan.goal, which is not sliced",
        ),
        ((element("CarePlan.title", max="many"),), r"max 'many' is not"),
        ((element("CarePlan.activity.detail.scheduled[x].start", min=1),), r"has 3 types"),
        ((element("CarePlan.contained.id", min=1),), r"its elements are not known here"),
        (
            (
                element(
                    "CarePlan",
                    constraint=[
                        {"key": "x-1", "severity": "error", "expression": "title.exists( or"}
                    ],
                ),
            ),
            r"\(CarePlan\): constraint x-1: column",
        ),
        (
            (
                element(
                    "CarePlan.category", binding={"strength": "mandatory", "valueSet": "urn:vs"}
                ),
            ),
            r"binding strength 'mandatory'",
        ),
    ],
)
def test_a_bad_differential_is_a_profile_error_naming_url_and_element(
    elements: tuple[dict[str, object], ...], message: str
) -> None:
    rules = profile("CarePlan", *elements)
    with pytest.raises(ValueError, match=message) as raised:
        ProfileSet.build([rules])
    assert str(raised.value).startswith(url("test"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"derivation": "specialization"}, "is not a constraint profile"),
        ({"type": "Evidence"}, "'Evidence', which is not a type served here"),
        ({"baseDefinition": CORE + "Patient"}, "constrains CarePlan but its base is Patient"),
        ({"url": None}, "StructureDefinition/test-id: has no url"),
    ],
)
def test_a_bad_structure_definition_is_a_profile_error(
    changes: dict[str, object], message: str
) -> None:
    rules = {**profile("CarePlan"), "id": "test-id", **changes}
    with pytest.raises(ValueError, match=message):
        ProfileSet.build([rules])


def test_base_definitions_that_come_back_to_themselves_are_a_profile_error() -> None:
    first = profile("CarePlan", name="first", base=url("second"))
    second = profile("CarePlan", name="second", base=url("first"))
    with pytest.raises(ValueError, match="baseDefinition chain comes back"):
        ProfileSet.build([first, second])


def test_found_reports_nothing_for_a_profile_adding_nothing() -> None:
    assert found(care_plan(), profile("CarePlan")) == []
