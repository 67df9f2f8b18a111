"""The server finishes writes a crashed process left behind, without waiting for a writer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from fhircare.app import create_app
from fhircare.settings import Settings
from fhircare.storage.mongo.documents import version_document
from fhircare.storage.mongo.store import MongoStore
from fhircare.storage.protocol import Write

T0 = datetime(2026, 11, 1, tzinfo=UTC)


async def test_a_stale_journal_entry_is_finished_by_the_running_server(
    mongo_store: MongoStore,
) -> None:
    app = create_app(Settings(recovery_seconds=0.05), mongo_store)
    async with app.router.lifespan_context(app):
        body = b'{"resourceType":"Patient","id":"left"}'
        write = Write("Patient", "left", 1, T0, "POST", body)
        entry = version_document(write, await mongo_store._next_seq())
        await mongo_store._journal.insert_one({**entry, "reservedAt": T0})  # a dead writer's
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
            assert (await http.get("/Patient/left")).status_code == 404
            for _ in range(100):
                await asyncio.sleep(0.05)
                if (await http.get("/Patient/left")).status_code == 200:
                    break
            response = await http.get("/Patient/left")
    assert response.status_code == 200
    assert await mongo_store._journal.count_documents({}) == 0
