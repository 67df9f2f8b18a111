"""Slicing: https://hl7.org/fhir/R4/profiling.html#slicing and #discriminator"""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.validation.profiles.builders import (
    CORE,
    care_plan,
    element,
    errors,
    found,
    issues,
    observation,
    profile,
    url,
    value_set,
)

VITAL = {
    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
    "code": "vital-signs",
}


def _sliced(
    path: str, discriminators: list[dict[str, str]], rules: str = "open", **extra: Any
) -> dict[str, Any]:
    return element(path, slicing={"discriminator": discriminators, "rules": rules, **extra})


def _identifier_slices(rules: str = "open", ordered: bool = False) -> dict[str, Any]:
    return profile(
        "CarePlan",
        _sliced(
            "CarePlan.identifier", [{"type": "value", "path": "system"}], rules, ordered=ordered
        ),
        element("CarePlan.identifier:mrn", slice_name="mrn", min=1, max="1"),
        element("CarePlan.identifier:mrn.system", fixedUri="urn:mrn"),
        element("CarePlan.identifier:local", slice_name="local"),
        element("CarePlan.identifier:local.system", fixedUri="urn:local"),
        element("CarePlan.identifier:local.value", min=1),
    )


def _ids(*systems: str) -> dict[str, Any]:
    return care_plan(identifier=[{"system": s, "value": "1"} for s in systems])


def test_value_discriminator_and_per_slice_cardinality() -> None:
    rules = _identifier_slices()
    assert errors(_ids("urn:mrn", "urn:local", "urn:other"), rules) == []
    assert found(_ids("urn:local"), rules) == [("error", "required", "CarePlan.identifier")]
    (issue,) = issues(_ids("urn:local"), rules)
    assert issue.diagnostics == (
        "CarePlan.identifier: Slice 'CarePlan.identifier:mrn': "
        "a matching slice is required, but not found"
    )
    assert found(_ids("urn:mrn", "urn:mrn"), rules) == [
        ("error", "structure", "CarePlan.identifier")
    ]


def test_slice_rules_apply_only_to_the_occurrences_in_the_slice() -> None:
    rules = _identifier_slices()
    plan = care_plan(
        identifier=[{"system": "urn:mrn"}, {"system": "urn:local"}, {"system": "urn:other"}]
    )
    assert errors(plan, rules) == ["CarePlan.identifier[1].value"]


def test_closed_slicing_rejects_an_occurrence_in_no_slice() -> None:
    rules = _identifier_slices("closed")
    assert errors(_ids("urn:mrn", "urn:local"), rules) == []
    assert found(_ids("urn:mrn", "urn:other"), rules) == [
        ("error", "structure", "CarePlan.identifier[1]")
    ]


def test_open_at_end_slicing_allows_others_only_after_the_slices() -> None:
    rules = _identifier_slices("openAtEnd")
    assert errors(_ids("urn:mrn", "urn:local", "urn:other", "urn:more"), rules) == []
    assert errors(_ids("urn:other", "urn:mrn"), rules) == ["CarePlan.identifier[0]"]


def test_ordered_slicing_wants_the_slices_in_their_order() -> None:
    rules = _identifier_slices(ordered=True)
    assert errors(_ids("urn:mrn", "urn:local", "urn:local"), rules) == []
    assert errors(_ids("urn:local", "urn:mrn"), rules) == ["CarePlan.identifier[1]"]
    assert errors(_ids("urn:local", "urn:mrn"), _identifier_slices()) == []


def test_pattern_discriminator_on_this() -> None:
    rules = profile(
        "Observation",
        _sliced("Observation.category", [{"type": "pattern", "path": "$this"}]),
        element(
            "Observation.category:vital",
            slice_name="vital",
            min=1,
            patternCodeableConcept={"coding": [VITAL]},
        ),
        element("Observation.category:vital.text", max="0"),
    )
    other = {"coding": [{"system": "urn:x", "code": "y"}], "text": "free"}
    vital = {"coding": [{**VITAL, "display": "Vital Signs"}, {"system": "urn:x", "code": "v"}]}
    assert errors(observation(category=[other, vital]), rules) == []
    assert errors(observation(category=[other, {**vital, "text": "no"}]), rules) == [
        "Observation.category[1].text"
    ]
    assert errors(observation(category=[other]), rules) == ["Observation.category"]


def test_value_discriminator_reading_through_a_sliced_element() -> None:
    """As the R4 blood-pressure profile does: component sliced on code.coding.code, whose
    fixed values sit in slices of code.coding."""
    coding_slices = [
        ("systolic", "8480-6"),
        ("diastolic", "8462-4"),
    ]
    elements: list[dict[str, Any]] = [
        _sliced(
            "Observation.component",
            [
                {"type": "value", "path": "code.coding.code"},
                {"type": "value", "path": "code.coding.system"},
            ],
        )
    ]
    for name, code in coding_slices:
        prefix = f"Observation.component:{name}"
        elements += [
            element(prefix, slice_name=name, min=1, max="1"),
            _sliced(f"{prefix}.code.coding", [{"type": "value", "path": "code"}]),
            element(f"{prefix}.code.coding:loinc", slice_name="loinc", min=1, max="1"),
            element(f"{prefix}.code.coding:loinc.system", fixedUri="http://loinc.org"),
            element(f"{prefix}.code.coding:loinc.code", fixedCode=code),
            element(f"{prefix}.value[x]", min=1, type=[{"code": "Quantity"}]),
        ]
    rules = profile("Observation", *elements)

    def component(code: str, **value: Any) -> dict[str, Any]:
        return {
            "code": {
                "coding": [
                    {"system": "urn:local", "code": "x"},
                    {"system": "http://loinc.org", "code": code},
                ]
            },
            **value,
        }

    quantity = {"valueQuantity": {"value": 120}}
    both = observation(component=[component("8480-6", **quantity), component("8462-4", **quantity)])
    assert errors(both, rules) == []
    missing_value = observation(component=[component("8480-6", **quantity), component("8462-4")])
    assert errors(missing_value, rules) == ["Observation.component[1].value"]
    assert errors(observation(component=[component("8480-6", **quantity)]), rules) == [
        "Observation.component"
    ]


def test_value_discriminator_on_a_required_binding() -> None:
    kinds = value_set(
        "kinds", {"include": [{"system": "urn:kinds", "concept": [{"code": "a"}, {"code": "b"}]}]}
    )
    rules = profile(
        "CarePlan",
        _sliced("CarePlan.category", [{"type": "value", "path": "coding"}], "closed"),
        element("CarePlan.category:kind", slice_name="kind", max="1"),
        element(
            "CarePlan.category:kind.coding",
            binding={"strength": "required", "valueSet": kinds["url"]},
        ),
    )
    concept = {"coding": [{"system": "urn:kinds", "code": "b"}]}
    assert errors(care_plan(category=[concept]), rules, kinds) == []
    assert errors(
        care_plan(category=[concept, {"coding": [{"system": "urn:kinds", "code": "z"}]}]),
        rules,
        kinds,
    ) == ["CarePlan.category[1]"]


def test_type_discriminator_on_a_choice() -> None:
    rules = profile(
        "Observation",
        _sliced("Observation.component", [{"type": "type", "path": "value"}], "closed"),
        element("Observation.component:measured", slice_name="measured"),
        element("Observation.component:measured.value[x]", type=[{"code": "Quantity"}]),
        element("Observation.component:measured.value[x].unit", min=1),
        element("Observation.component:described", slice_name="described", max="1"),
        element("Observation.component:described.value[x]", type=[{"code": "string"}]),
    )
    code = {"text": "c"}
    ok = observation(
        component=[
            {"code": code, "valueQuantity": {"value": 1, "unit": "kg"}},
            {"code": code, "valueString": "x"},
        ]
    )
    assert errors(ok, rules) == []
    no_unit = observation(
        component=[
            {"code": code, "valueQuantity": {"value": 1}},
            {"code": code, "valueBoolean": True},
        ]
    )
    assert errors(no_unit, rules) == [
        "Observation.component[0].value.ofType(Quantity).unit",
        "Observation.component[1]",
    ]


def test_type_discriminator_on_an_inline_resource() -> None:
    rules = profile(
        "Bundle",
        _sliced("Bundle.entry", [{"type": "type", "path": "resource"}]),
        element("Bundle.entry:patient", slice_name="patient", min=1, max="1"),
        element("Bundle.entry:patient.resource", type=[{"code": "Patient"}]),
    )

    def bundle(*types: str) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": {"resourceType": t}} for t in types],
        }

    assert errors(bundle("Organization", "Patient"), rules) == []
    assert errors(bundle("Organization"), rules) == ["Bundle.entry"]
    assert errors(bundle("Patient", "Patient"), rules) == ["Bundle.entry"]


def test_profile_discriminator_on_an_inline_resource() -> None:
    with_gender = profile("Patient", element("Patient.gender", min=1), name="gendered")
    rules = profile(
        "Bundle",
        _sliced("Bundle.entry", [{"type": "profile", "path": "resource"}], "closed"),
        element("Bundle.entry:gendered", slice_name="gendered"),
        element(
            "Bundle.entry:gendered.resource",
            type=[{"code": "Patient", "profile": [url("gendered")]}],
        ),
    )
    entries = [{"resource": {"resourceType": "Patient", "gender": "other"}}]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    assert errors(bundle, rules, with_gender) == []
    bundle["entry"] = [*entries, {"resource": {"resourceType": "Patient"}}]
    assert errors(bundle, rules, with_gender) == ["Bundle.entry[1]"]


def test_type_discriminator_through_resolve() -> None:
    rules = profile(
        "CarePlan",
        _sliced("CarePlan.activity.outcomeReference", [{"type": "type", "path": "resolve()"}]),
        element(
            "CarePlan.activity.outcomeReference:observation",
            slice_name="observation",
            min=1,
            type=[{"code": "Reference", "targetProfile": [CORE + "Observation"]}],
        ),
    )
    outcome = [{"reference": "Procedure/1"}, {"reference": "Observation/2"}]
    assert errors(care_plan(activity=[{"outcomeReference": outcome}]), rules) == []
    assert errors(care_plan(activity=[{"outcomeReference": outcome[:1]}]), rules) == [
        "CarePlan.activity[0].outcomeReference"
    ]


@pytest.mark.parametrize(
    ("activities", "expected"),
    [
        ([{"reference": {"reference": "Task/1"}}, {"detail": {"status": "scheduled"}}], []),
        ([{"detail": {"status": "scheduled"}}], ["CarePlan.activity"]),
        (
            [{"reference": {"reference": "Task/1"}}, {"reference": {"reference": "Task/2"}}],
            ["CarePlan.activity"],
        ),
    ],
)
def test_exists_discriminator(activities: list[dict[str, Any]], expected: list[str]) -> None:
    rules = profile(
        "CarePlan",
        _sliced("CarePlan.activity", [{"type": "exists", "path": "reference"}]),
        element("CarePlan.activity:linked", slice_name="linked", min=1, max="1"),
        element("CarePlan.activity:linked.reference", min=1),
        element("CarePlan.activity:inline", slice_name="inline"),
        element("CarePlan.activity:inline.reference", max="0"),
    )
    assert errors(care_plan(activity=activities), rules) == expected


def test_no_discriminator_matches_by_conformance() -> None:
    rules = profile(
        "CarePlan",
        _sliced("CarePlan.note", [], "closed"),
        element("CarePlan.note:signed", slice_name="signed"),
        element("CarePlan.note:signed.authorString", min=1),
    )
    assert errors(care_plan(note=[{"text": "a", "authorString": "me"}]), rules) == []
    assert errors(care_plan(note=[{"text": "a"}]), rules) == ["CarePlan.note[0]"]


def test_a_discriminator_reading_into_a_referenced_resource_is_not_checked() -> None:
    rules = profile(
        "CarePlan",
        _sliced(
            "CarePlan.goal", [{"type": "value", "path": "resolve().lifecycleStatus"}], "closed"
        ),
        element("CarePlan.goal:active", slice_name="active", min=1),
    )
    assert found(care_plan(goal=[{"reference": "Goal/1"}]), rules) == [
        ("information", "informational", "CarePlan.goal")
    ]
    assert found(care_plan(), rules) == [("error", "required", "CarePlan.goal")]


@pytest.mark.parametrize(
    ("discriminator", "message"),
    [
        (
            {"type": "value", "path": "value"},
            "no fixed value, pattern or required binding at 'value'",
        ),
        ({"type": "exists", "path": "value"}, "'value' is neither required nor forbidden"),
        ({"type": "value", "path": "nonsense"}, "no element 'nonsense' on the discriminator path"),
        ({"type": "value", "path": "system.where(x)"}, "is not supported"),
        ({"type": "profile", "path": "value"}, "no profile at 'value'"),
    ],
)
def test_a_discriminator_the_slices_do_not_answer_is_a_profile_error(
    discriminator: dict[str, str], message: str
) -> None:
    from fhircare.validation.profiles import ProfileError, ProfileSet

    rules = profile(
        "CarePlan",
        _sliced("CarePlan.identifier", [discriminator]),
        element("CarePlan.identifier:one", slice_name="one"),
    )
    with pytest.raises(ProfileError, match=message) as raised:
        ProfileSet.build([rules])
    assert raised.value.element == "CarePlan.identifier:one"
