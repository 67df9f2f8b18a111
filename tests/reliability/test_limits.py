"""Hostile and oversized requests: each is refused (or served) quickly, as an
OperationOutcome, never a 500 or a hang, and the server stays up and small.

In-process on every store (``client`` over memory and FerretDB, with the limits of the
``settings`` below), plus one ``fhircare serve`` process with its default limits for what
only a real HTTP server shows: streamed bodies, the process's memory, its C stack.

The time bounds only guard against a hang; they are no benchmark.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from fhircare.processes import ServerProcess
from fhircare.settings import Settings
from fhircare.storage.protocol import ResourceStore

ROOT = Path(__file__).resolve().parents[2]
FHIR_JSON = {"Content-Type": "application/fhir+json"}
PATCH_JSON = {"Content-Type": "application/json-patch+json"}
MiB = 1024 * 1024
MAX_BODY = 4 * MiB
MAX_BUNDLE = 8 * MiB
MAX_COUNT = 50
FAST = 5.0  # seconds: a refusal that takes longer is hanging on something
SLOW_WRITE = 60.0  # seconds: a megabyte-sized write that takes longer is hanging
DEEP = 100_000  # nesting levels
MAX_BUNDLE_ENTRIES = 1000


@pytest.fixture
def settings() -> Settings:
    """Explicit limits for the in-process ``client`` (the live server keeps the defaults)."""
    return Settings(
        max_body_bytes=MAX_BODY,
        max_bundle_bytes=MAX_BUNDLE,
        max_bundle_entries=MAX_BUNDLE_ENTRIES,
        max_count=MAX_COUNT,
    )


def outcome(response: httpx.Response, status: int, *codes: str) -> dict[str, Any]:
    """``response`` is ``status`` with an OperationOutcome body, of one of ``codes`` if given."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    assert body["issue"] and all(i["severity"] in ("error", "fatal") for i in body["issue"])
    if codes:
        assert body["issue"][0]["code"] in codes, body
    return body


async def timed(request: Awaitable[httpx.Response], bound: float = FAST) -> httpx.Response:
    started = time.monotonic()
    response = await request
    elapsed = time.monotonic() - started
    assert elapsed < bound, f"answered {response.status_code} after {elapsed:.1f}s"
    return response


def task(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Task", "status": "requested", "intent": "order", **fields}


def nested(levels: int, kind: str = "array") -> bytes:
    """A Task whose ``extension`` is ``levels`` arrays (or objects) deep, as raw JSON."""
    opening, closing = ("[", "]") if kind == "array" else ('{"a":', "}")
    inner = opening * levels + ("" if kind == "array" else "1") + closing * levels
    return b'{"resourceType":"Task","status":"requested","intent":"order","extension":' + (
        inner.encode() + b"}"
    )


def bundle(kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


# --- in-process, on every store ---------------------------------------------------------


async def test_oversize_bodies_are_413_before_they_are_read(client: httpx.AsyncClient) -> None:
    over = b"x" * (MAX_BODY + 1)
    outcome(await timed(client.post("/Task", content=over, headers=FHIR_JSON)), 413, "too-costly")
    put = client.put("/Task/big", content=over, headers=FHIR_JSON)
    outcome(await timed(put), 413, "too-costly")
    patch = client.patch("/Task/big", content=over, headers=PATCH_JSON)
    outcome(await timed(patch), 413, "too-costly")
    search = client.post(
        "/Task/_search",
        content=over,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    outcome(await timed(search), 413, "too-costly")

    # no Content-Length: the body is streamed and refused once it passes the limit
    async def streamed() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY // (64 * 1024) + 1):
            yield b" " * (64 * 1024)

    chunked = client.post("/Task", content=streamed(), headers=FHIR_JSON)
    outcome(await timed(chunked), 413, "too-costly")
    # a bundle has its own, larger limit
    big_bundle = b" " * (MAX_BUNDLE + 1)
    outcome(await timed(client.post("", content=big_bundle, headers=FHIR_JSON)), 413)
    within = bundle("batch", [{"request": {"method": "GET", "url": "Task?_count=1"}}])
    padded = httpx.Request("POST", "/", json=within).content + b" " * (MAX_BODY + 1)
    assert (await timed(client.post("", content=padded, headers=FHIR_JSON))).status_code == 200


@pytest.mark.parametrize("kind", ["array", "object"])
async def test_deep_nesting_is_400_not_a_crash(client: httpx.AsyncClient, kind: str) -> None:
    deep = nested(DEEP, kind)
    outcome(await timed(client.post("/Task", content=deep, headers=FHIR_JSON)), 400)
    outcome(await timed(client.put("/Task/deep", content=deep, headers=FHIR_JSON)), 400)
    in_bundle = b'{"resourceType":"Bundle","type":"batch","entry":[{"resource":' + deep + b"}]}"
    outcome(await timed(client.post("", content=in_bundle, headers=FHIR_JSON)), 400)
    created = await client.put("/Task/deep", json={**task(), "id": "deep"}, headers=FHIR_JSON)
    assert created.status_code == 201, created.text
    deep_patch = b'[{"op":"add","path":"/extension","value":' + nested(DEEP, kind) + b"}]"
    outcome(await timed(client.patch("/Task/deep", content=deep_patch, headers=PATCH_JSON)), 400)
    # past FHIRCARE_MAX_JSON_DEPTH (64) but well within the parser's reach: too costly
    value: Any = "x"
    for _ in range(100):
        value = [value] if kind == "array" else {"a": value}
    shallow_patch = [{"op": "add", "path": "/extension", "value": value}]
    patch = client.patch("/Task/deep", json=shallow_patch, headers=PATCH_JSON)
    outcome(await timed(patch), 400, "too-costly")
    put = client.put("/Task/deep", json={**task(), "id": "deep", "x": value}, headers=FHIR_JSON)
    outcome(await timed(put), 400, "too-costly")
    assert (await client.get("/Task/deep")).headers["etag"] == 'W/"1"'  # nothing landed


@pytest.mark.parametrize("kind", ["batch", "transaction"])
async def test_ten_thousand_entry_bundle_is_413(client: httpx.AsyncClient, kind: str) -> None:
    entries = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": task(),
            "request": {"method": "POST", "url": "Task"},
        }
        for _ in range(10_000)
    ]  # about 1.3 MB: within the bundle's byte limit, far past its MAX_BUNDLE_ENTRIES
    posted = client.post("", json=bundle(kind, entries), headers=FHIR_JSON)
    body = outcome(await timed(posted), 413, "too-costly")
    assert "10000 entries" in body["issue"][0]["diagnostics"]
    found = (await client.get("/Task", params={"_summary": "count"})).json()
    assert found["total"] == 0  # nothing of it landed


async def test_a_megabyte_string_is_stored_or_refused_cleanly(client: httpx.AsyncClient) -> None:
    text = "Lorem ipsum " * (MiB // 12)  # a megabyte
    created = await timed(
        client.post("/Task", json=task(description=text), headers=FHIR_JSON), SLOW_WRITE
    )
    assert created.status_code == 201, created.text[:500]
    read = await timed(client.get(f"/Task/{created.json()['id']}"))
    assert read.status_code == 200 and read.json()["description"] == text
    # in a searchable string: indexed too (several times: name, family, phonetic)
    patient = {"resourceType": "Patient", "name": [{"family": text}]}
    answer = await timed(client.post("/Patient", json=patient, headers=FHIR_JSON), SLOW_WRITE)
    if answer.status_code == 201:
        read = await timed(client.get(f"/Patient/{answer.json()['id']}"))
        assert read.json()["name"][0]["family"] == text
    else:
        outcome(answer, answer.status_code)
        assert answer.status_code in (400, 413), answer.status_code


async def test_a_large_indexed_string_within_the_body_limit_is_no_500(
    client: httpx.AsyncClient, store: ResourceStore
) -> None:
    """3 MB in ``Patient.name.family`` is within the body limit, but its stored document
    (the JSON plus each search index entry, raw and folded) is larger than MongoDB's
    16 MB, so the store refuses it. That must be an OperationOutcome, not a 500."""
    patient = {"resourceType": "Patient", "name": [{"family": "x" * (3 * MiB)}]}
    answer = await timed(client.post("/Patient", json=patient, headers=FHIR_JSON), SLOW_WRITE)
    if answer.status_code != 201:
        outcome(answer, answer.status_code)
        assert answer.status_code in (400, 413, 422), answer.status_code


async def test_a_thousand_search_parameters_are_refused_fast(client: httpx.AsyncClient) -> None:
    many = "&".join(["status=requested"] * 1000)
    outcome(await timed(client.get(f"/Task?{many}")), 400, "too-costly")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    outcome(
        await timed(client.post("/Task/_search", content=many, headers=form)), 400, "too-costly"
    )
    wide = {"status": ",".join(["requested"] * 1000)}
    outcome(await timed(client.get("/Task", params=wide)), 400, "too-costly")
    includes = "&".join(["_include=Task:subject"] * 1000)
    outcome(await timed(client.get(f"/Task?{includes}")), 400, "too-costly")
    sort = {"_sort": ",".join(["status"] * 1000)}
    outcome(await timed(client.get("/Task", params=sort)), 400, "too-costly")
    chain = {"subject:Patient." + ".".join(["general-practitioner"] * 1000): "x"}
    outcome(await timed(client.get("/Task", params=chain)), 400)
    # unknown parameters are ignored and listed (search.html#errors), or refused if strict
    unknown = "&".join(f"bogus{n}=1" for n in range(1000))
    strict = client.get(f"/Task?{unknown}", headers={"Prefer": "handling=strict"})
    outcome(await timed(strict), 400)
    lenient = await timed(client.get(f"/Task?{unknown}"))
    assert lenient.status_code == 200, lenient.text[:500]
    warning = lenient.json()["entry"][-1]
    assert warning["resource"]["resourceType"] == "OperationOutcome"
    assert warning["search"]["mode"] == "outcome"


async def test_count_above_the_maximum_is_lowered_to_it(client: httpx.AsyncClient) -> None:
    """FHIRCARE_MAX_COUNT is "the largest _count honoured" (README; search.html#count lets
    the server return fewer): a larger one pages by the maximum, for search and history."""
    entries = [{"resource": task(), "request": {"method": "POST", "url": "Task"}}]
    created = await client.post("", json=bundle("transaction", entries * (MAX_COUNT + 5)))
    assert created.status_code == 200, created.text[:500]
    for path in ("/Task", "/Task/_history"):
        page = (await timed(client.get(path, params={"_count": "5000"}))).json()
        assert len(page["entry"]) == MAX_COUNT, (path, len(page["entry"]))
        assert any(link["relation"] == "next" for link in page["link"]), path
    outcome(await client.get("/Task", params={"_count": "-1"}), 400)


OUTLANDISH = [
    ("history-count-unicode-digit", "/Task/_history", {"_count": "²"}),
    ("history-count-5000-digits", "/Task/_history", {"_count": "9" * 5000}),
    ("history-cursor-5000-digits", "/Task/_history", {"_cursor": "9" * 5000}),
    ("history-cursor-30-digits", "/Task/_history", {"_cursor": "9" * 30}),
    ("search-count-unicode-digit", "/Task", {"_count": "²"}),
    ("search-count-5000-digits", "/Task", {"_count": "9" * 5000}),
    ("search-cursor-5000-digits", "/Task", {"_cursor": "9" * 5000}),
    ("vread-5000-digits", "/Task/x/_history/" + "9" * 5000, {}),
    ("vread-30-digits", "/Task/x/_history/" + "9" * 30, {}),
    ("vread-unicode-digit", "/Task/x/_history/²", {}),
]


@pytest.mark.parametrize(("case", "path", "params"), OUTLANDISH, ids=[c[0] for c in OUTLANDISH])
async def test_outlandish_numbers_are_4xx_not_500(
    client: httpx.AsyncClient, case: str, path: str, params: dict[str, str]
) -> None:
    await client.put("/Task/x", json={**task(), "id": "x"}, headers=FHIR_JSON)
    answer = await timed(client.get(path, params=params))
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        outcome(answer, answer.status_code)


# header values go as bytes: Starlette reads them as Latin-1, so b"\xb2" arrives as "²"
ETAGS = [b'W/"' + b"9" * 5000 + b'"', b'W/"\xb2"', b'W/"' + b"9" * 30 + b'"']


@pytest.mark.parametrize("etag", ETAGS, ids=["5000-digits", "unicode-digit", "30-digits"])
async def test_outlandish_etags_are_4xx_not_500(client: httpx.AsyncClient, etag: bytes) -> None:
    await client.put("/Task/x", json={**task(), "id": "x"}, headers=FHIR_JSON)
    changed = {**task(), "id": "x", "description": "new"}
    put = client.put("/Task/x", json=changed, headers={**FHIR_JSON, "If-Match": etag})
    answer = await timed(put)
    outcome(answer, answer.status_code)
    assert answer.status_code in (400, 412), answer.status_code  # malformed, or no match
    read = await timed(client.get("/Task/x", headers={"If-None-Match": etag}))
    assert read.status_code == 200, read.text[:300]  # no match, so the resource
    assert read.headers["etag"] == 'W/"1"'


# --- one server process, default limits --------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "mongo"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    database = f"limits_{uuid.uuid4().hex[:8]}"
    folder = tmp_path_factory.mktemp("limits")
    sqlite = request.param == "sqlite"
    store = str(folder / "store.sqlite3") if sqlite else request.getfixturevalue("mongo_uri")
    server = ServerProcess(store, database, log_path=folder / "server.log", cwd=ROOT).wait_ready()
    try:
        yield server
    finally:
        server.stop()
        if not sqlite:
            with MongoClient(store) as mongo:
                mongo.drop_database(database)


def rss_mib(pid: int) -> int | None:
    """The resident memory of process ``pid`` (Linux ``/proc``), None where unknown."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


async def test_server_process_refuses_floods_and_stays_small(live: ServerProcess) -> None:
    defaults = Settings()
    over = defaults.max_body_bytes + 1
    before = rss_mib(live.process.pid)

    async def streamed() -> AsyncIterator[bytes]:
        chunk = b" " * (256 * 1024)
        for _ in range(over // len(chunk) + 1):
            yield chunk

    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(base_url=live.base_url, timeout=60, limits=limits) as http:
        body = b"x" * over
        started = time.monotonic()
        for _round in range(3):
            declared = [http.post("/Task", content=body, headers=FHIR_JSON) for _ in range(8)]
            chunked = [http.post("/Task", content=streamed(), headers=FHIR_JSON) for _ in range(8)]
            for answer in await asyncio.gather(*declared, *chunked):
                outcome(answer, 413, "too-costly")
        assert time.monotonic() - started < 6 * FAST
        # C-level recursion in the server's own thread: 400, and the process lives on
        outcome(await timed(http.post("/Task", content=nested(DEEP), headers=FHIR_JSON)), 400)
        over_entries = defaults.max_bundle_entries + 1
        entries = [{"request": {"method": "GET", "url": "Task?_count=1"}}] * over_entries
        batch = http.post("", json=bundle("batch", entries), headers=FHIR_JSON)
        outcome(await timed(batch), 413, "too-costly")
        assert (await http.get("/metadata")).status_code == 200
    assert live.process.poll() is None
    after = rss_mib(live.process.pid)
    if before is None or after is None:
        pytest.skip("no /proc/<pid>/status here to read the server's memory from")
    # 48 bodies of 16 MB were sent; what the server keeps afterwards stays far below that
    assert after < before + 256, f"server RSS grew from {before} MiB to {after} MiB"
    print(f"server RSS {before} MiB before, {after} MiB after")
