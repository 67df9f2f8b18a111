"""AuditEvents under ``FHIRCARE_AUTH=smart``: every refused request and every write leaves
one, searchable like any resource; a patient-scoped token sees only its own patient's."""

from __future__ import annotations

from tests.integration.security.conftest import Smart
from tests.integration.security.population import batch

ALICE = "a-patient"


async def _events(smart: Smart, query: str) -> list[dict]:
    answer = await smart.client.get(f"AuditEvent?{query}&_count=50", headers=smart.admin)
    assert answer.status_code == 200, answer.text
    return [entry["resource"] for entry in answer.json().get("entry", [])]


async def test_a_refused_request_is_audited(smart: Smart) -> None:
    headers = smart.headers("patient/Observation.rs", ALICE)
    assert (await smart.client.get("CarePlan/a-plan", headers=headers)).status_code == 403
    assert (await smart.client.get("CarePlan/a-plan")).status_code == 401
    refused = await _events(smart, "outcome=4")
    assert len(refused) == 2
    by_desc = {event["outcomeDesc"][:40]: event for event in refused}
    scoped = next(e for d, e in by_desc.items() if "scope" in d)
    assert scoped["agent"][0]["who"] == {"identifier": {"value": "test-app"}}
    assert scoped["agent"][0]["altId"] == "test-app"
    assert scoped["subtype"][0]["code"] == "read"
    assert {"reference": f"Patient/{ALICE}"} in [entity["what"] for entity in scoped["entity"]]
    anonymous = next(e for d, e in by_desc.items() if "needs a SMART" in d)
    assert anonymous["agent"][0]["who"] == {"display": "anonymous"}


async def test_a_write_is_audited_with_what_it_wrote(smart: Smart) -> None:
    headers = smart.headers("patient/*.cruds", ALICE, fhir_user="Patient/a-patient")
    plan = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "subject": {"reference": f"Patient/{ALICE}"},
    }
    created = await smart.client.post("CarePlan", json=plan, headers=headers)
    assert created.status_code == 201
    location = created.headers["location"].split("/fhir/", 1)[1]
    events = await _events(smart, "outcome=0&action=C")
    written = [
        event
        for event in events
        if {"reference": location} in [entity["what"] for entity in event["entity"]]
    ]
    assert len(written) == 1
    assert written[0]["agent"][0]["who"] == {"reference": "Patient/a-patient"}
    assert written[0]["subtype"][0]["code"] == "create"


async def test_reads_are_not_audited(smart: Smart) -> None:
    before = len(await _events(smart, "outcome=0"))
    headers = smart.headers("patient/*.rs", ALICE)
    assert (await smart.client.get("CarePlan/a-plan", headers=headers)).status_code == 200
    assert len(await _events(smart, "outcome=0")) == before


async def test_a_patient_sees_only_its_own_audit_events(smart: Smart) -> None:
    bob = smart.headers("patient/Observation.rs", "b-patient")
    assert (await smart.client.get("CarePlan", headers=bob)).status_code == 403
    alice = smart.headers("patient/Observation.rs", ALICE)
    assert (await smart.client.get("CarePlan", headers=alice)).status_code == 403
    mine = await smart.client.get("AuditEvent", headers=smart.headers("patient/*.rs", ALICE))
    assert mine.status_code == 200
    events = [entry["resource"] for entry in mine.json().get("entry", [])]
    patients = {
        entity["what"].get("reference")
        for event in events
        for entity in event["entity"]
        if entity.get("role", {}).get("code") == "1"
    }
    assert patients == {f"Patient/{ALICE}"}


async def test_a_batch_entry_refused_is_audited(smart: Smart) -> None:
    headers = smart.headers("patient/CarePlan.rs", ALICE)
    reads = batch("CarePlan/a-plan", "Task/a-task")
    assert (await smart.client.post("", json=reads, headers=headers)).status_code == 200
    refused = await _events(smart, "outcome=4")
    assert [event["outcomeDesc"] for event in refused] == ["Bundle entries refused: entry[1] 403"]
    assert refused[0]["subtype"][0]["code"] == "batch"
