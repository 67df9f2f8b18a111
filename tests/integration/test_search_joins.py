"""Chains and ``_has`` as joins on the SQLite store, resolved first elsewhere.

https://hl7.org/fhir/R4/search.html#chaining and #has. On SQLite a hop is part of the one
search query, so it passes through any number of resources; the other stores resolve the
inner search first, and past ``Limits.max_chain_matches`` answer 400 ``too-costly``.
"""

from __future__ import annotations

import pytest

from fhircare.fhir import errors, jsonio
from fhircare.interactions.create import create
from fhircare.interactions.request import Context, FhirRequest, Limits
from fhircare.interactions.search import search
from fhircare.storage.protocol import ResourceStore
from fhircare.storage.sqlite.store import SqliteStore


async def _post(context: Context, resource: dict[str, object]) -> str:
    request = FhirRequest("POST", str(resource["resourceType"]), body=jsonio.dumps(resource))
    response = await create(context, request)
    assert response.status == 201
    assert response.body is not None
    return str(jsonio.loads(response.body)["id"])


async def _ids(context: Context, resource_type: str, query: list[tuple[str, str]]) -> set[str]:
    request = FhirRequest("GET", resource_type, query=query, base_url="http://t/fhir")
    bundle = jsonio.loads((await search(context, request)).body or b"{}")
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"}


async def test_hops_through_more_resources_than_the_fan_out_limit(store: ResourceStore) -> None:
    context = Context(store, limits=Limits(max_chain_matches=2))
    patients = [
        await _post(context, {"resourceType": "Patient", "name": [{"family": "Joiner"}]})
        for _ in range(3)
    ]
    other = await _post(context, {"resourceType": "Patient", "name": [{"family": "Other"}]})
    tasks = {
        await _post(
            context,
            {
                "resourceType": "Task",
                "status": "requested",
                "intent": "order",
                "for": {"reference": f"Patient/{p}"},
            },
        ): p
        for p in [*patients, other]
    }
    chain = [("patient.name", "Joiner")]
    has = [("_has:Task:patient:status", "requested"), ("name", "Joiner")]
    if isinstance(store, SqliteStore):
        assert await _ids(context, "Task", chain) == {t for t, p in tasks.items() if p != other}
        assert await _ids(context, "Patient", has) == set(patients)
    else:
        for resource_type, query in (("Task", chain), ("Patient", has)):
            with pytest.raises(errors.FhirError) as refused:
                await _ids(context, resource_type, query)
            assert [issue.code for issue in refused.value.issues] == ["too-costly"]
