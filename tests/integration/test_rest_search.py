"""Search over HTTP on the example scenario, on every store.

https://hl7.org/fhir/R4/search.html: parameter types and prefixes (#ptypes, #prefix),
modifiers (#modifiers), chaining (#chaining), ``_has`` (#has), ``_include`` and
``_revinclude`` (#include), paging (#count) and unknown parameters (#errors).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


async def found(client: httpx.AsyncClient, url: str, **params: str) -> list[str]:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "searchset"
    return [
        e["fullUrl"].split("/fhir/")[1]
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "match"
    ]


async def test_token_string_and_reference(loaded: httpx.AsyncClient) -> None:
    tasks = await found(loaded, "/Task", status="requested,accepted")
    assert "Task/task-copd-home-safety-visit" in tasks and len(tasks) == 3
    assert await found(loaded, "/Patient", name="whit") == ["Patient/pat-diabetes-hf"]
    assert await found(loaded, "/Patient", name="WHÏT") == ["Patient/pat-diabetes-hf"]
    assert await found(loaded, "/Patient", **{"name:exact": "Harold"}) == [
        "Patient/pat-diabetes-hf"
    ]
    assert await found(loaded, "/Patient", **{"name:exact": "harold"}) == []
    plans = await found(loaded, "/CarePlan", subject="Patient/pat-diabetes-hf")
    assert plans == ["CarePlan/careplan-diabetes-hf"]
    assert await found(loaded, "/CarePlan", patient="pat-copd") == ["CarePlan/careplan-copd"]
    assert await found(loaded, "/Condition", **{"code:text": "diab"}) == [
        "Condition/cond-diabetes-hf-t2dm"
    ]


async def test_quantity_and_date_prefixes(loaded: httpx.AsyncClient) -> None:
    hba1c = await found(loaded, "/Observation", code="http://loinc.org|4548-4")
    assert len(hba1c) == 4
    high = await found(loaded, "/Observation", code="4548-4", **{"value-quantity": "gt7.5"})
    assert sorted(high) == [
        "Observation/obs-diabetes-hf-hba1c-2026-03",
        "Observation/obs-diabetes-hf-hba1c-2026-06",
    ]
    exact = await found(loaded, "/Observation", **{"value-quantity": "7.00"})
    assert exact == ["Observation/obs-diabetes-hf-hba1c-2026-11"]
    response = await loaded.get("/Observation?code=4548-4&date=ge2026-09&date=lt2026-10")
    assert [e["resource"]["id"] for e in response.json()["entry"]] == [
        "obs-diabetes-hf-hba1c-2026-09"
    ]
    assert await found(loaded, "/Patient", birthdate="1952") == ["Patient/pat-diabetes-hf"]
    assert await found(loaded, "/Patient", birthdate="lt1950") == ["Patient/pat-copd"]


async def test_missing_and_not(loaded: httpx.AsyncClient) -> None:
    everyone = await found(loaded, "/Patient")
    assert len(everyone) == 2
    assert await found(loaded, "/Patient", **{"gender:missing": "false"}) == everyone
    assert await found(loaded, "/Patient", **{"gender:missing": "true"}) == []
    not_requested = await found(loaded, "/Task", **{"status:not": "requested"})
    requested = await found(loaded, "/Task", status="requested")
    assert set(not_requested).isdisjoint(requested) and len(not_requested) + len(requested) == 7


async def test_chain_has_include_revinclude(loaded: httpx.AsyncClient) -> None:
    chained = await found(loaded, "/Task", **{"patient.name": "Whitaker"})
    assert len(chained) == 4 and all("diabetes" in t for t in chained)
    typed = await found(loaded, "/CarePlan", **{"subject:Patient.name": "O'Brien"})
    assert typed == ["CarePlan/careplan-copd"]
    has = await found(loaded, "/Patient", **{"_has:Observation:patient:code": "4548-4"})
    assert has == ["Patient/pat-diabetes-hf"]
    response = await loaded.get(
        "/CarePlan", params={"subject": "Patient/pat-diabetes-hf", "_include": "CarePlan:subject"}
    )
    modes = [(e["search"]["mode"], e["resource"]["resourceType"]) for e in response.json()["entry"]]
    assert modes == [("match", "CarePlan"), ("include", "Patient")]
    response = await loaded.get(
        "/Patient", params={"_id": "pat-copd", "_revinclude": "CarePlan:subject"}
    )
    kinds = [
        (e["search"]["mode"], e["fullUrl"].split("/fhir/")[1]) for e in response.json()["entry"]
    ]
    assert kinds == [("match", "Patient/pat-copd"), ("include", "CarePlan/careplan-copd")]


async def test_paging_total_and_count(loaded: httpx.AsyncClient) -> None:
    seen: list[str] = []
    url: str | None = "/Task?_count=3"
    while url:
        bundle = (await loaded.get(url)).json()
        assert bundle["total"] == 7
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nxt[0].replace("http://test/fhir", "") if nxt else None
    assert len(seen) == 7 == len(set(seen))
    only_total = (await loaded.get("/Task?_count=0")).json()
    assert only_total["total"] == 7 and only_total["entry"] == []
    no_total = (await loaded.get("/Task?_total=none")).json()
    assert "total" not in no_total


async def test_get_and_post_search_agree(loaded: httpx.AsyncClient) -> None:
    query = {"status": "requested,accepted", "_count": "2"}
    by_get = (await loaded.get("/Task", params=query)).json()
    by_post = (await loaded.post("/Task/_search", data=query)).json()
    assert [e["fullUrl"] for e in by_get["entry"]] == [e["fullUrl"] for e in by_post["entry"]]
    assert by_get["total"] == by_post["total"] == 3


async def test_system_search_and_unknown_parameters(loaded: httpx.AsyncClient) -> None:
    assert await found(loaded, "/", _id="pat-copd") == ["Patient/pat-copd"]
    lenient = (await loaded.get("/Patient", params={"foo": "bar"})).json()
    outcome = [e for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome and "foo" in outcome[0]["resource"]["issue"][0]["diagnostics"]
    strict = await loaded.get(
        "/Patient", params={"foo": "bar"}, headers={"Prefer": "handling=strict"}
    )
    assert strict.status_code == 400 and strict.json()["resourceType"] == "OperationOutcome"


async def test_bad_search_input_is_400(loaded: httpx.AsyncClient) -> None:
    cases = [
        ("/Patient", {"birthdate": "notadate"}),
        ("/Patient", {"_count": "x"}),
        ("/Patient", {"name:bogus": "a"}),
        ("/Condition", {"code:in": "http://example.org/vs"}),
    ]
    for url, params in cases:
        response = await loaded.get(url, params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"
    deep = "subject:Patient.organization.partof.partof.name"
    assert (await loaded.get("/CarePlan", params={deep: "x"})).status_code == 400


async def test_new_writes_are_searchable_and_deletes_are_not(loaded: httpx.AsyncClient) -> None:
    body = {
        "resourceType": "Goal",
        "lifecycleStatus": "proposed",
        "description": {"text": "Walk"},
        "subject": {"reference": "Patient/pat-copd"},
    }
    created = await loaded.post(
        "/Goal", json=body, headers={"Content-Type": "application/fhir+json"}
    )
    id = created.json()["id"]
    assert f"Goal/{id}" in await found(loaded, "/Goal", **{"lifecycle-status": "proposed"})
    await loaded.put(
        f"/Goal/{id}",
        json={**body, "id": id, "lifecycleStatus": "active"},
        headers={"Content-Type": "application/fhir+json"},
    )
    assert f"Goal/{id}" not in await found(loaded, "/Goal", **{"lifecycle-status": "proposed"})
    await loaded.delete(f"/Goal/{id}")
    assert f"Goal/{id}" not in await found(loaded, "/Goal", subject="Patient/pat-copd")


async def test_sort_by_last_updated_descending(loaded: httpx.AsyncClient) -> None:
    assert len(await found(loaded, "/Goal", _sort="_id")) == 4
    response = await loaded.get("/Goal", params={"_sort": "-_lastUpdated"})
    assert response.status_code == 200, response.text
    goals = [e["resource"] for e in response.json()["entry"]]
    # newest first (MongoDB keeps milliseconds), ties by key ascending
    order = [
        (-((datetime.fromisoformat(g["meta"]["lastUpdated"]) - EPOCH) // MILLISECOND), g["id"])
        for g in goals
    ]
    assert len(order) == 4 and order == sorted(order)


async def test_summary_and_elements_shape_search_entries(loaded: httpx.AsyncClient) -> None:
    response = await loaded.get("/Patient", params={"_elements": "gender", "_id": "pat-copd"})
    resource = response.json()["entry"][0]["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "gender"}
    assert any(t["code"] == "SUBSETTED" for t in resource["meta"]["tag"])
    summary = (await loaded.get("/Patient", params={"_summary": "true"})).json()
    assert all("photo" not in e["resource"] for e in summary["entry"])
    counted = (await loaded.get("/Task", params={"_summary": "count"})).json()
    assert counted["total"] == 7 and counted["entry"] == []
