"""Shared fixtures: every store (SQLite in a temporary folder; a real FerretDB, or
``MONGODB_URI``, once per session), and clients."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from fhircare.settings import Settings
from fhircare.storage.memory import MemoryStore
from fhircare.storage.mongo.ferretdb import FerretDB, free_port
from fhircare.storage.mongo.store import MongoStore, connect
from fhircare.storage.protocol import ResourceStore
from fhircare.storage.sqlite.store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """``MONGODB_URI`` when set; otherwise a FerretDB of our own on a free port."""
    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"]
        return
    with tempfile.TemporaryDirectory(prefix="fhircare-ferretdb-") as data:
        server = FerretDB(ROOT / "var", Path(data), free_port()).start()
        try:
            yield server.uri
        finally:
            server.stop()


@pytest.fixture
def database_name() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


async def _open_mongo(uri: str, name: str) -> MongoStore:
    store = connect(uri, name)
    await store.open()
    return store


@pytest.fixture
async def mongo_store(mongo_uri: str, database_name: str) -> AsyncIterator[MongoStore]:
    store = await _open_mongo(mongo_uri, database_name)
    try:
        yield store
    finally:
        await store.drop()
        await store.close()


STORES = ["memory", "sqlite", "mongo"]
"""Every store implementation, by the name ``open_store`` takes."""


async def open_store(
    kind: str, request: pytest.FixtureRequest, database_name: str
) -> AsyncIterator[ResourceStore]:
    """The store named ``kind`` (one of ``STORES``) for one test, dropped after it."""
    if kind == "memory":
        yield MemoryStore()
        return
    if kind == "sqlite":
        folder = request.getfixturevalue("tmp_path")
        sqlite = SqliteStore(folder / f"{database_name}.sqlite3")
        await sqlite.open()
        try:
            yield sqlite
        finally:
            await sqlite.close()
        return
    mongo = await _open_mongo(request.getfixturevalue("mongo_uri"), database_name)
    try:
        yield mongo
    finally:
        await mongo.drop()
        await mongo.close()


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, database_name: str) -> AsyncIterator[ResourceStore]:
    """Every store, so one contract suite runs against each."""
    async for one in open_store(request.param, request, database_name):
        yield one


@pytest.fixture
def settings() -> Settings:
    return Settings(max_body_bytes=64 * 1024, max_count=50)


@pytest.fixture
async def client(store: ResourceStore, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process, on each store."""
    from fhircare.app import create_app

    app = create_app(settings, store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
            yield http
