"""Fuzzing the FHIR REST API: no request gets a 5xx, hangs, or an error that is not an
OperationOutcome, and none changes data it should not.

1. Schemathesis generates requests for every operation of ``GET /fhir/openapi.json``
   (valid and invalid ones; path ids are sometimes pointed at stored resources) and checks
   each answer with its own checks (no 5xx, status, content type and body as documented)
   and ours (``fuzzing.problems``).
2. Search query strings from ``strategies.search_requests``: ``GET [type]?query`` (and
   history queries).
3. Mutated example resources from ``strategies.resource_bodies``, created and updated,
   alone or as the entries of a batch or transaction: a 2xx (the entry's, in a Bundle)
   only when the stored resource reads back as sent (modulo ``meta``).

Each test runs on the memory store and, with fewer examples, on FerretDB (or
``MONGODB_URI``), with the examples loaded; afterwards every example resource that no
successful fuzzed write named reads back byte for byte as before. ``FHIRCARE_TEST_LONG=1``
runs many more examples, with fresh random ones each run (otherwise they are the same
every run, so ``make test`` does not flake on a newly found case: run the long mode to
hunt).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import STORES
from tests.reliability.fuzzing import BASE, FuzzApp, Sentinel, describe, fuzz_app
from tests.reliability.strategies import Body, resource_bodies, search_requests

LONG = os.environ.get("FHIRCARE_TEST_LONG") == "1"

# Examples per test on the memory store; FerretDB runs a quarter of them. The short sizes
# keep the file under 90 s on a busy 2-CPU machine (generation, not the server, is most).
SHORT = {"openapi": 200, "search": 200, "bodies": 150}
LONG_SIZES = {"openapi": 1500, "search": 1500, "bodies": 1000}
EXAMPLES = LONG_SIZES if LONG else SHORT
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def hypothesis_settings(kind: str, store: str) -> settings:
    count = EXAMPLES[kind] if store == "memory" else max(EXAMPLES[kind] // 4, 20)
    return settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=not LONG,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=True,  # a failure names the @reproduce_failure that replays it
    )


def finish(app: FuzzApp, before: list[Sentinel]) -> None:
    """The sentinels no successful write named are unchanged, and some were checked."""
    checked = app.check_sentinels(before)
    print(f"{app.summary()}; {checked} of {len(before)} sentinels checked unchanged")
    assert checked > 0, "every sentinel may have been written: the check proved nothing"


# -- 1. every operation of the OpenAPI document --------------------------------------------


def _wire(case: schemathesis.Case) -> tuple[str, str, dict[bytes, bytes], bytes | None]:
    """The request a Case describes, as schemathesis' requests transport would send it."""
    kwargs = case.as_transport_kwargs(base_url=BASE)
    names = ("method", "url", "headers", "params", "cookies", "data", "json", "files")
    try:
        prepared = requests.Request(**{k: v for k, v in kwargs.items() if k in names}).prepare()
        headers = {
            name.encode("latin-1"): value.encode("latin-1") if isinstance(value, str) else value
            for name, value in prepared.headers.items()
            if name.lower() not in ("content-length", "connection", "accept-encoding")
        }
    except (ValueError, UnicodeEncodeError, requests.RequestException):
        reject()  # not sendable over HTTP/1.1 at all
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    assert prepared.method is not None and prepared.url is not None
    assert body is None or isinstance(body, bytes)
    return prepared.method, prepared.url, headers, body


@pytest.mark.parametrize("store", STORES)
def test_openapi_operations(store: str, request: pytest.FixtureRequest) -> None:
    with fuzz_app(store, request) as app:
        document = app.request("GET", "/openapi.json")
        assert document.status_code == 200, describe(document)
        schema = schemathesis.openapi.from_dict(document.json())
        cases = st.one_of(
            schema.as_strategy(GenerationMode.POSITIVE),
            schema.as_strategy(GenerationMode.NEGATIVE),
        )
        before = app.sentinels()
        stored = st.sampled_from([(s.type, s.id) for s in before])

        @given(case=cases, data=st.data())
        @hypothesis_settings("openapi", store)
        def fuzz(case: schemathesis.Case, data: st.DataObject) -> None:
            if "id" in case.path_parameters and data.draw(st.booleans(), "stored"):
                case.path_parameters["type"], case.path_parameters["id"] = data.draw(stored)
                if "vid" in case.path_parameters and data.draw(st.booleans()):
                    case.path_parameters["vid"] = "1"
            method, url, headers, body = _wire(case)
            response = app.send(method, url, headers=headers, content=body)
            case.validate_response(response, checks=CHECKS)

        fuzz()
        finish(app, before)


# -- 2. search query strings ---------------------------------------------------------------


@pytest.mark.parametrize("store", STORES)
def test_search_queries(store: str, request: pytest.FixtureRequest) -> None:
    with fuzz_app(store, request) as app:
        before = app.sentinels()

        @given(search_requests())
        @hypothesis_settings("search", store)
        def fuzz(search: tuple[str, str, dict[str, str]]) -> None:
            path, query, headers = search
            try:
                url = httpx.URL(f"{BASE}{path}?{query}")
            except httpx.InvalidURL:
                reject()
            response = app.send("GET", url, headers=headers)
            if response.status_code == 200:
                bundle = response.json()
                kind = "history" if path.endswith("_history") else "searchset"
                assert (bundle["resourceType"], bundle["type"]) == ("Bundle", kind)
            else:
                assert 400 <= response.status_code < 500, describe(response)

        fuzz()
        assert app.writes.count == 0
        finish(app, before)


# -- 3. mutated resources ------------------------------------------------------------------


class _Number(str):
    """A JSON number's text, so ``7.00`` and ``7.0`` differ."""


def _shape(text: bytes | str) -> Any:
    """JSON as a comparable value: objects keep their order (a repeated key keeps its first
    place and its last value, as parsers do), numbers their text."""

    def pairs(items: list[tuple[str, Any]]) -> tuple[str, tuple[tuple[str, Any], ...]]:
        merged: dict[str, Any] = {}
        for key, value in items:
            merged[key] = value
        return ("object", tuple(merged.items()))

    def fail(name: str) -> Any:
        raise ValueError(name)

    return json.loads(
        text,
        object_pairs_hook=pairs,
        parse_float=_Number,
        parse_int=_Number,
        parse_constant=fail,
    )


def _content(shape: Any, drop: Callable[[str], bool]) -> tuple[Any, ...]:
    """A resource's top-level elements but those ``drop`` names, in order, plus its
    resourceType and id (which the server moves to the front)."""
    kind, items = shape
    assert kind == "object"
    keyed = dict(items)
    rest = tuple((k, v) for k, v in items if k not in ("resourceType", "id") and not drop(k))
    return keyed.get("resourceType"), None if drop("id") else keyed.get("id"), rest


def _round_trip(app: FuzzApp, body: Body, method: str, location: str, why: str) -> None:
    """The version at ``location`` (``[type]/[id]/_history/[n]``: an entry of a batch may be
    overwritten by a later one) reads back as ``body`` was sent, modulo ``meta`` (and the
    ``id`` of a create, which the server assigns)."""
    assert "/_history/" in location, location
    read = app.request("GET", location.removeprefix(BASE))
    assert read.status_code == 200, describe(read)

    def ignored(key: str) -> bool:
        return key == "meta" or (method == "POST" and key == "id")

    assert _content(_shape(read.content), ignored) == _content(_shape(body.text), ignored), (
        f"{why} was accepted but reads back otherwise; mutations {body.mutations}:\n"
        f"  sent {body.text[:600]!r}\n  read {read.content[:600]!r}"
    )


_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["application/fhir+json", "application/json", "text/plain"]
        ),
        "Prefer": st.sampled_from(
            ["return=minimal", "return=representation", "return=OperationOutcome"]
        ),
    },
)


def _single(app: FuzzApp, body: Body, data: st.DataObject) -> int:
    """POST or PUT ``body``; answers how many writes succeeded (0 or 1)."""
    type_ = body.base["resourceType"]
    method = data.draw(st.sampled_from(["POST", "PUT"]), "method")
    url = f"/{type_}" if method == "POST" else f"/{type_}/{body.id}"
    response = app.send(method, url, headers=data.draw(_HEADERS, "headers"), content=body.text)
    if not 200 <= response.status_code < 300:
        assert 400 <= response.status_code < 500, describe(response)
        return 0
    _round_trip(app, body, method, response.headers["location"], f"{method} {url}")
    return 1


def _bundle(app: FuzzApp, kind: str, bodies: list[Body], data: st.DataObject) -> int:
    """The bodies as the entries of a batch or transaction; answers how many succeeded."""
    methods = [data.draw(st.sampled_from(["POST", "PUT"]), "method") for _ in bodies]
    entries = []
    for index, (body, method) in enumerate(zip(bodies, methods, strict=True)):
        type_ = body.base["resourceType"]
        url = type_ if method == "POST" else f"{type_}/{body.id}"
        full_url = f"urn:uuid:00000000-0000-4000-8000-{index:012d}"
        request = json.dumps({"method": method, "url": url}).encode()
        entries.append(
            b'{"fullUrl":"%s","resource":%s,"request":%s}' % (full_url.encode(), body.text, request)
        )
    text = b'{"resourceType":"Bundle","type":"%s","entry":[%s]}' % (
        kind.encode(),
        b",".join(entries),
    )
    headers = {"Content-Type": "application/fhir+json"}
    response = app.send("POST", BASE, headers=headers, content=text)
    if response.status_code != 200:
        assert 400 <= response.status_code < 500, describe(response)
        return 0
    results = response.json()["entry"]
    assert len(results) == len(bodies), describe(response)
    done = 0
    for index, (body, method, result) in enumerate(zip(bodies, methods, results, strict=True)):
        status = int(str(result["response"]["status"]).split()[0])
        if not 200 <= status < 300:
            assert kind == "batch" and 400 <= status < 500, describe(response)
            outcome = result["response"].get("outcome") or {}
            assert outcome.get("resourceType") == "OperationOutcome", describe(response)
            assert outcome.get("issue"), describe(response)
            continue
        why = f"{kind} entry {index} ({method})"
        _round_trip(app, body, method, result["response"]["location"], why)
        done += 1
    return done


@pytest.mark.parametrize("store", STORES)
def test_resource_bodies(store: str, request: pytest.FixtureRequest) -> None:
    with fuzz_app(store, request) as app:
        before = app.sentinels()
        accepted = [0]

        @given(body=resource_bodies(), data=st.data())
        @hypothesis_settings("bodies", store)
        def fuzz(body: Body, data: st.DataObject) -> None:
            kind = data.draw(
                st.sampled_from(["single", "single", "single", "batch", "transaction"])
            )
            if kind == "single":
                accepted[0] += _single(app, body, data)
                return
            more = data.draw(st.lists(resource_bodies(), max_size=2), "more")
            accepted[0] += _bundle(app, kind, [body, *more], data)

        fuzz()
        print(f"accepted: {accepted[0]}")
        assert accepted[0], "no mutated resource was accepted: the round trip proved nothing"
        finish(app, before)
