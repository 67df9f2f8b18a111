"""The sync adapter's HTTP client to one remote FHIR server (https://hl7.org/fhir/R4/http.html).

One pooled ``httpx.AsyncClient`` per remote. Every request runs in one retry loop around
send, read and parse: a connection dropped mid-body, or a 2xx whose body is not the JSON
it should be (truncated, a proxy's HTML page), is retried like a 503, which a retrying
transport (that stops once headers arrive) could not do.
"""

from __future__ import annotations

import asyncio
import logging
import random as random_module
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from fhircare.fhir import errors, jsonio
from fhircare.sync.auth import auth_for
from fhircare.sync.remotes import Remote
from fhircare.sync.retry import (
    RETRYABLE_ERRORS,
    RETRYABLE_STATUSES,
    RemoteError,
    RemoteRejected,
    RemoteUnavailable,
    Transient,
    backoff,
    diagnostics,
    retry_after,
)

__all__ = [
    "ClientStats",
    "RemoteClient",
    "RemoteError",
    "RemoteRejected",
    "RemoteResponse",
    "RemoteUnavailable",
]

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
Params = Sequence[tuple[str, str]] | Mapping[str, str] | None
Check = Callable[[dict[str, Any]], str | None]

_ETAG = re.compile(r'^(?:W/)?"?([^"]*)"?$')
_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass
class ClientStats:
    """What a client did: ``requests`` made (a retried one counts once), ``retries``,
    ``failures`` (requests that raised a ``RemoteError``) and seconds ``waited`` between tries."""

    requests: int = 0
    retries: int = 0
    failures: int = 0
    waited: float = 0.0


@dataclass
class RemoteResponse:
    """A response the caller accepted, its body parsed (``None`` when empty)."""

    status: int
    headers: httpx.Headers
    body: dict[str, Any] | None

    @property
    def version(self) -> str | None:
        """The version the remote gave the resource: the ETag (``W/"3"``), else
        ``meta.versionId`` (https://hl7.org/fhir/R4/http.html#versioning)."""
        etag = self.headers.get("ETag")
        match = _ETAG.match(etag.strip()) if etag else None
        if match and match.group(1):
            return match.group(1)
        meta = self.body.get("meta") if self.body else None
        version = meta.get("versionId") if isinstance(meta, dict) else None
        return str(version) if version is not None else None

    @property
    def location(self) -> tuple[str, str, str | None] | None:
        """``(type, id, version)`` from ``Location`` or ``Content-Location``:
        ``[base]/Type/id[/_history/vid]``, absolute or relative
        (https://hl7.org/fhir/R4/http.html#create)."""
        value = self.headers.get("Location") or self.headers.get("Content-Location")
        return parse_location(value) if value else None


def parse_location(value: str) -> tuple[str, str, str | None] | None:
    path = httpx.URL(value.strip()).path
    parts = [p for p in path.split("/") if p]
    version = None
    if len(parts) >= 4 and parts[-2] == "_history":
        version, parts = parts[-1], parts[:-2]
    if len(parts) < 2 or not _TYPE.match(parts[-2]) or not _ID.match(parts[-1]):
        return None
    return parts[-2], parts[-1], version


class RemoteClient:
    """Requests to one remote, retried as its configuration says; see the module docstring."""

    def __init__(
        self,
        remote: Remote,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = random_module.random,
    ) -> None:
        self.remote = remote
        self.stats = ClientStats()
        self._sleep = sleep
        self._random = random
        self._base = httpx.URL(remote.base_url + "/")
        self._auth = auth_for(remote, transport=transport)
        self._http = httpx.AsyncClient(
            transport=transport,
            auth=self._auth,
            timeout=httpx.Timeout(remote.timeout, pool=None),
            limits=httpx.Limits(
                max_connections=remote.concurrency, max_keepalive_connections=remote.concurrency
            ),
            follow_redirects=False,
            headers={"Accept": FHIR_JSON},
        )
        self._capabilities: dict[str, Any] | None = None
        self._capabilities_lock = asyncio.Lock()

    async def __aenter__(self) -> RemoteClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        closer = getattr(self._auth, "aclose", None)
        if closer is not None:
            await closer()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
    ) -> RemoteResponse:
        """``method`` on ``path`` (relative to the base, or an absolute URL on the remote's
        origin); a 2xx or a status in ``accept`` is returned, anything else raised."""
        return await self._send(method, path, params, json, headers, accept, None)

    async def pages(self, path: str, params: Params = None) -> AsyncIterator[dict[str, Any]]:
        """Each Bundle of a search or history, following ``next`` links
        (https://hl7.org/fhir/R4/http.html#paging); one page is held at a time."""
        url: str = path
        seen: set[str] = set()
        while True:
            response = await self._send("GET", url, params, None, None, (), _bundle_problem)
            assert response.body is not None
            link = _next_link(response.body)
            yield response.body
            if link is None:
                return
            url, params = str(self._base.join(link)), None
            if url in seen:
                raise RemoteError("GET", url, "the next link repeats an earlier page")
            seen.add(url)

    async def capabilities(self) -> dict[str, Any]:
        """The remote's CapabilityStatement (``GET [base]/metadata``), fetched once
        (https://hl7.org/fhir/R4/http.html#capabilities)."""
        async with self._capabilities_lock:
            if self._capabilities is None:
                response = await self._send("GET", "metadata", None, None, None, (), _cs_problem)
                self._capabilities = response.body
            assert self._capabilities is not None
            return self._capabilities

    def url(self, path: str, method: str = "GET") -> httpx.URL:
        """The absolute URL of ``path``; an absolute URL must be on the remote's origin,
        so credentials never go elsewhere."""
        if not path.startswith(("http://", "https://")):
            relative = path.lstrip("/")
            return httpx.URL(
                f"{self.remote.base_url}/{relative}" if relative else self.remote.base_url
            )
        url, base = httpx.URL(path), self._base
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise RemoteError(method, path, f"refused: not on the origin of {base}")
        return url

    async def _send(
        self,
        method: str,
        path: str,
        params: Params,
        json: dict[str, Any] | None,
        headers: Mapping[str, str] | None,
        accept: Collection[int],
        check: Check | None,
    ) -> RemoteResponse:
        self.stats.requests += 1
        try:
            url = self.url(path, method)
        except RemoteError:
            self.stats.failures += 1
            raise
        content = None if json is None else jsonio.dumps(json)
        sent_headers = {"Content-Type": FHIR_JSON} if content is not None else {}
        sent_headers.update(headers or {})
        query: Any = params if params is None or isinstance(params, Mapping) else list(params)
        request = self._http.build_request(
            method, url, params=query, content=content, headers=sent_headers
        )
        shown = str(request.url)
        attempt = 0
        while True:
            try:
                return await self._attempt(request, accept, check)
            except Transient as failure:
                reason, hint = failure.reason, failure.retry_after
                cause: BaseException | None = None
            except RETRYABLE_ERRORS as error:
                reason, hint, cause = f"{type(error).__name__}: {error}", None, error
            except RemoteError:
                self.stats.failures += 1
                raise
            if attempt >= self.remote.retries:
                self.stats.failures += 1
                raise RemoteUnavailable(method, shown, reason, attempt) from cause
            wait = retry_after(hint, self.remote.max_backoff)
            if wait is None:
                wait = backoff(attempt, self.remote.backoff, self.remote.max_backoff, self._random)
            attempt += 1
            self.stats.retries += 1
            self.stats.waited += wait
            then = f"retry {attempt} of {self.remote.retries} in {wait:.2f}s"
            log.info("%s %s: %s; %s", method, shown, reason, then)
            await self._sleep(wait)

    async def _attempt(
        self, request: httpx.Request, accept: Collection[int], check: Check | None
    ) -> RemoteResponse:
        """One try: send, read the whole body, parse it; a failure worth another try is
        raised as ``Transient`` or an httpx transport error."""
        response = await self._http.send(request)
        status = response.status_code
        if status in accept:
            body, problem = _parse(response.content)
            return RemoteResponse(status, response.headers, None if problem else body)
        if 200 <= status < 300:
            body, problem = _parse(response.content)
            if problem is None and check is not None:
                problem = check(body) if body is not None else "an empty body"
            if problem is not None:
                raise Transient(f"{status} with a malformed body: {problem}")
            return RemoteResponse(status, response.headers, body)
        if status in RETRYABLE_STATUSES:
            raise Transient(
                f"{status} {response.reason_phrase}", response.headers.get("Retry-After")
            )
        body, _ = _parse(response.content)
        method, url = request.method, str(request.url)
        raise RemoteRejected(method, url, status, body, diagnostics(body, response.text))


def _parse(content: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The body as a JSON object, or ``None`` and what is wrong with it."""
    if not content.strip():
        return None, None
    try:
        value = jsonio.loads(content)
    except errors.FhirError as error:
        return None, f"{error} (starts {content[:60]!r})"
    if not isinstance(value, dict):
        return None, f"JSON {type(value).__name__}, not an object"
    return value, None


def _bundle_problem(body: dict[str, Any]) -> str | None:
    if body.get("resourceType") != "Bundle":
        return f"resourceType {body.get('resourceType')!r}, not 'Bundle'"
    if "entry" in body and not isinstance(body["entry"], list):
        return "Bundle.entry is not a list"
    if "link" in body and not isinstance(body["link"], list):
        return "Bundle.link is not a list"
    return None


def _cs_problem(body: dict[str, Any]) -> str | None:
    kind = body.get("resourceType")
    return None if kind == "CapabilityStatement" else f"resourceType {kind!r}"


def _next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None
