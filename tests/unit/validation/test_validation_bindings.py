"""Required bindings on code elements: https://hl7.org/fhir/R4/terminologies.html#required"""

from __future__ import annotations

from typing import Any

from tests.unit.validation.minimal_resources import minimal

from fhircare.validation import find_issues


def _issues(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(issue.code, issue.expression[0]) for issue in find_issues(resource)]


def test_bogus_status_is_code_invalid() -> None:
    plan = minimal("CarePlan")
    plan["status"] = "bogus"
    issues = find_issues(plan)
    assert [(i.code, i.expression) for i in issues] == [("code-invalid", ("CarePlan.status",))]
    assert issues[0].diagnostics == (
        "CarePlan.status: 'bogus' is not in the required value set "
        "(draft | active | on-hold | revoked | completed | entered-in-error | unknown)"
    )


def test_codes_are_case_sensitive() -> None:
    plan = minimal("CarePlan")
    plan["status"] = "Active"
    assert _issues(plan) == [("code-invalid", "CarePlan.status")]


def test_nested_backbone_binding() -> None:
    plan = minimal("CarePlan")
    plan["activity"] = [
        {"detail": {"status": "scheduled"}},
        {"detail": {"status": "done", "kind": "Appointment"}},
    ]
    assert _issues(plan) == [("code-invalid", "CarePlan.activity[1].detail.status")]


def test_list_of_codes() -> None:
    role = minimal("PractitionerRole")
    role["availableTime"] = [{"daysOfWeek": ["mon", "funday", "fri"]}]
    assert _issues(role) == [("code-invalid", "PractitionerRole.availableTime[0].daysOfWeek[1]")]


def test_datatype_bindings_are_checked_too() -> None:
    patient = minimal("Patient")
    patient["name"][0]["use"] = "nickname"
    patient["telecom"] = [{"system": "pigeon", "value": "x"}]
    assert _issues(patient) == [("code-invalid", "Patient.telecom[0].system")]


def test_statuses_beyond_the_model_titles_are_accepted() -> None:
    """fhir.resources truncates Task.status to 'draft | ... | accepted | +'."""
    for status in ("in-progress", "completed", "failed", "entered-in-error"):
        task = minimal("Task")
        task["status"] = status
        assert _issues(task) == []
    task["status"] = "+"
    assert _issues(task) == [("code-invalid", "Task.status")]
    questionnaire = minimal("Questionnaire")
    questionnaire["item"][0]["type"] = "open-choice"
    assert _issues(questionnaire) == []


def test_primitive_extension_siblings_carry_no_code() -> None:
    plan = minimal("CarePlan")
    plan["_status"] = {"extension": [{"url": "http://example.org/x", "valueString": "bogus"}]}
    assert _issues(plan) == []


def test_a_code_extension_may_replace_a_required_code() -> None:
    plan = minimal("CarePlan")
    del plan["status"]
    plan["_status"] = {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                "valueCode": "unknown",
            }
        ]
    }
    assert _issues(plan) == []


def test_wrong_json_type_for_a_code_is_one_value_issue() -> None:
    plan = minimal("CarePlan")
    plan["status"] = 5
    assert _issues(plan) == [("value", "CarePlan.status")]
