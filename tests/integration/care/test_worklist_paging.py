"""``$worklist`` paging over HTTP, on every store (https://hl7.org/fhir/R4/http.html#paging):
every entry once across the ``next`` links, at the first page's moment and watermark; a
POST with a Parameters body; 404 and 410 for the subject; 400 naming a bad parameter."""

from __future__ import annotations

import httpx

from fhircare.fhir.ids import parse_instant
from tests.integration.bundle_helpers import FHIR_JSON
from tests.integration.care.test_worklist import (
    AS_OF,
    PRAC,
    PRAC_LIST,
    QUIET,
    listed,
    next_link,
    put_all,
    scenario,
    self_link,
    task,
    worklist,
)


async def test_paging_lists_every_entry_once(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario())
    status, page = await worklist(client, PRAC, _count="3", **QUIET)
    assert status == 200, page
    seen = listed(page)
    assert len(seen) == 3 and page["total"] == len(PRAC_LIST)
    # written after the first page: not on the later ones (as search pages), though it
    # sorts after the first page's entries
    await put_all(client, [task("wl-task-new", PRAC, "requested", "2031-01-01T00:00:00Z")])
    pages = 1
    while (following := next_link(page)) is not None:
        response = await client.get(following)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == len(PRAC_LIST)
        assert len(page.get("entry", [])) <= 3
        seen += listed(page)
        pages += 1
    assert seen == PRAC_LIST
    assert pages == 5
    _, fresh = await worklist(client, PRAC, **QUIET)
    assert ("Task/wl-task-new", ["open-task"]) in listed(fresh)


async def test_post_takes_a_parameters_body(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario())
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "asOf", "valueDate": AS_OF},
            {"name": "inactiveDays", "valuePositiveInt": 5000},
            {"name": "_count", "valueInteger": 2},
        ],
    }
    response = await client.post(f"/{PRAC}/$worklist", json=body, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert listed(bundle) == PRAC_LIST[:2]
    following = next_link(bundle)
    assert following is not None and "asOf=2030-06-15" in following


async def test_without_as_of_the_links_pin_the_moment_used(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario())
    status, bundle = await worklist(client, PRAC, _count="1")
    assert status == 200, bundle
    link = next_link(bundle)
    assert link is not None
    as_of = httpx.URL(link).params["asOf"]
    parse_instant(as_of, "asOf")  # a full instant, not "now"
    response = await client.get(link)
    assert response.status_code == 200
    assert httpx.URL(self_link(response.json())).params["asOf"] == as_of


async def test_unknown_and_deleted_subjects(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario())
    status, outcome = await worklist(client, "Practitioner/wl-nobody")
    assert status == 404
    assert outcome["resourceType"] == "OperationOutcome"
    assert (await client.delete("/Practitioner/wl-other")).status_code in (200, 204)
    status, outcome = await worklist(client, "Practitioner/wl-other")
    assert status == 410
    status, _ = await worklist(client, "CareTeam/wl-nothing")
    assert status == 404


async def test_bad_parameters_are_400_naming_them(client: httpx.AsyncClient) -> None:
    await put_all(client, scenario())
    for params, named in (
        ({"_count": "-1"}, "_count"),
        ({"_count": "lots"}, "_count"),
        ({"endingWithinDays": "0"}, "endingWithinDays"),
        ({"inactiveDays": "soon"}, "inactiveDays"),
        ({"referralDays": "-3"}, "referralDays"),
        ({"asOf": "next tuesday"}, "asOf"),
        ({"asOf": AS_OF, "_cursor": "not-ours"}, "_cursor"),
        ({"colour": "blue"}, "colour"),
    ):
        status, outcome = await worklist(client, PRAC, **params)
        assert status == 400, (params, outcome)
        assert outcome["issue"][0]["expression"] == [named], params
