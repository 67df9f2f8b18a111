"""The SearchParameter registry: per-type expressions, evaluation on real resources,
resolve() without fetching, the Resource-level parameters and the Patient compartment."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from fhircare.fhir import jsonio
from fhircare.search.registry import (
    COMMON_CODES,
    SUPPORTED_TYPES,
    SearchParam,
    SearchParamRegistry,
    alternatives_for,
    default_registry,
    split_union,
)

ROOT = Path(__file__).resolve().parents[3]


def example_resources() -> list[dict[str, Any]]:
    return [
        entry["resource"]
        for path in sorted((ROOT / "examples").glob("*.json"))
        for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]
    ]


def example(resource_type: str, resource_id: str) -> dict[str, Any]:
    for resource in example_resources():
        if resource["resourceType"] == resource_type and resource["id"] == resource_id:
            return resource
    raise LookupError(f"{resource_type}/{resource_id} is not in examples/")


@pytest.fixture(scope="module")
def registry() -> SearchParamRegistry:
    return default_registry()


def refs(values: list[Any]) -> list[str]:
    return [v["reference"] for v in values]


# --- expressions ------------------------------------------------------------------------


def test_split_union_only_splits_at_the_top_level() -> None:
    assert split_union("A.b | (A.c.where(d = 'x|y')) | A.e.where(f.exists() | g)") == [
        "A.b",
        "(A.c.where(d = 'x|y'))",
        "A.e.where(f.exists() | g)",
    ]
    assert split_union("Patient.name") == ["Patient.name"]


def test_alternatives_are_kept_by_their_root_type_even_in_parentheses() -> None:
    expression = (
        "(Observation.value.ofType(string)) | (Observation.value.ofType(CodeableConcept)).text"
        " | ObservationDefinition.code"
    )
    assert alternatives_for(expression, ["Observation"]) == [
        "(Observation.value.ofType(string))",
        "(Observation.value.ofType(CodeableConcept)).text",
    ]


def test_expression_for_keeps_the_alternatives_of_the_type(registry: SearchParamRegistry) -> None:
    clinical_patient = registry.get("CarePlan", "patient")
    assert clinical_patient is not None
    assert clinical_patient.url == "http://hl7.org/fhir/SearchParameter/clinical-patient"
    assert clinical_patient.expression.startswith("AllergyIntolerance.patient | ")
    assert registry.expression_for("CarePlan", "patient") == (
        "CarePlan.subject.where(resolve() is Patient)"
    )
    assert registry.expression_for("Condition", "code") == "Condition.code"
    assert registry.expression_for("Observation", "date") == "Observation.effective"
    assert registry.expression_for("Patient", "email") == ("Patient.telecom.where(system='email')")
    assert registry.expression_for("Practitioner", "phone") == (
        "Practitioner.telecom.where(system='phone')"
    )
    assert registry.expression_for("AuditEvent", "patient") == (
        "AuditEvent.agent.who.where(resolve() is Patient)"
        " | AuditEvent.entity.what.where(resolve() is Patient)"
    )


def test_resource_level_expressions_apply_to_every_type(registry: SearchParamRegistry) -> None:
    for resource_type in ("Patient", "Task", "Consent"):
        assert registry.expression_for(resource_type, "_tag") == "Resource.meta.tag"
        assert registry.expression_for(resource_type, "_id") == "Resource.id"


def test_every_supported_parameter_has_an_expression_for_its_type(
    registry: SearchParamRegistry,
) -> None:
    missing = [
        (resource_type, code)
        for resource_type in sorted(SUPPORTED_TYPES)
        for code in registry.params_for(resource_type)
        if not registry.expression_for(resource_type, code)
    ]
    assert missing == []


def test_every_supported_parameter_compiles(
    registry: SearchParamRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    fresh = SearchParamRegistry(registry.params)
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        count = fresh.compile_all()
    assert count > 500
    assert caplog.records == []


def test_an_unknown_parameter_is_a_key_error(registry: SearchParamRegistry) -> None:
    assert registry.get("Patient", "no-such-param") is None
    with pytest.raises(KeyError):
        registry.expression_for("Patient", "no-such-param")


# --- the parameters of each type ------------------------------------------------------


def test_patient_has_its_official_parameters(registry: SearchParamRegistry) -> None:
    params = registry.params_for("Patient")
    expected = {
        "name",
        "family",
        "given",
        "birthdate",
        "identifier",
        "general-practitioner",
        "organization",
        "gender",
        "address",
        "address-city",
        "address-postalcode",
        "telecom",
        "phone",
        "email",
        "active",
        "deceased",
        "death-date",
        "link",
        "language",
        "phonetic",
        *COMMON_CODES,
    }
    assert expected <= set(params)
    assert params["birthdate"].type == "date"
    assert params["general-practitioner"].type == "reference"
    assert set(params["general-practitioner"].targets) == {
        "Organization",
        "Practitioner",
        "PractitionerRole",
    }
    assert params["name"].type == "string"
    assert params["gender"].type == "token"


def test_every_supported_type_has_a_sane_number_of_parameters(
    registry: SearchParamRegistry,
) -> None:
    assert registry.resource_types == SUPPORTED_TYPES
    for resource_type in SUPPORTED_TYPES:
        params = registry.params_for(resource_type)
        own = [p for p in params.values() if not p.common]
        assert 5 <= len(own) <= 60, (resource_type, len(own))
        assert set(COMMON_CODES) <= set(params)
        assert not {"_text", "_content", "_query"} & set(params)
        for code, param in params.items():
            assert param.code == code
            assert resource_type in param.base or param.common
            assert set(param.base) <= SUPPORTED_TYPES | {"Resource", "DomainResource"}


def test_parameter_facts(registry: SearchParamRegistry) -> None:
    date = registry.get("Observation", "date")
    assert date is not None
    assert date.comparators == ("eq", "ne", "gt", "ge", "lt", "le", "sa", "eb", "ap")
    assert set(date.base) == {
        "AllergyIntolerance", "CarePlan", "CareTeam", "Consent", "DiagnosticReport", "Encounter",
        "Immunization", "Observation", "Procedure",
    }  # fmt: skip
    quantity = registry.get("Observation", "code-value-quantity")
    assert quantity is not None
    assert quantity.type == "composite"
    assert quantity.components == (("code", "code"), ("value-quantity", "value.ofType(Quantity)"))
    assert quantity.multiple_or is False
    assert registry.get("Task", "owner") == registry.params_for("Task")["owner"]


def test_a_runtime_parameter_is_added_without_changing_the_original(
    registry: SearchParamRegistry,
) -> None:
    param = SearchParam(
        code="nickname",
        type="string",
        url="http://example.org/SearchParameter/patient-nickname",
        base=("Patient",),
        expression="Patient.name.where(use = 'nickname').given",
    )
    extended = registry.with_params(param)
    patient = {"resourceType": "Patient", "name": [{"use": "nickname", "given": ["Bob"]}]}
    assert extended.evaluate("Patient", "nickname", patient) == ["Bob"]
    assert registry.get("Patient", "nickname") is None
    assert extended.get("Patient", "name") == registry.get("Patient", "name")


def test_a_searchparameter_resource_becomes_a_param(registry: SearchParamRegistry) -> None:
    resource = {
        "resourceType": "SearchParameter",
        "url": "http://example.org/SearchParameter/task-code-owner",
        "name": "code-owner",
        "status": "active",
        "code": "code-owner",
        "base": ["Task"],
        "type": "composite",
        "expression": "Task",
        "component": [
            {"definition": "http://hl7.org/fhir/SearchParameter/Task-code", "expression": "code"},
            {"definition": "http://hl7.org/fhir/SearchParameter/Task-owner", "expression": "owner"},
        ],
    }
    param = registry.param_from_resource(resource)
    assert param.components == (("code", "code"), ("owner", "owner"))
    extended = registry.with_params(param)
    task = {"resourceType": "Task", "code": {"text": "c"}, "owner": {"reference": "Practitioner/p"}}
    assert extended.evaluate_composite("Task", "code-owner", task) == [
        ([{"text": "c"}], [{"reference": "Practitioner/p"}])
    ]
    unknown = {**resource, "component": [{"definition": "http://x/nope", "expression": "code"}]}
    with pytest.raises(ValueError, match="unknown component"):
        registry.param_from_resource(unknown)


def test_lookup_for_the_parser(registry: SearchParamRegistry) -> None:
    assert registry.lookup("Patient", "name") == registry.get("Patient", "name")
    assert registry.lookup(None, "_lastUpdated") == registry.get("Patient", "_lastUpdated")
    assert registry.lookup(None, "name") is None
    assert registry.lookup("Patient", "nope") is None


def test_the_default_registry_is_built_once() -> None:
    assert default_registry() is default_registry()


# --- evaluation on the examples -------------------------------------------------------


def test_careplan_subject_and_patient(registry: SearchParamRegistry) -> None:
    careplan = example("CarePlan", "careplan-diabetes-hf")
    assert refs(registry.evaluate("CarePlan", "subject", careplan)) == ["Patient/pat-diabetes-hf"]
    assert refs(registry.evaluate("CarePlan", "patient", careplan)) == ["Patient/pat-diabetes-hf"]
    assert registry.evaluate("CarePlan", "status", careplan) == ["active"]
    assert registry.evaluate("CarePlan", "date", careplan) == [
        {"start": "2026-03-16", "end": "2027-03-15"}
    ]
    assert refs(registry.evaluate("CarePlan", "goal", careplan)) == [
        "Goal/goal-diabetes-hf-hba1c",
        "Goal/goal-diabetes-hf-weight",
    ]


def test_task_owner_and_patient(registry: SearchParamRegistry) -> None:
    task = example("Task", "task-copd-home-safety-visit")
    assert refs(registry.evaluate("Task", "owner", task)) == [
        "PractitionerRole/role-community-nurse"
    ]
    assert refs(registry.evaluate("Task", "patient", task)) == ["Patient/pat-copd"]
    assert refs(registry.evaluate("Task", "focus", task)) == ["CarePlan/careplan-copd"]
    assert registry.evaluate("Task", "status", task) == ["accepted"]


def test_observation_value_quantity_code_and_date(registry: SearchParamRegistry) -> None:
    observation = example("Observation", "obs-diabetes-hf-hba1c-2026-03")
    assert registry.evaluate("Observation", "value-quantity", observation) == [
        {"value": 8.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    ]
    [code] = registry.evaluate("Observation", "code", observation)
    assert code["coding"][0]["code"] == "4548-4"
    assert registry.evaluate("Observation", "date", observation) == ["2026-03-16T08:45:00-05:00"]
    assert refs(registry.evaluate("Observation", "patient", observation)) == [
        "Patient/pat-diabetes-hf"
    ]


def test_observation_composites(registry: SearchParamRegistry) -> None:
    observation = example("Observation", "obs-diabetes-hf-hba1c-2026-03")
    [(codes, values)] = registry.evaluate_composite(
        "Observation", "code-value-quantity", observation
    )
    assert codes[0]["coding"][0]["code"] == "4548-4"
    assert values == [
        {"value": 8.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    ]
    # Official ``value.ofType(DateTime)`` names the system type: it must still match.
    dated = {"resourceType": "Observation", "code": {"text": "x"}, "valueDateTime": "2026-01-02"}
    assert registry.evaluate_composite("Observation", "code-value-date", dated) == [
        ([{"text": "x"}], ["2026-01-02"])
    ]
    panel = {
        "resourceType": "Observation",
        "code": {"text": "bp"},
        "component": [
            {"code": {"text": "sys"}, "valueQuantity": {"value": 120}},
            {"code": {"text": "dia"}, "valueQuantity": {"value": 80}},
        ],
    }
    assert registry.evaluate_composite("Observation", "component-code-value-quantity", panel) == [
        ([{"text": "sys"}], [{"value": 120}]),
        ([{"text": "dia"}], [{"value": 80}]),
    ]
    assert registry.evaluate_composite("Observation", "combo-code-value-quantity", panel) == [
        ([{"text": "bp"}], []),
        ([{"text": "sys"}], [{"value": 120}]),
        ([{"text": "dia"}], [{"value": 80}]),
    ]


def test_decimals_keep_their_text(registry: SearchParamRegistry) -> None:
    """Resources are parsed with ``jsonio`` (decimals as ``JsonNumber``): values keep them."""
    observation = jsonio.loads(
        '{"resourceType": "Observation", "valueQuantity": {"value": 7.00, "unit": "%"},'
        ' "component": [{"valueQuantity": {"value": 1.50}}]}'
    )
    [quantity] = registry.evaluate("Observation", "value-quantity", observation)
    assert str(quantity["value"]) == "7.00"
    values = registry.evaluate("Observation", "combo-value-quantity", observation)
    assert [str(v["value"]) for v in values] == ["7.00", "1.50"]
    [(_, [component])] = registry.evaluate_composite(
        "Observation", "component-code-value-quantity", observation
    )
    assert str(component["value"]) == "1.50"


def test_patient_name_and_telecom(registry: SearchParamRegistry) -> None:
    patient = example("Patient", "pat-diabetes-hf")
    [name] = registry.evaluate("Patient", "name", patient)
    assert name["family"] == "Whitaker"
    assert registry.evaluate("Patient", "family", patient) == ["Whitaker"]
    assert registry.evaluate("Patient", "given", patient) == ["Harold", "James"]
    assert registry.evaluate("Patient", "birthdate", patient) == ["1952-03-18"]
    assert [t["system"] for t in registry.evaluate("Patient", "phone", patient)] == [
        "phone",
        "phone",
    ]
    assert registry.evaluate("Patient", "deceased", patient) == [False]


def test_goal_condition_and_appointment(registry: SearchParamRegistry) -> None:
    goal = example("Goal", "goal-diabetes-hf-hba1c")
    assert registry.evaluate("Goal", "lifecycle-status", goal) == ["active"]
    condition = example("Condition", "cond-diabetes-hf-t2dm")
    [status] = registry.evaluate("Condition", "clinical-status", condition)
    assert status["coding"][0]["code"] == "active"
    appointment = example("Appointment", "appt-copd-pcp-followup")
    assert refs(registry.evaluate("Appointment", "actor", appointment)) == [
        "Patient/pat-copd",
        "Practitioner/prac-gp",
        "RelatedPerson/rp-copd-daughter",
        "Location/loc-riverside-clinic",
    ]
    assert refs(registry.evaluate("Appointment", "patient", appointment)) == ["Patient/pat-copd"]
    assert refs(registry.evaluate("Appointment", "practitioner", appointment)) == [
        "Practitioner/prac-gp"
    ]
    assert refs(registry.evaluate("Appointment", "location", appointment)) == [
        "Location/loc-riverside-clinic"
    ]


def test_choice_types(registry: SearchParamRegistry) -> None:
    condition = {"resourceType": "Condition", "onsetDateTime": "2020-01-01"}
    assert registry.evaluate("Condition", "onset-date", condition) == ["2020-01-01"]
    assert registry.evaluate("Condition", "onset-info", condition) == []
    assert registry.evaluate("Condition", "onset-info", {**condition, "onsetString": "x"}) == []
    assert registry.evaluate(
        "Condition", "onset-info", {"resourceType": "Condition", "onsetString": "spring"}
    ) == ["spring"]
    patient = {"resourceType": "Patient", "deceasedDateTime": "2020-01-01"}
    assert registry.evaluate("Patient", "death-date", patient) == ["2020-01-01"]
    assert registry.evaluate("Patient", "deceased", patient) == [True]
    observation = {"resourceType": "Observation", "valueCodeableConcept": {"text": "pos"}}
    assert registry.evaluate("Observation", "value-string", observation) == ["pos"]
    assert registry.evaluate("Observation", "value-quantity", observation) == []


# --- resolve() without fetching -------------------------------------------------------


def careplan(*subjects: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "CarePlan", "subject": subjects[0], **extra}


@pytest.mark.parametrize(
    ("reference", "is_patient"),
    [
        ({"reference": "Patient/p1"}, True),
        ({"reference": "Group/g1"}, False),
        ({"reference": "http://example.org/fhir/Patient/p1"}, True),
        ({"reference": "http://example.org/fhir/Group/g1"}, False),
        ({"reference": "Patient/p1/_history/3"}, True),
        ({"reference": "urn:uuid:3f1c0c2e-0b8e-4a8e-9c53-0f6e1c5a2b7d"}, False),
        ({"identifier": {"system": "urn:mrn", "value": "1"}, "type": "Patient"}, True),
        (
            {
                "identifier": {"value": "1"},
                "type": "http://hl7.org/fhir/StructureDefinition/Patient",
            },
            True,
        ),
        ({"identifier": {"value": "1"}}, False),
        ({"display": "someone"}, False),
    ],
)
def test_patient_matches_only_patient_references_and_subject_any(
    registry: SearchParamRegistry, reference: dict[str, Any], is_patient: bool
) -> None:
    resource = careplan(reference)
    assert registry.evaluate("CarePlan", "subject", resource) == [reference]
    assert registry.evaluate("CarePlan", "patient", resource) == ([reference] if is_patient else [])


def test_resolve_reads_the_type_of_a_contained_resource(registry: SearchParamRegistry) -> None:
    resource = careplan(
        {"reference": "#p"},
        contained=[{"resourceType": "Patient", "id": "p"}, {"resourceType": "Group", "id": "g"}],
    )
    assert registry.evaluate("CarePlan", "patient", resource) == [{"reference": "#p"}]
    resource["subject"] = {"reference": "#g"}
    assert registry.evaluate("CarePlan", "patient", resource) == []
    resource["subject"] = {"reference": "#missing"}
    assert registry.evaluate("CarePlan", "patient", resource) == []


def test_resolve_filters_each_reference_of_a_list(registry: SearchParamRegistry) -> None:
    audit = {
        "resourceType": "AuditEvent",
        "agent": [{"who": {"reference": "Practitioner/x"}}, {"who": {"reference": "Patient/a"}}],
        "entity": [{"what": {"reference": "Patient/b"}}, {"what": {"reference": "Task/t"}}],
    }
    assert refs(registry.evaluate("AuditEvent", "patient", audit)) == ["Patient/a", "Patient/b"]


# --- Resource-level parameters --------------------------------------------------------


def test_common_parameters_read_meta(registry: SearchParamRegistry) -> None:
    meta = {
        "lastUpdated": "2026-03-16T11:00:00Z",
        "source": "http://peer.example.org/fhir#abc",
        "profile": ["http://example.org/StructureDefinition/care-plan"],
        "tag": [{"system": "http://example.org/tags", "code": "synced"}],
        "security": [
            {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
        ],
    }
    for resource_type in ("CarePlan", "Patient", "Provenance"):
        resource = {"resourceType": resource_type, "id": "x1", "meta": meta}
        assert registry.evaluate(resource_type, "_id", resource) == ["x1"]
        assert registry.evaluate(resource_type, "_lastUpdated", resource) == [meta["lastUpdated"]]
        assert registry.evaluate(resource_type, "_source", resource) == [meta["source"]]
        assert registry.evaluate(resource_type, "_profile", resource) == meta["profile"]
        assert registry.evaluate(resource_type, "_tag", resource) == meta["tag"]
        assert registry.evaluate(resource_type, "_security", resource) == meta["security"]


def test_common_parameters_apply_to_any_type(registry: SearchParamRegistry) -> None:
    assert set(registry.params_for("Basic")) == set(COMMON_CODES)
    assert registry.evaluate("Basic", "_id", {"resourceType": "Basic", "id": "b"}) == ["b"]


# --- robustness ------------------------------------------------------------------------


def test_evaluation_works_on_a_copy(registry: SearchParamRegistry) -> None:
    resource = example("CarePlan", "careplan-diabetes-hf")
    before = copy.deepcopy(resource)
    values = registry.evaluate_all("CarePlan", resource)
    assert resource == before
    values["subject"][0]["reference"] = "changed"
    assert resource == before
    assert set(values) == set(registry.params_for("CarePlan"))


def test_a_failing_expression_gives_no_values_and_a_warning(
    registry: SearchParamRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    singleton = SearchParam(
        code="only-name",
        type="string",
        url="http://example.org/SearchParameter/only-name",
        base=("Patient",),
        expression="(Patient.name as HumanName).family",
    )
    broken = SearchParam(
        code="broken",
        type="string",
        url="http://example.org/SearchParameter/broken",
        base=("Patient",),
        expression="Patient.name.(((",  # fhirpathpy alone would read it as Patient.name
    )
    extended = registry.with_params(singleton, broken)
    patient = {"resourceType": "Patient", "name": [{"family": "A"}, {"family": "B"}]}
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert extended.evaluate(
            "Patient", "only-name", {**patient, "name": [{"family": "A"}]}
        ) == ["A"]
        assert extended.evaluate("Patient", "only-name", patient) == []
        assert extended.evaluate("Patient", "broken", patient) == []
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "only-name" in messages
    assert "Patient.name.(((" in messages


def test_patient_compartment(registry: SearchParamRegistry) -> None:
    assert registry.patient_compartment("CarePlan") == ("patient", "performer")
    assert registry.patient_compartment("Task") == ("patient", "focus")
    assert registry.patient_compartment("Appointment") == ("actor",)
    assert registry.patient_compartment("Organization") == ()
    for resource_type in SUPPORTED_TYPES:
        for code in registry.patient_compartment(resource_type):
            param = registry.get(resource_type, code)
            assert param is not None and param.type == "reference", (resource_type, code)
