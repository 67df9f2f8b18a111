"""Search conformance cases, as data: ``search/*.yaml`` here, each run on every store.

https://hl7.org/fhir/R4/search.html. A file holds ``resources`` (created with PUT before
each case) and ``cases``; a case is ``query`` (path and query string, percent-encoded
where a URL needs it), optional ``method`` (``POST`` sends ``body`` as a form to
``[type]/_search``), ``headers`` and ``expect``:

- ``status``; for a 200 Bundle, ``ids`` (the ``Type/id`` of every match on the page, as a
  set unless ``ordered``), ``included`` (the same for ``search.mode`` include),
  ``total`` (``null``: the Bundle has none), ``next`` (a next link or not), ``outcome``
  (the issue code of a ``search.mode`` outcome entry), ``pages`` (follow every next link
  and compare ``ids`` with every match of every page);
- for an error, ``issue``: ``code`` and ``expression`` of one OperationOutcome issue.

``pending: "<reason>"`` (or ``{store: reason}``) marks a case the server cannot pass yet:
it is an xfail(strict=True), so it fails the run once it passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fhircare.storage.protocol import ResourceStore

CASES_DIR = Path(__file__).resolve().parent / "search"
BASE = "http://test/fhir"
FHIR_JSON = {"Content-Type": "application/fhir+json"}
CASE_KEYS = frozenset(("name", "query", "method", "body", "headers", "expect", "pending"))
EXPECT_KEYS = frozenset(
    ("status", "ids", "ordered", "included", "total", "next", "outcome", "pages", "issue")
)


def _load() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        resources = document.get("resources") or []
        names: set[str] = set()
        for case in document["cases"]:
            unknown = (set(case) - CASE_KEYS) | (set(case["expect"]) - EXPECT_KEYS)
            assert not unknown, f"{path.name}: {case.get('name')}: unknown keys {unknown}"
            assert case["name"] not in names, f"{path.name}: {case['name']} twice"
            names.add(case["name"])
            pending = case.get("pending")
            marks = (
                [pytest.mark.xfail(strict=True, reason=pending)] if isinstance(pending, str) else []
            )
            params.append(
                pytest.param(resources, case, marks=marks, id=f"{path.stem}:{case['name']}")
            )
    return params


async def _create(client: httpx.AsyncClient, resources: list[dict[str, Any]]) -> None:
    for resource in resources:
        url = f"/{resource['resourceType']}/{resource['id']}"
        response = await client.put(url, json=resource, headers=FHIR_JSON)
        assert response.status_code in (200, 201), (url, response.text)


async def _send(client: httpx.AsyncClient, case: dict[str, Any]) -> httpx.Response:
    headers = case.get("headers") or {}
    if case.get("method", "GET") == "POST":
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        return await client.post(case["query"], content=case["body"], headers={**form, **headers})
    return await client.get(case["query"], headers=headers)


def _keys(bundle: dict[str, Any], mode: str) -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == mode
    ]


def _next(bundle: dict[str, Any]) -> str | None:
    links = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
    return links[0].removeprefix(BASE) if links else None


def _same(found: list[str], wanted: list[str], ordered: bool, what: str) -> None:
    if ordered:
        assert found == wanted, what
    else:
        assert len(found) == len(set(found)), f"{what}: repeated {found}"
        assert sorted(found) == sorted(wanted), what


@pytest.mark.parametrize(("resources", "case"), _load())
async def test_search(
    request: pytest.FixtureRequest,
    client: httpx.AsyncClient,
    store: ResourceStore,
    resources: list[dict[str, Any]],
    case: dict[str, Any],
) -> None:
    pending = case.get("pending")
    store_name = request.node.callspec.params["store"]
    if isinstance(pending, dict) and store_name in pending:
        request.applymarker(pytest.mark.xfail(strict=True, reason=pending[store_name]))
    await _create(client, resources)
    expect = case["expect"]
    response = await _send(client, case)
    assert response.status_code == expect["status"], response.text
    body = response.json()
    if "issue" in expect:
        assert body["resourceType"] == "OperationOutcome", body
        wanted = expect["issue"]
        issues = [
            (i.get("code"), i.get("expression"))
            for i in body["issue"]
            if i["severity"] != "information"
        ]
        assert (wanted["code"], wanted.get("expression")) in issues, body
        return
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset", body
    matches = _keys(body, "match")
    if expect.get("pages"):
        url = _next(body)
        while url is not None:
            page = (await client.get(url)).json()
            matches += _keys(page, "match")
            url = _next(page)
    if "ids" in expect:
        _same(matches, expect["ids"], bool(expect.get("ordered")), "matches")
    if "included" in expect:
        _same(_keys(body, "include"), expect["included"], False, "included")
    if "total" in expect:
        assert body.get("total") == expect["total"], body.get("total")
    if "next" in expect:
        assert (_next(body) is not None) == expect["next"], body.get("link")
    if "outcome" in expect:
        outcomes = [
            e["resource"] for e in body.get("entry", []) if e["search"]["mode"] == "outcome"
        ]
        assert [i["code"] for o in outcomes for i in o["issue"]] == [expect["outcome"]], outcomes
