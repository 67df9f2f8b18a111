"""The bench's ``$everything`` operations on a real store: the raw pymongo reads
(``bench/everything_ops.raw_operation``) find what the server returns over HTTP
(``http_operation``), page for page, on the bench's own population."""

from __future__ import annotations

import asyncio

import httpx
from bench import search_data
from bench.everything_ops import http_operation, raw_operation
from bench.population import population
from bench.search_queries import Seen
from pymongo import AsyncMongoClient

from fhircare.app import create_app
from fhircare.settings import Settings
from fhircare.storage.mongo.store import connect

BASE = "http://test/fhir"


async def test_raw_reads_find_what_the_server_returns(mongo_uri: str, database_name: str) -> None:
    pop = population(60, seed=5)  # 2 patients with about 25 records each
    await asyncio.to_thread(search_data.load, mongo_uri, database_name, pop, BASE, lambda _: None)
    patients = pop.patients
    store = connect(mongo_uri, database_name)
    raw_client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        app = create_app(Settings(), store)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
                server, raw = Seen(), Seen()
                for n in range(len(patients)):
                    assert await http_operation(http, patients, server, count=10)(n) is None
                    db = raw_client[database_name]
                    assert await raw_operation(db, patients, raw, count=10)(n) is None
        assert server.page == raw.page == server.total == raw.total > 20
        assert server.included == raw.included > 0
    finally:
        await raw_client.close()
        await store.drop()
        await store.close()
