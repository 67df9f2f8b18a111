"""The baseline: the same create and read done straight to the store with pymongo's async client.

A create is ``insert_one`` of ``{"_id": <new id>, "json": <the same JSON string>}``; a read is
``find_one({"_id": ...})`` of those. A transaction is one ``insert_many`` of its
documents; a conditional create a ``find_one`` on the condition and an ``insert_one``.
fhircare keeps resources as JSON strings too, so this is the least any server on this
store can do per call.
"""

from __future__ import annotations

import uuid
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from bench.http_load import BODY, conditional_patient
from bench.runner import Operation

COLLECTION = "observations"
CONDITIONAL_COLLECTION = "patients"


def client(uri: str, connections: int) -> AsyncMongoClient[dict[str, Any]]:
    """One pooled client whose pool is at least as large as the highest concurrency."""
    return AsyncMongoClient(uri, maxPoolSize=max(connections, 100))


def create_operation(collection: AsyncCollection[dict[str, Any]], ids: list[str]) -> Operation:
    """``insert_one`` of the Observation JSON with a fresh ``_id``, appended to ``ids``."""

    async def create(_: int) -> str | None:
        new_id = uuid.uuid4().hex
        await collection.insert_one({"_id": new_id, "json": BODY})
        ids.append(new_id)
        return None

    return create


def read_operation(collection: AsyncCollection[dict[str, Any]], ids: list[str]) -> Operation:
    """``find_one`` by ``_id`` of ``ids`` in turn; a missing document is an error."""

    async def read(index: int) -> str | None:
        key = ids[index % len(ids)]
        document = await collection.find_one({"_id": key})
        return None if document is not None else f"find_one found no document {key}"

    return read


def transaction_operation(collection: AsyncCollection[dict[str, Any]], entries: int) -> Operation:
    """``insert_many`` of ``entries`` documents: what a transaction of creates writes."""

    async def insert(_: int) -> str | None:
        documents = [{"_id": uuid.uuid4().hex, "json": BODY} for _ in range(entries)]
        result = await collection.insert_many(documents)
        return None if len(result.inserted_ids) == entries else "insert_many fell short"

    return insert


def conditional_create_operation(
    collection: AsyncCollection[dict[str, Any]], run: str
) -> Operation:
    """``find_one`` on the identifier, then ``insert_one`` when it found nothing."""

    async def create(index: int) -> str | None:
        body, condition = conditional_patient(run, index)
        if await collection.find_one({"ident": condition}) is not None:
            return f"raw: {condition} exists already"
        await collection.insert_one({"_id": uuid.uuid4().hex, "ident": condition, "json": body})
        return None

    return create


def update_operation(collection: AsyncCollection[dict[str, Any]], ids: list[str]) -> Operation:
    """``replace_one`` by ``_id`` of ``ids`` in turn with the JSON string of a changed value."""

    async def update(index: int) -> str | None:
        key = ids[index % len(ids)]
        body = BODY.replace('"value":8.1', f'"value":{5 + index % 50}')
        result = await collection.replace_one({"_id": key}, {"json": body})
        return None if result.matched_count else f"replace_one found no document {key}"

    return update
