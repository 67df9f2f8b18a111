"""Definition-based extraction (``care/extract_*``) on small Questionnaires and responses.

https://hl7.org/fhir/uv/sdc/STU3/extraction.html#definition-based-extraction: extraction
contexts start resources (one per repetition of a repeating group), definitions name the
element each answer fills, and the resources are completed from the response and linked
by ``urn:uuid`` in a transaction Bundle.
"""

from __future__ import annotations

from typing import Any

import pytest

from fhircare.care.extract.answers import extract_drafts
from fhircare.care.extract.bundle import transaction_bundle
from fhircare.care.extract.elements import Element, element, write
from fhircare.care.extract.form import CONTEXT, HIDDEN, read_form
from fhircare.fhir.errors import FhirError

SD = "http://hl7.org/fhir/StructureDefinition/"
SCT = "http://snomed.info/sct"
DIABETES = {"system": SCT, "code": "44054006", "display": "Diabetes mellitus type 2"}
COPD = {"system": SCT, "code": "13645005", "display": "Chronic obstructive lung disease"}
STRING = {"valueString": "Walk to the shop"}
PROBLEM = {
    "system": "http://terminology.hl7.org/CodeSystem/condition-category",
    "code": "problem-list-item",
}


def context(resource_type: str) -> list[dict[str, Any]]:
    return [{"url": CONTEXT, "valueCode": resource_type}]


def question(link_id: str, definition: str | None = None, **more: Any) -> dict[str, Any]:
    item = {"linkId": link_id, "text": link_id, "type": "string", **more}
    if definition is not None:
        item["definition"] = SD + definition
    return item


def group(link_id: str, items: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"linkId": link_id, "text": link_id, "type": "group", "item": items, **more}


def answered(link_id: str, *values: dict[str, Any]) -> dict[str, Any]:
    return {"linkId": link_id, "answer": list(values)}


def within(link_id: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"linkId": link_id, "item": list(items)}


def questionnaire() -> dict[str, Any]:
    """A plan (root) with a repeating Condition group and a repeating Goal group."""
    condition = group(
        "condition",
        [
            question("condition.code", "Condition#Condition.code", type="choice"),
            question("condition.onset", "Condition#Condition.onset[x]", type="date"),
            question("condition.note", "Condition#Condition.note.text"),
            question(
                "condition.category",
                "Condition#Condition.category",
                type="choice",
                extension=[{"url": HIDDEN, "valueBoolean": True}],
                initial=[{"valueCoding": PROBLEM}],
            ),
        ],
        repeats=True,
        extension=context("Condition"),
    )
    goal = group(
        "goal",
        [
            question("goal.description", "Goal#Goal.description"),
            question("goal.measure", "Goal#Goal.target.measure", type="choice"),
            question("goal.target", "Goal#Goal.target.detail[x]", type="quantity"),
            question("goal.patient-name", "Patient#Patient.name.text"),
        ],
        repeats=True,
        extension=context("Goal"),
    )
    return {
        "resourceType": "Questionnaire",
        "status": "active",
        "extension": context("CarePlan"),
        "item": [
            question("plan.description", "CarePlan#CarePlan.description"),
            question("free-text"),
            group("conditions", [condition]),
            goal,
        ],
    }


def response(*items: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "subject": {"reference": "Patient/p1", "display": "Pat"},
        "authored": "2026-03-16T10:05:00-05:00",
        "author": {"reference": "PractitionerRole/role-1"},
        "source": {"reference": "RelatedPerson/rp-1"},
        "item": list(items),
        **more,
    }


def drafts_of(*items: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    made = extract_drafts(read_form(questionnaire()), response(*items))
    return [(d.resource_type, d.resource) for d in made]


def known(path: str) -> Element:
    found = element(path)
    assert found is not None
    return found


def error_of(call: Any) -> FhirError:
    with pytest.raises(FhirError) as raised:
        call()
    return raised.value


# -- elements: an answer at a path ---------------------------------------------------------


def test_a_coding_or_a_string_becomes_a_codeable_concept() -> None:
    resource: dict[str, Any] = {}
    write(resource, known("Condition.code"), {"valueCoding": DIABETES}, "a")
    assert resource == {"code": {"coding": [DIABETES]}}
    goal: dict[str, Any] = {}
    write(goal, known("Goal.description"), {"valueString": "Walk more"}, "a")
    assert goal == {"description": {"text": "Walk more"}}


def test_a_choice_element_takes_the_type_of_the_answer() -> None:
    dated: dict[str, Any] = {}
    write(dated, known("Condition.onset[x]"), {"valueDate": "2014-05"}, "a")
    assert dated == {"onsetDateTime": "2014-05"}
    told: dict[str, Any] = {}
    write(told, known("Condition.onset[x]"), {"valueString": "as a child"}, "a")
    assert told == {"onsetString": "as a child"}


def test_a_choice_element_is_named_by_its_element_id_with_the_marker() -> None:
    assert element("Goal.target.detail[x]") is not None
    assert element("Goal.target.detail") is None
    assert element("Condition.evidence") is None


def test_answers_below_a_repeating_element_share_its_last_instance_until_it_has_theirs() -> None:
    goal: dict[str, Any] = {}
    weight = {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}
    kg = {"value": 95, "unit": "kg"}
    write(goal, known("Goal.target.measure"), {"valueCoding": weight["coding"][0]}, "a")
    write(goal, known("Goal.target.detail[x]"), {"valueQuantity": kg}, "b")
    write(goal, known("Goal.target.measure"), {"valueString": "steps"}, "c")
    assert goal == {
        "target": [{"measure": weight, "detailQuantity": kg}, {"measure": {"text": "steps"}}]
    }
    noted: dict[str, Any] = {}
    for text in ("one", "two"):
        write(noted, known("Condition.note.text"), {"valueString": text}, "n")
    assert noted == {"note": [{"text": "one"}, {"text": "two"}]}


def test_a_repeating_leaf_takes_every_answer_and_a_single_one_refuses_a_second() -> None:
    resource: dict[str, Any] = {}
    for coding in (DIABETES, COPD):
        write(resource, known("Condition.category"), {"valueCoding": coding}, "a")
    assert resource["category"] == [{"coding": [DIABETES]}, {"coding": [COPD]}]
    write(resource, known("Condition.code"), {"valueCoding": DIABETES}, "x")
    error = error_of(
        lambda: write(resource, known("Condition.code"), {"valueCoding": COPD}, "here")
    )
    assert error.category == "processing" and error.issues[0].expression == ("here",)
    assert resource["code"] == {"coding": [DIABETES]}


def test_an_answer_of_a_kind_the_element_cannot_take_is_422_naming_the_answer() -> None:
    target = known("Goal.description")
    where = "QuestionnaireResponse.item[3].item[0].answer[0]"
    error = error_of(lambda: write({}, target, {"valueBoolean": True}, where))
    assert error.category == "processing"
    assert error.issues[0].expression == (where,)
    assert "valueBoolean" in error.issues[0].diagnostics


# -- the Questionnaire ----------------------------------------------------------------------


def test_a_context_of_a_type_not_extracted_or_an_expression_is_422_naming_it() -> None:
    for extension in (
        {"url": CONTEXT, "valueCode": "Observation"},
        {"url": CONTEXT, "valueExpression": {"language": "application/x-fhir-query"}},
    ):
        form = questionnaire()
        form["item"][2]["item"][0]["extension"] = [extension]
        error = error_of(lambda form=form: read_form(form))
        assert error.category == "processing"
        assert error.issues[0].expression == ("Questionnaire.item[2].item[0].extension",)


def test_a_questionnaire_without_contexts_extracts_nothing() -> None:
    plain = {"resourceType": "Questionnaire", "item": [question("a", "Condition#Condition.code")]}
    assert not read_form(plain).extracts
    assert read_form(questionnaire()).extracts


def test_an_element_fhircare_does_not_fill_is_422_naming_the_definition() -> None:
    form = questionnaire()
    form["item"][3]["item"][0]["definition"] = SD + "Goal#Goal.outcomeCode"
    error = error_of(
        lambda: extract_drafts(
            read_form(form), response(within("goal", answered("goal.description", STRING)))
        )
    )
    assert error.category == "processing"
    assert error.issues[0].expression == ("Questionnaire.item[3].item[0].definition",)


# -- the response ---------------------------------------------------------------------------


def test_each_repetition_of_a_repeating_group_makes_its_own_resource() -> None:
    made = drafts_of(
        within(
            "conditions",
            within("condition", answered("condition.code", {"valueCoding": DIABETES})),
            within(
                "condition",
                answered("condition.code", {"valueCoding": COPD}),
                answered("condition.onset", {"valueDate": "2019-01"}),
            ),
        ),
        within("goal", answered("goal.description", STRING)),
    )
    assert [t for t, _ in made] == ["Condition", "Condition", "Goal", "CarePlan"]
    assert made[0][1] == {
        "resourceType": "Condition",
        "code": {"coding": [DIABETES]},
        "category": [{"coding": [PROBLEM]}],
    }
    assert made[1][1]["code"] == {"coding": [COPD]}
    assert made[1][1]["onsetDateTime"] == "2019-01"
    assert made[2][1] == {"resourceType": "Goal", "description": {"text": "Walk to the shop"}}


def test_a_repetition_without_answers_makes_nothing_but_the_root_is_always_made() -> None:
    made = drafts_of(within("conditions", within("condition")), answered("free-text", STRING))
    assert made == [("CarePlan", {"resourceType": "CarePlan"})]


def test_a_hidden_items_initial_value_fills_only_what_the_response_left_out() -> None:
    chosen = {"system": "http://example.org/category", "code": "chosen"}
    made = drafts_of(
        within(
            "conditions",
            within(
                "condition",
                answered("condition.code", {"valueCoding": DIABETES}),
                answered("condition.category", {"valueCoding": chosen}),
            ),
        )
    )
    assert made[0][1]["category"] == [{"coding": [chosen]}]


def test_answers_fill_the_nearest_context_and_other_types_definitions_are_ignored() -> None:
    made = drafts_of(
        answered("plan.description", {"valueString": "Stay at home"}),
        within(
            "goal",
            answered("goal.description", STRING),
            answered("goal.patient-name", {"valueString": "Pat"}),
        ),
    )
    goal, plan = made[0][1], made[1][1]
    assert "name" not in goal and goal["description"] == {"text": "Walk to the shop"}
    assert plan == {"resourceType": "CarePlan", "description": "Stay at home"}


def test_items_nested_under_an_answer_are_extracted_too() -> None:
    nested = {"valueCoding": DIABETES, "item": [answered("condition.note", STRING)]}
    made = drafts_of(within("conditions", within("condition", answered("condition.code", nested))))
    assert made[0][1]["note"] == [{"text": "Walk to the shop"}]


def test_a_link_id_the_questionnaire_lacks_is_422_naming_the_response_item() -> None:
    error = error_of(lambda: drafts_of(within("conditions", answered("nope", STRING))))
    assert error.category == "processing"
    assert error.issues[0].expression == ("QuestionnaireResponse.item[0].item[0].linkId",)


# -- completed, linked and bundled ---------------------------------------------------------


def bundle_of(qr: dict[str, Any], reference: str | None = "QuestionnaireResponse/qr-1") -> Any:
    drafts = extract_drafts(read_form(questionnaire()), qr)
    return transaction_bundle(drafts, qr, reference, "models")


def test_the_bundle_posts_each_resource_and_the_plan_links_them_by_urn_uuid() -> None:
    qr = response(
        within(
            "conditions",
            within("condition", answered("condition.code", {"valueCoding": DIABETES})),
            within("condition", answered("condition.code", {"valueCoding": COPD})),
        ),
        within("goal", answered("goal.description", STRING)),
    )
    bundle = bundle_of(qr)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    entries = bundle["entry"]
    urls = [e["fullUrl"] for e in entries]
    assert all(u.startswith("urn:uuid:") for u in urls) and len(set(urls)) == 4
    assert [e["request"] for e in entries] == [
        {"method": "POST", "url": t} for t in ("Condition", "Condition", "Goal", "CarePlan")
    ]
    condition, goal, plan = entries[0]["resource"], entries[2]["resource"], entries[3]["resource"]
    assert condition["clinicalStatus"]["coding"][0]["code"] == "active"
    assert condition["verificationStatus"]["coding"][0]["code"] == "provisional"
    assert condition["subject"] == {"reference": "Patient/p1", "display": "Pat"}
    assert condition["recordedDate"] == "2026-03-16T10:05:00-05:00"
    assert condition["recorder"] == {"reference": "PractitionerRole/role-1"}
    assert condition["asserter"] == {"reference": "RelatedPerson/rp-1"}
    assert goal["lifecycleStatus"] == "proposed"
    assert goal["expressedBy"] == {"reference": "RelatedPerson/rp-1"}
    assert plan["status"] == "draft" and plan["intent"] == "plan"
    assert plan["author"] == {"reference": "PractitionerRole/role-1"}
    assert plan["created"] == "2026-03-16T10:05:00-05:00"
    assert plan["addresses"] == [{"reference": urls[0]}, {"reference": urls[1]}]
    assert plan["goal"] == [{"reference": urls[2]}]
    assert plan["supportingInfo"] == [{"reference": "QuestionnaireResponse/qr-1"}]
    assert list(plan)[:3] == ["resourceType", "status", "intent"]


def test_an_answered_status_is_kept_and_references_of_types_not_allowed_are_left_out() -> None:
    confirmed = {
        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
        "code": "confirmed",
    }
    form = questionnaire()
    form["item"][2]["item"][0]["item"].append(
        question("condition.ver", "Condition#Condition.verificationStatus", type="choice")
    )
    qr = response(
        within(
            "conditions",
            within(
                "condition",
                answered("condition.code", {"valueCoding": DIABETES}),
                answered("condition.ver", {"valueCoding": confirmed}),
            ),
        ),
        author={"reference": "Organization/org-1"},
        source={"reference": "Device/d-1"},
    )
    bundle = transaction_bundle(extract_drafts(read_form(form), qr), qr, None, "models")
    condition, plan = bundle["entry"][0]["resource"], bundle["entry"][1]["resource"]
    assert condition["verificationStatus"] == {"coding": [confirmed]}
    assert "recorder" not in condition and "asserter" not in condition
    assert plan["author"] == {"reference": "Organization/org-1"}
    assert "supportingInfo" not in plan and "goal" not in plan


def test_a_resource_that_would_not_be_valid_is_422_naming_the_response_item() -> None:
    qr = response(within("goal", answered("goal.measure", {"valueString": "steps"})))
    error = error_of(lambda: bundle_of(qr))
    assert error.category == "processing"
    assert error.issues[0].expression == ("QuestionnaireResponse.item[0]",)
    assert "description" in error.issues[0].diagnostics
