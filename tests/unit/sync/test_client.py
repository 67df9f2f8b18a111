"""The sync client against a fake remote: retries and waits, error mapping, paging
(https://hl7.org/fhir/R4/http.html#paging), and the version and location a write returns
(https://hl7.org/fhir/R4/http.html#versioning, #create)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from fhircare.fhir import jsonio
from fhircare.sync.client import (
    RemoteClient,
    RemoteError,
    RemoteRejected,
    RemoteResponse,
    RemoteUnavailable,
)
from fhircare.sync.remotes import Remote

BASE = "http://remote.test/fhir"
Handler = Callable[[httpx.Request], httpx.Response]


def remote(**fields: Any) -> Remote:
    return Remote(name="r", base_url=BASE, **{"retries": 4, "backoff": 1.0, **fields})


class Waits(list[float]):
    """A ``sleep`` that records what it was asked to wait, and waits for nothing."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(handler: Handler, waits: Waits, **fields: Any) -> RemoteClient:
    return RemoteClient(
        remote(**fields),
        transport=httpx.MockTransport(handler),
        sleep=waits,
        random=lambda: 0.5,
    )


def fhir(status: int, body: Any = None, **kwargs: Any) -> httpx.Response:
    content = b"" if body is None else jsonio.dumps(body)
    return httpx.Response(status, content=content, **kwargs)


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with ``responses`` in turn (the last one from then on)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = responses[min(len(seen), len(responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle, seen


class Dropped(httpx.AsyncByteStream):
    """A body whose connection breaks after its first bytes."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"resourceType": "Bundle", "type": "searchset", "ent'
        raise self.error


PATIENT = {"resourceType": "Patient", "id": "1", "meta": {"versionId": "2"}}


async def test_a_burst_of_5xx_is_retried_with_growing_jittered_waits() -> None:
    waits = Waits()
    handle, seen = scripted(fhir(503), fhir(502), fhir(500), fhir(504), fhir(200, PATIENT))
    async with client_for(handle, waits) as client:
        response = await client.request("GET", "Patient/1")
    assert response.body == PATIENT
    assert len(seen) == 5
    assert waits == [0.5, 1.0, 2.0, 4.0]  # random() 0.5 of 1, 2, 4, 8 seconds
    assert client.stats.retries == 4
    assert client.stats.requests == 1
    assert client.stats.failures == 0
    assert client.stats.waited == pytest.approx(7.5)


async def test_backoff_never_exceeds_max_backoff() -> None:
    waits = Waits()
    handle, _ = scripted(fhir(503), fhir(503), fhir(503), fhir(503), fhir(200, PATIENT))
    client = RemoteClient(
        remote(max_backoff=3.0),
        transport=httpx.MockTransport(handle),
        sleep=waits,
        random=lambda: 1.0,
    )
    await client.request("GET", "Patient/1")
    assert waits == [1.0, 2.0, 3.0, 3.0]


async def test_retry_after_seconds_is_waited_exactly() -> None:
    waits = Waits()
    handle, seen = scripted(fhir(429, headers={"Retry-After": "3"}), fhir(200, PATIENT))
    async with client_for(handle, waits) as client:
        await client.request("GET", "Patient/1")
    assert waits == [3.0]
    assert len(seen) == 2


async def test_retry_after_as_an_http_date() -> None:
    waits = Waits()
    when = datetime.fromtimestamp(int(time.time()) + 10, UTC)
    late = {"Retry-After": format_datetime(when, usegmt=True)}
    handle, _ = scripted(fhir(503, headers=late), fhir(200, PATIENT))
    async with client_for(handle, waits) as client:
        await client.request("GET", "Patient/1")
    assert len(waits) == 1
    assert 8.0 < waits[0] <= 10.0


async def test_retry_after_is_capped_and_never_negative() -> None:
    waits = Waits()
    past = format_datetime(datetime(2001, 1, 1, tzinfo=UTC), usegmt=True)
    handle, _ = scripted(
        fhir(429, headers={"Retry-After": "3600"}),
        fhir(503, headers={"Retry-After": past}),
        fhir(200, PATIENT),
    )
    async with client_for(handle, waits, max_backoff=20.0) as client:
        await client.request("GET", "Patient/1")
    assert waits == [20.0, 0.0]


async def test_exhausted_retries_raise_unavailable_naming_the_url() -> None:
    waits = Waits()
    handle, seen = scripted(fhir(503))
    async with client_for(handle, waits, retries=2) as client:
        with pytest.raises(RemoteUnavailable) as raised:
            await client.request("GET", "CarePlan/1", params={"_summary": "true"})
    assert len(seen) == 3
    assert len(waits) == 2
    message = str(raised.value)
    assert f"GET {BASE}/CarePlan/1?_summary=true" in message
    assert "503" in message
    assert client.stats.failures == 1


async def test_a_timeout_is_retried_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    waits = Waits()
    handle, seen = scripted(httpx.ReadTimeout("slow"), fhir(200, PATIENT))
    with caplog.at_level(logging.INFO, logger="fhircare.sync.client"):
        async with client_for(handle, waits) as client:
            response = await client.request("GET", "Patient/1")
    assert response.status == 200
    assert len(seen) == 2
    assert client.stats.retries == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"GET {BASE}/Patient/1: ReadTimeout: slow; retry 1 of 4 in 0.50s"
    ]


@pytest.mark.parametrize(
    "error", [httpx.ReadError("reset"), httpx.RemoteProtocolError("peer closed")]
)
async def test_a_connection_dropped_mid_body_is_retried(error: Exception) -> None:
    waits = Waits()
    good = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    handle, seen = scripted(httpx.Response(200, stream=Dropped(error)), fhir(200, good))
    async with client_for(handle, waits) as client:
        pages = [page async for page in client.pages("CarePlan")]
    assert pages == [good]
    assert len(seen) == 2
    assert client.stats.retries == 1


MALFORMED = [
    pytest.param(b"<html><body>502 from the proxy</body></html>", id="not-json"),
    pytest.param(b'{"resourceType": "Bundle", "entry": [', id="truncated"),
    pytest.param(b'{"resourceType": "Patient", "id": "1"}', id="not-a-bundle"),
    pytest.param(b'{"resourceType": "Bundle", "entry": {}}', id="entry-not-a-list"),
    pytest.param(b'[{"resourceType": "Bundle"}]', id="not-an-object"),
]


@pytest.mark.parametrize("content", MALFORMED)
async def test_a_malformed_page_is_retried_then_unavailable(content: bytes) -> None:
    waits = Waits()
    handle, seen = scripted(httpx.Response(200, content=content))
    async with client_for(handle, waits, retries=2) as client:
        with pytest.raises(RemoteUnavailable, match="malformed body"):
            [page async for page in client.pages("CarePlan")]
    assert len(seen) == 3


@pytest.mark.parametrize("content", MALFORMED)
async def test_a_malformed_page_once_is_read_again(content: bytes) -> None:
    waits = Waits()
    good = {"resourceType": "Bundle", "type": "searchset"}
    handle, _ = scripted(httpx.Response(200, content=content), fhir(200, good))
    async with client_for(handle, waits) as client:
        assert [page async for page in client.pages("CarePlan")] == [good]
    assert waits == [0.5]


async def test_a_2xx_that_is_not_json_is_retried_by_request_too() -> None:
    waits = Waits()
    handle, seen = scripted(httpx.Response(200, content=b"<html/>"), fhir(200, PATIENT))
    async with client_for(handle, waits) as client:
        assert (await client.request("GET", "Patient/1")).body == PATIENT
    assert len(seen) == 2


async def test_400_with_an_operation_outcome_is_rejected_without_retry() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "invalid",
                "diagnostics": "Goal.lifecycleStatus: required",
            },
            {"severity": "error", "code": "invalid", "details": {"text": "bad subject"}},
        ],
    }
    waits = Waits()
    handle, seen = scripted(fhir(400, outcome))
    async with client_for(handle, waits) as client:
        with pytest.raises(RemoteRejected) as raised:
            await client.request("PUT", "Goal/1", json={"resourceType": "Goal", "id": "1"})
    error = raised.value
    assert error.status == 400
    assert error.outcome == outcome
    assert error.diagnostics == "Goal.lifecycleStatus: required; bad subject"
    assert f"PUT {BASE}/Goal/1: 400" in str(error)
    assert len(seen) == 1
    assert waits == []
    assert client.stats.failures == 1


async def test_a_rejection_without_outcome_quotes_the_start_of_the_body() -> None:
    body = "<html>" + "x" * 500
    handle, _ = scripted(httpx.Response(403, text=body))
    async with client_for(handle, Waits()) as client:
        with pytest.raises(RemoteRejected) as raised:
            await client.request("GET", "Patient/1")
    assert raised.value.diagnostics == body[:300]
    assert raised.value.outcome is None


async def test_accepted_statuses_are_returned() -> None:
    gone = {"resourceType": "OperationOutcome", "issue": [{"code": "deleted"}]}
    handle, _ = scripted(fhir(404), fhir(410, gone), fhir(404))
    async with client_for(handle, Waits()) as client:
        missing = await client.request("GET", "Task/1", accept=(404, 410))
        deleted = await client.request("GET", "Task/1", accept=(404, 410))
        with pytest.raises(RemoteRejected):
            await client.request("GET", "Task/1")
    assert (missing.status, missing.body) == (404, None)
    assert (deleted.status, deleted.body) == (410, gone)


async def test_requests_are_fhir_json_and_keep_decimals() -> None:
    handle, seen = scripted(fhir(201, headers={"Location": f"{BASE}/Observation/9/_history/1"}))
    resource = jsonio.loads(b'{"resourceType": "Observation", "valueQuantity": {"value": 7.00}}')
    async with client_for(handle, Waits()) as client:
        response = await client.request(
            "POST", "Observation", json=resource, headers={"If-None-Exist": "identifier=a|1"}
        )
        await client.request("DELETE", f"{BASE}/Observation/9")
        await client.request("GET", "", params=[("_type", "Goal"), ("_type", "Task")])
    sent = seen[0]
    assert sent.headers["Accept"] == "application/fhir+json"
    assert sent.headers["Content-Type"] == "application/fhir+json"
    assert sent.headers["If-None-Exist"] == "identifier=a|1"
    assert b'"value":7.00' in sent.content
    assert response.body is None
    assert response.location == ("Observation", "9", "1")
    assert "Content-Type" not in seen[1].headers
    assert str(seen[1].url) == f"{BASE}/Observation/9"
    assert seen[2].url.path == "/fhir"
    assert seen[2].url.params.get_list("_type") == ["Goal", "Task"]


async def test_an_absolute_url_on_another_origin_is_refused() -> None:
    handle, seen = scripted(fhir(200, PATIENT))
    async with client_for(handle, Waits()) as client:
        for url in ("http://elsewhere.test/fhir/Patient/1", "https://remote.test/fhir/Patient/1"):
            with pytest.raises(RemoteError, match="not on the origin"):
                await client.request("GET", url)
    assert seen == []


def page(n: int, next_url: str | None) -> dict[str, Any]:
    links = [{"relation": "self", "url": f"{BASE}/CarePlan?page={n}"}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    entry = [{"resource": {"resourceType": "CarePlan", "id": str(n)}}]
    return {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entry}


async def test_paging_follows_next_links_to_the_last_page() -> None:
    pages = [page(1, f"{BASE}?_getpages=abc&_offset=1"), page(2, "?_getpages=abc&_offset=2")]
    pages.append(page(3, None))
    handle, seen = scripted(*(fhir(200, p) for p in pages))
    async with client_for(handle, Waits()) as client:
        walk = client.pages("CarePlan", [("_count", "1"), ("_sort", "_id")])
        got = [await anext(walk)]
        assert len(seen) == 1  # the next page is fetched only when asked for
        got += [p async for p in walk]
    assert got == pages
    assert [str(r.url) for r in seen] == [
        f"{BASE}/CarePlan?_count=1&_sort=_id",
        f"{BASE}?_getpages=abc&_offset=1",
        f"{BASE}/?_getpages=abc&_offset=2",
    ]
    assert client.stats.requests == 3


async def test_paging_refuses_a_next_link_to_another_origin() -> None:
    handle, seen = scripted(
        fhir(200, page(1, "http://evil.test/fhir?page=2")), fhir(200, page(2, None))
    )
    got = []
    async with client_for(handle, Waits()) as client:
        with pytest.raises(RemoteError, match=r"evil\.test"):
            async for p in client.pages("CarePlan"):
                got.append(p)
    assert len(got) == 1
    assert len(seen) == 1


async def test_paging_stops_on_a_next_link_loop() -> None:
    loop = f"{BASE}/CarePlan?page=2"
    handle, seen = scripted(fhir(200, page(1, loop)))
    async with client_for(handle, Waits()) as client:
        with pytest.raises(RemoteError, match="repeats"):
            [p async for p in client.pages("CarePlan")]
    assert len(seen) == 2


async def test_capabilities_are_fetched_once() -> None:
    statement = {"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1"}
    handle, seen = scripted(fhir(200, statement))
    async with client_for(handle, Waits()) as client:
        assert await client.capabilities() == statement
        assert await client.capabilities() == statement
    assert [str(r.url) for r in seen] == [f"{BASE}/metadata"]


def answer(headers: dict[str, str], body: dict[str, Any] | None = None) -> RemoteResponse:
    return RemoteResponse(201, httpx.Headers(headers), body)


@pytest.mark.parametrize(
    ("headers", "location"),
    [
        ({"Location": f"{BASE}/CarePlan/7/_history/3"}, ("CarePlan", "7", "3")),
        ({"Location": "CarePlan/7/_history/3"}, ("CarePlan", "7", "3")),
        ({"Location": "/fhir/CarePlan/7"}, ("CarePlan", "7", None)),
        ({"Location": f"{BASE}/CarePlan/a-b.c"}, ("CarePlan", "a-b.c", None)),
        ({"Content-Location": "https://x.test/r4/Goal/g1/_history/12"}, ("Goal", "g1", "12")),
        ({"Location": f"{BASE}/CarePlan"}, None),
        ({"Location": f"{BASE}/CarePlan/7/_history"}, None),
        ({}, None),
    ],
)
def test_location(headers: dict[str, str], location: tuple[str, str, str | None] | None) -> None:
    assert answer(headers).location == location


@pytest.mark.parametrize(
    ("headers", "body", "version"),
    [
        ({"ETag": 'W/"3"'}, None, "3"),
        ({"ETag": '"12"'}, PATIENT, "12"),
        ({"ETag": "4"}, None, "4"),
        ({}, PATIENT, "2"),
        ({}, {"resourceType": "Patient"}, None),
        ({}, None, None),
    ],
)
def test_version(headers: dict[str, str], body: dict[str, Any] | None, version: str | None) -> None:
    assert answer(headers, body).version == version
