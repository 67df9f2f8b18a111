"""What one ``$worklist`` page costs the store, on every store: one read of the subject
and a fixed number of search queries, whichever page and however much the scope holds;
past ``Limits.max_included`` resources in one query it is 400 ``too-costly``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from fhircare.care.worklist.operation import worklist
from fhircare.fhir import errors, jsonio
from fhircare.interactions.request import Context, FhirRequest, Limits
from fhircare.storage.protocol import ResourceStore, SearchPage, SearchQuery, StoredVersion
from tests.integration.care.test_worklist import PRAC, QUIET, ROLE, TEAM, put_all, scenario, task
from tests.integration.care.test_worklist_requests import requests


class CountingStore:
    """``store``, counting the calls a worklist makes of it."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self.calls: Counter[str] = Counter()
        self.types: list[str | None] = []

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        self.calls["read"] += 1
        return await self._store.read(resource_type, id)

    async def search_page(self, query: SearchQuery) -> SearchPage:
        self.calls["search_page"] += 1
        self.types.append(query.resource_type)
        return await self._store.search_page(query)

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self._store, name)


def request(subject: str, **params: str) -> FhirRequest:
    resource_type, id = subject.split("/")
    query = tuple(params.items())
    return FhirRequest("GET", resource_type, id, query=query, base_url="http://test/fhir")


# the scope (roles, then care teams) and three stages of one query per type they ask: the
# first Task, CarePlan, Communication and CommunicationRequest (a care team sends none); the
# second Goal, Task, Communication and ServiceRequest; the third the referrals' results
# (Task, DiagnosticReport, Observation, Encounter, Communication). The care team has no plan
# to follow up and no referral
@pytest.mark.parametrize(("subject", "queries"), [(PRAC, 14), (ROLE, 13), (TEAM, 5)])
async def test_a_page_is_one_read_and_a_few_queries(
    client: httpx.AsyncClient, store: ResourceStore, subject: str, queries: int
) -> None:
    await put_all(client, scenario() + requests())
    counting = CountingStore(store)
    context = Context(counting)  # type: ignore[arg-type]
    first = await worklist(context, request(subject, _count="2", **QUIET))
    assert first.status == 200 and first.body is not None
    assert counting.calls == Counter(read=1, search_page=queries)
    # the work of many more people's patients costs the same
    more = [task(f"wl-more-{n}", "Practitioner/wl-other", "requested") for n in range(30)]
    await put_all(client, more)
    bundle = jsonio.loads(first.body)
    following = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    cursor = httpx.URL(following).params["_cursor"]
    counting.calls.clear()
    second = await worklist(context, request(subject, _count="2", _cursor=cursor, **QUIET))
    assert second.status == 200
    assert counting.calls == Counter(read=1, search_page=queries)


async def test_a_stage_past_the_limit_is_too_costly(
    client: httpx.AsyncClient, store: ResourceStore
) -> None:
    await put_all(client, scenario())
    small = Context(store, limits=Limits(max_included=5))
    with pytest.raises(errors.FhirError) as caught:
        await worklist(small, request(PRAC, **QUIET))
    assert caught.value.issues[0].code == "too-costly"
    roomy = Context(store, limits=Limits(max_included=50))
    assert (await worklist(roomy, request(PRAC, **QUIET))).status == 200
