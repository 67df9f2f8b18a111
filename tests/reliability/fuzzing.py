"""The harness of ``test_fuzz.py``: the app on an event loop of its own, the checks every
fuzzed answer must pass, and the sentinels no fuzzed request may change unless it wrote them.

The app (store, lifespan, in-process httpx client) runs on a loop in a daemon thread; the
test (Hypothesis) runs in the pytest thread and sends each request to that loop with a
timeout. So a request that hangs, even one that blocks the loop, fails the test instead of
hanging the run, and Hypothesis, which is synchronous, drives an async app.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import threading
from collections.abc import Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.loader import load
from fhircare.settings import Settings
from fhircare.storage.memory import MemoryStore
from fhircare.storage.protocol import ResourceStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BASE = "http://test/fhir"
TIMEOUT = 15.0  # seconds one request may take, on FerretDB on a busy 2-CPU machine
SEVERITIES = {"fatal", "error", "warning", "information"}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
JSON_TYPES = ("application/fhir+json", "application/json")
_DELETED = re.compile(r"Deleted (?:\d+ resources: )?(.+)")


class Hang(BaseException):
    """A request that did not answer within ``TIMEOUT``. Not an ``Exception``, so that
    Hypothesis stops at once instead of replaying requests to a server that hangs."""


def problems(response: httpx.Response) -> list[str]:
    """What is wrong with an answer to any request: a 5xx status, or an error whose body
    is not a FHIR OperationOutcome (JSON, at least one issue, each with severity and code)."""
    found: list[str] = []
    status = response.status_code
    if status >= 500:
        found.append(f"status {status}")
    media = response.headers.get("content-type", "").split(";")[0].strip()
    if response.content and media in JSON_TYPES:
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            return [*found, f"a {media} body that is not JSON ({exc})"]
    elif response.content:
        return [*found, f"a {media or 'untyped'} body"]
    else:
        body = None
    if status < 400:
        return found
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return [*found, "an error whose body is not an OperationOutcome"]
    issues = body.get("issue")
    if not isinstance(issues, list) or not issues:
        return [*found, "an OperationOutcome without issues"]
    for issue in issues:
        if not isinstance(issue, dict) or issue.get("severity") not in SEVERITIES:
            found.append(f"an issue without a valid severity: {issue!r}"[:200])
        elif not isinstance(issue.get("code"), str) or not issue["code"]:
            found.append(f"an issue without a code: {issue!r}"[:200])
    return found


def describe(response: httpx.Response) -> str:
    request = response.request
    body = request.content[:300] if request.content else b""
    return (
        f"{request.method} {str(request.url)[:400]}\n"
        f"  request headers: {dict(request.headers)}\n  request body: {body!r}\n"
        f"  -> {response.status_code} {response.headers.get('content-type')}: "
        f"{response.content[:500]!r}"
    )


def _segments(url: httpx.URL) -> list[str]:
    """The path below the FHIR base as the server splits it (percent-decoded)."""
    path = unquote(url.raw_path.decode("ascii").split("?", 1)[0])
    base = urlsplit(BASE).path
    return [s for s in path.removeprefix(base).split("/") if s]


def _from_location(location: str | None) -> tuple[str, str] | None:
    if not location:
        return None
    parts = location.removeprefix(BASE).strip("/").split("/")
    return (parts[0], parts[1]) if len(parts) >= 2 else None


@dataclass
class Writes:
    """What successful fuzzed writes may have changed: resources by (type, id), and whole
    types where the answer does not say which resource a write changed."""

    targets: set[tuple[str, str]] = field(default_factory=set)
    types: set[str] = field(default_factory=set)
    everything: bool = False
    count: int = 0

    def may_have_changed(self, key: tuple[str, str]) -> bool:
        return self.everything or key in self.targets or key[0] in self.types

    def record(self, response: httpx.Response) -> None:
        """Note what ``response``, the answer to a write, says was written."""
        method = response.request.method
        if method not in WRITES or not 200 <= response.status_code < 300:
            return
        segments = _segments(response.request.url)
        if segments[-1:] in (["_search"], ["$reindex"]):
            return  # a search or a reindex: no resource changes
        self.count += 1
        if not segments:
            self._bundle(response)
        elif len(segments) >= 2:
            self.targets.add((segments[0], segments[1]))
        else:
            self._conditional(segments[0], method, response)

    def _conditional(self, type_: str, method: str, response: httpx.Response) -> None:
        """A create or a conditional write: the Location or the outcome names the resource."""
        named = _from_location(response.headers.get("location"))
        if named is not None:
            self.targets.add(named)
            return
        if method == "DELETE":
            diagnostics = _diagnostics(response)
            if diagnostics.startswith("No resource matches"):
                return
            match = _DELETED.fullmatch(diagnostics)
            if match is not None:
                for name in match.group(1).split(", "):
                    type_name, _, id = name.partition("/")
                    self.targets.add((type_name, id))
                return
        self.types.add(type_)

    def _bundle(self, response: httpx.Response) -> None:
        """A batch or transaction: each successful entry's request (or location)."""
        try:
            sent = json.loads(response.request.content)
            answer = json.loads(response.content)
            pairs = list(zip(sent["entry"], answer["entry"], strict=True))
        except (ValueError, KeyError, TypeError):
            self.everything = True
            return
        for entry, result in pairs:
            try:
                status = int(str(result["response"]["status"]).split()[0])
                method = str(entry["request"]["method"])
                url = str(entry["request"]["url"])
            except (KeyError, TypeError, ValueError, IndexError):
                self.everything = True
                return
            if method not in WRITES or not 200 <= status < 300:
                continue
            named = _from_location(result["response"].get("location"))
            path = url.split("?", 1)[0].removeprefix(BASE).strip("/").split("/")
            if named is not None:
                self.targets.add(named)
            elif len(path) >= 2 and "?" not in url:
                self.targets.add((path[0], path[1]))
            elif path[0] in RESOURCE_TYPES:
                self.types.add(path[0])
            else:
                self.everything = True


def _diagnostics(response: httpx.Response) -> str:
    try:
        return str(response.json()["issue"][0]["diagnostics"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


@dataclass
class Sentinel:
    type: str
    id: str
    version: str
    body: bytes


class FuzzApp:
    """The app on its own loop, the examples loaded as sentinels; ``send`` checks answers."""

    def __init__(self, store_kind: str, location: str | None, database: str) -> None:
        self.store_kind = store_kind
        self.location = location
        """The MongoDB URI or the SQLite file."""
        self.database = database
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="fuzz-app")
        self.writes = Writes()
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.hung = False

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = TIMEOUT) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            self.hung = True
            raise Hang(f"no answer within {timeout} s") from None

    async def _start(self) -> None:
        from fhircare.app import create_app
        from fhircare.storage.mongo.store import connect
        from fhircare.storage.sqlite.store import SqliteStore

        self.store: ResourceStore
        if self.store_kind == "memory":
            self.store = MemoryStore()
        elif self.store_kind == "sqlite":
            assert self.location is not None
            self.store = SqliteStore(Path(self.location))
            await self.store.open()
        else:
            assert self.location is not None
            self.store = connect(self.location, self.database)
            await self.store.open()
        self.app = create_app(Settings(max_body_bytes=64 * 1024, max_count=50), self.store)
        self.lifespan = self.app.router.lifespan_context(self.app)
        await self.lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url=BASE)
        report = await load(self.app.state.context, [EXAMPLES])
        assert report.errors == []

    async def _stop(self) -> None:
        await self.client.aclose()
        await self.lifespan.__aexit__(None, None, None)
        if self.store_kind == "mongo":
            await self.store.drop()  # type: ignore[attr-defined]
        await self.store.close()

    def start(self) -> None:
        self.thread.start()
        self.run(self._start(), 120)

    def stop(self) -> None:
        if not self.hung:  # a loop blocked by a hung request cannot be stopped: leave it
            self.run(self._stop(), 60)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | Mapping[bytes, bytes] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send a request without checking the answer."""
        if self.hung:
            raise Hang("an earlier request hung")
        coroutine = self.client.request(method, url, headers=headers, content=content)
        try:
            response: httpx.Response = self.run(coroutine)
        except Hang as hang:
            raise Hang(f"{method} {str(url)[:300]}: {hang}") from None
        return response

    def send(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | Mapping[bytes, bytes] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send a fuzzed request; fail on a 5xx or an error that is no OperationOutcome,
        and note what a successful write changed."""
        response = self.request(method, url, headers=headers, content=content)
        self.sent += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        found = problems(response)
        assert not found, f"{'; '.join(found)}:\n{describe(response)}"
        self.writes.record(response)
        return response

    # -- sentinels -------------------------------------------------------------------------

    def sentinels(self) -> list[Sentinel]:
        """Every example resource as it reads now."""
        found = []
        for path in sorted(EXAMPLES.glob("*.json")):
            for entry in json.loads(path.read_text())["entry"]:
                type_, id = entry["resource"]["resourceType"], entry["resource"]["id"]
                response = self.request("GET", f"/{type_}/{id}")
                assert response.status_code == 200, describe(response)
                version = response.json()["meta"]["versionId"]
                found.append(Sentinel(type_, id, version, response.content))
        return found

    def check_sentinels(self, before: list[Sentinel]) -> int:
        """Every sentinel no successful write named reads back byte for byte as before;
        answers how many were checked."""
        checked = 0
        for sentinel in before:
            if self.writes.may_have_changed((sentinel.type, sentinel.id)):
                continue
            response = self.request("GET", f"/{sentinel.type}/{sentinel.id}")
            assert response.status_code == 200, (
                f"{sentinel.type}/{sentinel.id}, which no successful write named, now "
                f"answers {response.status_code}: {response.content[:300]!r}"
            )
            version = response.json()["meta"]["versionId"]
            assert (version, response.content) == (sentinel.version, sentinel.body), (
                f"{sentinel.type}/{sentinel.id}, which no successful write named, changed "
                f"from version {sentinel.version} to {version}"
            )
            checked += 1
        return checked

    def summary(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return f"{self.sent} requests ({statuses}); {self.writes.count} successful writes"


@contextmanager
def fuzz_app(store_kind: str, request: pytest.FixtureRequest) -> Iterator[FuzzApp]:
    """A started ``FuzzApp`` on the store named ``store_kind`` (``tests.conftest.STORES``)."""
    import uuid

    location = None
    if store_kind == "mongo":
        location = request.getfixturevalue("mongo_uri")
    elif store_kind == "sqlite":
        location = str(request.getfixturevalue("tmp_path") / "fuzz.sqlite3")
    app = FuzzApp(store_kind, location, f"fuzz_{uuid.uuid4().hex[:12]}")
    app.start()
    try:
        yield app
    finally:
        app.stop()
