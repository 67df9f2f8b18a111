"""``QuestionnaireResponse/$extract`` over HTTP with the examples loaded, on every store.

https://hl7.org/fhir/uv/sdc/STU3/OperationDefinition-QuestionnaireResponse-extract.html by
definition-based extraction (https://hl7.org/fhir/uv/sdc/STU3/extraction.html): the intake
assessments of examples/03-assessment.json become transaction Bundles of draft Conditions,
Goals and a CarePlan linked by ``urn:uuid``, which ``POST [base]`` (or ``persist=true``)
creates (https://hl7.org/fhir/R4/http.html#transaction).
"""

from __future__ import annotations

import copy
from typing import Any

import httpx

from tests.integration.bundle_helpers import FHIR_JSON, count, outcome_of, statuses, target

HF = "qr-intake-diabetes-hf"
COPD = "qr-intake-copd"
SCT = "http://snomed.info/sct"
INTAKE = "http://fhircare.example.org/fhir/Questionnaire/care-coordination-intake"
PROBLEM = "problem-list-item"
CONCERN = "health-concern"
CARE_MANAGER = {"reference": "PractitionerRole/role-care-manager", "display": "Maria Gonzalez, RN"}


def parameters(*parameter: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Parameters"}
    if parameter:
        body["parameter"] = list(parameter)
    return body


PERSIST = parameters({"name": "persist", "valueBoolean": True})


async def extract(client: httpx.AsyncClient, id: str) -> dict[str, Any]:
    answer = await client.get(f"/QuestionnaireResponse/{id}/$extract")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "transaction"
    return body


async def extract_given(
    client: httpx.AsyncClient, response: dict[str, Any], *more: dict[str, Any]
) -> httpx.Response:
    body = parameters({"name": "questionnaire-response", "resource": response}, *more)
    return await client.post("/QuestionnaireResponse/$extract", json=body, headers=FHIR_JSON)


async def read(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    answer = await client.get(f"/{key}")
    assert answer.status_code == 200, answer.text
    resource: dict[str, Any] = answer.json()
    return resource


def of_type(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def code_of(concept: dict[str, Any]) -> str:
    return str(concept["coding"][0]["code"])


def categories(condition: dict[str, Any]) -> list[str]:
    return [code_of(c) for c in condition["category"]]


def check_links(bundle: dict[str, Any]) -> dict[str, Any]:
    """Every entry POSTs its resource under a distinct urn:uuid, and the one CarePlan
    addresses every Condition and has every Goal by those; the plan returned."""
    full_urls = [e["fullUrl"] for e in bundle["entry"]]
    assert all(u.startswith("urn:uuid:") for u in full_urls)
    assert len(set(full_urls)) == len(full_urls)
    for e in bundle["entry"]:
        assert e["request"] == {"method": "POST", "url": e["resource"]["resourceType"]}
        assert "id" not in e["resource"]
    [plan] = of_type(bundle, "CarePlan")
    resource = plan["resource"]
    conditions = [e["fullUrl"] for e in of_type(bundle, "Condition")]
    goals = [e["fullUrl"] for e in of_type(bundle, "Goal")]
    assert [r["reference"] for r in resource["addresses"]] == conditions
    assert [r["reference"] for r in resource["goal"]] == goals
    return dict(resource)


async def test_the_diabetes_and_heart_failure_intake_extracts_field_by_field(
    loaded: httpx.AsyncClient,
) -> None:
    bundle = await extract(loaded, HF)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        *["Condition"] * 5,
        *["Goal"] * 3,
        "CarePlan",
    ]
    subject = {"reference": "Patient/pat-diabetes-hf", "display": "Harold Whitaker"}
    conditions = [e["resource"] for e in of_type(bundle, "Condition")]
    assert [(code_of(c["code"]), categories(c)) for c in conditions] == [
        ("44054006", [PROBLEM]),
        ("84114007", [PROBLEM]),
        ("38341003", [PROBLEM]),
        ("733423003", [CONCERN]),
        ("713458007", [CONCERN]),
    ]
    assert [code_of(c["verificationStatus"]) for c in conditions] == [
        "confirmed",
        "confirmed",
        "provisional",
        "provisional",
        "provisional",
    ]
    assert [c.get("onsetDateTime") for c in conditions] == ["2014-05", "2023-02", None, None, None]
    for condition in conditions:
        assert code_of(condition["clinicalStatus"]) == "active"
        assert condition["subject"] == subject
        assert condition["recordedDate"] == "2026-03-16T10:05:00-05:00"
        assert condition["recorder"] == CARE_MANAGER
        assert condition["asserter"] == subject  # the patient answered
    assert conditions[3]["note"] == [
        {
            "text": "Worries that food runs out before the end of the month since his wife's "
            "hours were cut."
        }
    ]
    assert conditions[3]["code"]["coding"][0] == {
        "system": SCT,
        "code": "733423003",
        "display": "Food insecurity",
    }

    goals = [e["resource"] for e in of_type(bundle, "Goal")]
    assert [g["description"] for g in goals] == [
        {"text": "Lose weight so I can breathe easier"},
        {"text": "Get my sugar under control"},
        {"text": "Work in my garden again by the summer"},
    ]
    assert all(g["lifecycleStatus"] == "proposed" and g["subject"] == subject for g in goals)
    assert all(g["expressedBy"] == subject for g in goals)
    weight = goals[0]["target"]
    assert weight == [
        {
            "measure": {
                "coding": [
                    {"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}
                ]
            },
            "detailQuantity": {
                "value": 95,
                "comparator": "<=",
                "unit": "kg",
                "system": "http://unitsofmeasure.org",
                "code": "kg",
            },
            "dueDate": "2026-12-31",
        }
    ]
    assert code_of(goals[1]["target"][0]["measure"]) == "4548-4"
    assert "target" not in goals[2]

    plan = check_links(bundle)
    assert plan["status"] == "draft" and plan["intent"] == "plan"
    assert plan["subject"] == subject and plan["author"] == CARE_MANAGER
    assert plan["created"] == "2026-03-16T10:05:00-05:00"
    assert plan["title"] == "Care coordination plan (draft from the intake assessment)"
    assert plan["description"] == "Staying out of hospital and being able to work in my garden."
    assert code_of(plan["category"][0]) == "734163000"
    assert plan["supportingInfo"] == [{"reference": f"QuestionnaireResponse/{HF}"}]


async def test_the_copd_intake_extracts_its_condition_need_and_goals(
    loaded: httpx.AsyncClient,
) -> None:
    bundle = await extract(loaded, COPD)
    conditions = [e["resource"] for e in of_type(bundle, "Condition")]
    assert [(code_of(c["code"]), categories(c)) for c in conditions] == [
        ("13645005", [PROBLEM]),
        ("105529008", [CONCERN]),
    ]
    daughter = {"reference": "RelatedPerson/rp-copd-daughter", "display": "Sarah Kelly"}
    assert all(c["asserter"] == daughter for c in conditions)
    goals = [e["resource"] for e in of_type(bundle, "Goal")]
    assert [g["description"]["text"] for g in goals] == [
        "Walk to the corner shop without stopping",
        "Not go back into hospital",
    ]
    assert goals[0]["target"][0]["detailQuantity"]["value"] == 280
    assert goals[1]["target"][0]["dueDate"] == "2026-11-01"
    assert all(g["expressedBy"] == daughter for g in goals)
    plan = check_links(bundle)
    assert plan["subject"]["reference"] == "Patient/pat-copd"
    assert plan["supportingInfo"] == [{"reference": f"QuestionnaireResponse/{COPD}"}]


async def check_created(client: httpx.AsyncClient, answer: httpx.Response, extracted: dict) -> None:
    """The transaction-response created every extracted resource, and the stored plan
    refers to the stored Conditions and Goals."""
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "transaction-response"
    assert statuses(answer) == [201] * len(extracted["entry"])
    created = [target(e) for e in body["entry"]]
    types = [e["resource"]["resourceType"] for e in extracted["entry"]]
    assert [key.split("/")[0] for key in created] == types
    plan = await read(client, created[-1])
    assert plan["status"] == "draft"
    assert [r["reference"] for r in plan["addresses"]] == [
        k for k in created if k.startswith("Condition/")
    ]
    assert [r["reference"] for r in plan["goal"]] == [k for k in created if k.startswith("Goal/")]
    for key, entry in zip(created[:-1], extracted["entry"][:-1], strict=True):
        stored = await read(client, key)
        assert {k: v for k, v in stored.items() if k not in ("id", "meta")} == entry["resource"]


async def test_posting_the_returned_bundle_to_the_base_creates_everything(
    loaded: httpx.AsyncClient,
) -> None:
    before = await count(loaded, "Condition")
    extracted = await extract(loaded, HF)
    answer = await loaded.post("", json=extracted, headers=FHIR_JSON)
    await check_created(loaded, answer, extracted)
    assert await count(loaded, "Condition") == before + 5


async def test_persist_true_creates_the_extracted_resources_in_one_go(
    loaded: httpx.AsyncClient,
) -> None:
    before = {t: await count(loaded, t) for t in ("Condition", "Goal", "CarePlan")}
    preview = await extract(loaded, COPD)
    answer = await loaded.post(
        f"/QuestionnaireResponse/{COPD}/$extract", json=PERSIST, headers=FHIR_JSON
    )
    await check_created(loaded, answer, preview)
    after = {t: await count(loaded, t) for t in ("Condition", "Goal", "CarePlan")}
    assert after == {
        "Condition": before["Condition"] + 2,
        "Goal": before["Goal"] + 2,
        "CarePlan": before["CarePlan"] + 1,
    }


async def test_persist_in_a_get_is_400_and_writes_nothing(loaded: httpx.AsyncClient) -> None:
    before = await count(loaded, "Condition")
    answer = await loaded.get(f"/QuestionnaireResponse/{HF}/$extract", params={"persist": "true"})
    assert answer.status_code == 400
    assert outcome_of(answer)["issue"][0]["expression"] == ["persist"]
    assert await count(loaded, "Condition") == before


async def test_an_extra_repetition_of_a_group_makes_one_more_resource(
    loaded: httpx.AsyncClient,
) -> None:
    response = await read(loaded, f"QuestionnaireResponse/{HF}")
    goals = response["item"][4]["item"]
    assert [g["linkId"] for g in goals] == ["goals.what-matters", "goal", "goal", "goal"]
    extra = copy.deepcopy(goals[3])
    extra["item"][0]["answer"] = [{"valueString": "Sleep through the night"}]
    goals.append(extra)
    answer = await extract_given(loaded, response)
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert [g["resource"]["description"]["text"] for g in of_type(bundle, "Goal")][-2:] == [
        "Work in my garden again by the summer",
        "Sleep through the night",
    ]
    check_links(bundle)


async def test_the_type_level_form_extracts_a_response_given_in_the_body(
    loaded: httpx.AsyncClient,
) -> None:
    stored = await read(loaded, f"QuestionnaireResponse/{COPD}")
    unsaved = {k: v for k, v in stored.items() if k not in ("id", "meta")}
    answer = await extract_given(loaded, unsaved)
    assert answer.status_code == 200, answer.text
    plan = check_links(answer.json())
    assert "supportingInfo" not in plan  # nothing stored to refer to
    answer = await extract_given(loaded, stored)
    assert check_links(answer.json())["supportingInfo"] == [
        {"reference": f"QuestionnaireResponse/{COPD}"}
    ]
    persisted = await extract_given(loaded, unsaved, {"name": "persist", "valueBoolean": True})
    assert persisted.status_code == 200 and statuses(persisted) == [201] * 5


async def test_the_response_parameter_belongs_to_the_type_level_only(
    loaded: httpx.AsyncClient,
) -> None:
    missing = await loaded.post(
        "/QuestionnaireResponse/$extract", json=parameters(), headers=FHIR_JSON
    )
    assert missing.status_code == 400
    assert outcome_of(missing)["issue"][0]["expression"] == ["questionnaire-response"]
    empty = await loaded.post("/QuestionnaireResponse/$extract", headers=FHIR_JSON)
    assert empty.status_code == 400
    query = await loaded.get("/QuestionnaireResponse/$extract")
    assert query.status_code == 400
    stored = await read(loaded, f"QuestionnaireResponse/{HF}")
    both = await loaded.post(
        f"/QuestionnaireResponse/{HF}/$extract",
        json=parameters({"name": "questionnaire-response", "resource": stored}),
        headers=FHIR_JSON,
    )
    assert both.status_code == 400
    invalid = await extract_given(loaded, {**stored, "status": "finished"})
    assert invalid.status_code == 400


async def test_an_unknown_questionnaire_is_422_naming_the_responses_questionnaire(
    loaded: httpx.AsyncClient,
) -> None:
    stored = await read(loaded, f"QuestionnaireResponse/{HF}")
    for canonical in (f"{INTAKE}|9.9.9", "http://example.org/Questionnaire/nothing", None):
        response = {k: v for k, v in stored.items() if k not in ("id", "meta", "questionnaire")}
        if canonical is not None:
            response["questionnaire"] = canonical
        answer = await extract_given(loaded, response)
        assert answer.status_code == 422, (canonical, answer.text)
        issue = outcome_of(answer)["issue"][0]
        assert issue["expression"] == ["QuestionnaireResponse.questionnaire"]
    unversioned = {**stored, "questionnaire": INTAKE}
    assert (await extract_given(loaded, unversioned)).status_code == 200


async def test_a_questionnaire_without_extraction_is_422(loaded: httpx.AsyncClient) -> None:
    plain = {
        "resourceType": "Questionnaire",
        "url": "http://example.org/Questionnaire/plain",
        "status": "active",
        "item": [{"linkId": "q", "text": "How are you?", "type": "string"}],
    }
    created = await loaded.post("/Questionnaire", json=plain, headers=FHIR_JSON)
    assert created.status_code == 201
    response = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": plain["url"],
        "status": "completed",
        "subject": {"reference": "Patient/pat-copd"},
        "item": [{"linkId": "q", "answer": [{"valueString": "Fine"}]}],
    }
    answer = await extract_given(loaded, response)
    assert answer.status_code == 422
    assert outcome_of(answer)["issue"][0]["expression"] == ["QuestionnaireResponse.questionnaire"]


async def test_an_unknown_response_is_404_and_a_deleted_one_410(
    loaded: httpx.AsyncClient,
) -> None:
    assert (await loaded.get("/QuestionnaireResponse/nope/$extract")).status_code == 404
    assert (await loaded.delete(f"/QuestionnaireResponse/{COPD}")).status_code in (200, 204)
    gone = await loaded.get(f"/QuestionnaireResponse/{COPD}/$extract")
    assert gone.status_code == 410
    assert outcome_of(gone)["resourceType"] == "OperationOutcome"


async def test_an_in_progress_response_previews_but_does_not_persist(
    loaded: httpx.AsyncClient,
) -> None:
    stored = await read(loaded, f"QuestionnaireResponse/{HF}")
    draft = {**stored, "status": "in-progress"}
    assert (await loaded.put(f"/QuestionnaireResponse/{HF}", json=draft)).status_code == 200
    assert len((await extract(loaded, HF))["entry"]) == 9
    refused = await loaded.post(
        f"/QuestionnaireResponse/{HF}/$extract", json=PERSIST, headers=FHIR_JSON
    )
    assert refused.status_code == 422
    assert outcome_of(refused)["issue"][0]["expression"] == ["QuestionnaireResponse.status"]
    stopped = await extract_given(loaded, {**stored, "status": "stopped"})
    assert stopped.status_code == 422
