"""The statements the SQLite store runs for a read-only request, recorded in-process.

An app of our own over the same database file (SQLite lets any number of processes share
it) serves the request once with statement tracing on; what it ran, parameters inlined,
is what the raw side replays. Only queries are kept: transaction control and pragmas are
the raw side's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from fhircare.app import create_app
from fhircare.settings import Settings
from fhircare.storage.sqlite.store import SqliteStore


class Recorder:
    """``statements(url)``: the queries the store ran to answer ``GET url``."""

    def __init__(self, store: SqliteStore, http: httpx.AsyncClient) -> None:
        self._store = store
        self._http = http

    async def statements(self, url: str, follow_next: bool = False) -> list[str]:
        seen: list[str] = []
        self._store.database.trace(seen.append)
        try:
            while url:
                answer = await self._http.get(url)
                if answer.status_code != 200:
                    raise RuntimeError(f"GET {url}: {answer.status_code} {answer.text[:300]}")
                url = _next(answer) if follow_next else ""
        finally:
            self._store.database.trace(None)
        return [s for s in seen if s.lstrip().upper().startswith("SELECT")]


def _next(answer: httpx.Response) -> str:
    for link in answer.json().get("link", []):
        if link.get("relation") == "next":
            parts = urlsplit(link["url"])
            return f"{parts.path.removeprefix('/fhir')}?{parts.query}"
    return ""


@asynccontextmanager
async def recorder(path: Path) -> AsyncIterator[Recorder]:
    store = SqliteStore(path)
    await store.open()
    app = create_app(Settings(), store)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench/fhir") as http:
                yield Recorder(store, http)
    finally:
        await store.close()
