"""The details of narrowing that the matrix does not spell out: totals and paging count only
what the token may see, includes of types it may not read are dropped, history shows its own
deletions only, batch entries are refused one by one, and user/ scopes are not narrowed."""

from __future__ import annotations

from typing import Any

from tests.integration.security.conftest import Smart
from tests.integration.security.population import SECRET, batch

ALICE = "a-patient"


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if "resource" in e
    ]


async def test_totals_and_pages_count_only_the_patients_own(smart: Smart) -> None:
    headers = smart.headers("patient/*.rs", ALICE)
    count = await smart.client.get("Observation?_summary=count", headers=headers)
    assert count.json()["total"] == 2  # a-obs and a-lab; Bob's two are not counted
    seen: list[str] = []
    url: str | None = "Observation?_count=1"
    while url:
        page = (await smart.client.get(url, headers=headers)).json()
        seen += _ids(page)
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert sorted(seen) == ["Observation/a-lab", "Observation/a-obs"]


async def test_a_restricted_scope_narrows_searches_and_reads(smart: Smart) -> None:
    headers = smart.headers("patient/Observation.rs?category=vital-signs", ALICE)
    found = (await smart.client.get("Observation", headers=headers)).json()
    assert _ids(found) == ["Observation/a-obs"] and found["total"] == 1
    assert (await smart.client.get("Observation/a-lab", headers=headers)).status_code == 404


async def test_includes_of_types_the_token_cannot_read_are_dropped(smart: Smart) -> None:
    headers = smart.headers("patient/CarePlan.rs", ALICE)
    query = "CarePlan?_include=CarePlan:subject&_include=CarePlan:goal&_revinclude=Task:focus"
    found = (await smart.client.get(query, headers=headers)).json()
    assert _ids(found) == ["CarePlan/a-plan"]
    wider = smart.headers("patient/*.rs", ALICE)
    found = (await smart.client.get(query, headers=wider)).json()
    assert sorted(_ids(found)) == [
        "CarePlan/a-plan",
        "Goal/a-goal",
        "Patient/a-patient",
        "Task/a-task",
    ]


async def test_history_shows_own_deletions_only(smart: Smart) -> None:
    for plan in ("a-plan", "b-plan"):
        deleted = await smart.client.delete(f"CarePlan/{plan}", headers=smart.admin)
        assert deleted.status_code == 200
    headers = smart.headers("patient/*.rs", ALICE)
    history = (await smart.client.get("CarePlan/_history", headers=headers)).json()
    urls = [entry["request"]["url"] for entry in history["entry"]]
    assert "CarePlan/a-plan" in urls and "CarePlan/b-plan" not in urls
    assert "total" not in history  # a total would count the hidden versions
    own = (await smart.client.get("CarePlan/a-plan/_history", headers=headers)).json()
    assert own["entry"][0]["request"]["method"] == "DELETE"
    assert (await smart.client.get("CarePlan/a-plan", headers=headers)).status_code == 410
    assert (await smart.client.get("CarePlan/b-plan", headers=headers)).status_code == 404


async def test_batch_entries_are_refused_one_by_one(smart: Smart) -> None:
    headers = smart.headers("patient/CarePlan.rs", ALICE)
    reads = batch("CarePlan/a-plan", "Task/a-task", "CarePlan/b-plan")
    answer = await smart.client.post("", json=reads, headers=headers)
    assert answer.status_code == 200
    statuses = [entry["response"]["status"][:3] for entry in answer.json()["entry"]]
    assert statuses == ["200", "403", "404"]
    assert SECRET not in answer.text


async def test_a_transaction_with_one_refused_entry_writes_nothing(smart: Smart) -> None:
    headers = smart.headers("patient/*.cruds", ALICE)
    plan = {"resourceType": "CarePlan", "status": "draft", "intent": "plan"}
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {**plan, "subject": {"reference": f"Patient/{ALICE}"}},
                "request": {"method": "POST", "url": "CarePlan"},
            },
            {
                "resource": {**plan, "subject": {"reference": "Patient/b-patient"}},
                "request": {"method": "POST", "url": "CarePlan"},
            },
        ],
    }
    before = (await smart.client.get("CarePlan?_summary=count", headers=smart.admin)).json()
    answer = await smart.client.post("", json=transaction, headers=headers)
    assert answer.status_code == 403
    after = (await smart.client.get("CarePlan?_summary=count", headers=smart.admin)).json()
    assert after["total"] == before["total"]


async def test_user_scopes_are_not_narrowed_to_a_patient(smart: Smart) -> None:
    headers = smart.headers("user/CarePlan.rs", fhir_user="Practitioner/shared-pr")
    found = (await smart.client.get("CarePlan", headers=headers)).json()
    assert sorted(_ids(found)) == ["CarePlan/a-plan", "CarePlan/b-plan"]
