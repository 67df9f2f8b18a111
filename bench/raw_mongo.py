"""The baseline: the same create and read done straight to the store with pymongo's async client.

A create is ``insert_one`` of ``{"_id": <new id>, "json": <the same JSON string>}``; a read is
``find_one({"_id": ...})`` of those. A transaction is one ``insert_many`` of its
documents; a conditional create a ``find_one`` on the condition and an ``insert_one``.
fhircare keeps resources as JSON strings too, so this is the least any server on this
store can do per call.

Everything raw goes to one collection (``COLLECTION`` in the run's raw database), which
``fill`` first brings to the size of fhircare's store with documents of the same shape
holding the population's resources (``equivalent``), so a raw conditional create's
``find_one`` reads as many documents as the server's search does.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.collection import AsyncCollection

from bench.http_load import BODY, conditional_patient
from bench.population import Resource
from bench.runner import Operation

COLLECTION = "resources"
BATCH = 1000


def client(uri: str, connections: int) -> AsyncMongoClient[dict[str, Any]]:
    """One pooled client whose pool is at least as large as the highest concurrency."""
    return AsyncMongoClient(uri, maxPoolSize=max(connections, 100))


def is_ferretdb(build_info: Mapping[str, Any]) -> bool:
    """Whether ``buildInfo`` came from FerretDB (it adds ``ferretdbVersion``)."""
    return "ferretdbVersion" in build_info


async def describe_store(mongo: AsyncMongoClient[dict[str, Any]]) -> tuple[bool, str]:
    """(is FerretDB, ``name version``) from ``buildInfo``."""
    info = await mongo.admin.command("buildInfo")
    if is_ferretdb(info):
        return True, f"FerretDB {info['ferretdbVersion']}"
    return False, f"MongoDB {info.get('version', '?')}"


def timed_count(uri: str, database: str, collection: str) -> tuple[int, float]:
    """(documents in ``collection``, seconds ``count_documents({})`` took): on FerretDB's
    SQLite backend a read of every document, so also the time of one whole scan."""
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    try:
        start = time.perf_counter()
        count = client[database][collection].count_documents({})
        return count, time.perf_counter() - start
    finally:
        client.close()


def equivalent(resource: Resource, suffix: str = "") -> dict[str, Any]:
    """The raw side's document of a population resource: its key and its JSON string."""
    key = f"{resource['resourceType']}/{resource['id']}{suffix}"
    return {"_id": key, "json": json.dumps(resource, separators=(",", ":"))}


def fill(
    uri: str,
    database: str,
    resources: list[Resource],
    target: int,
    progress: Callable[[str], None],
) -> int:
    """Insert documents of ``resources`` until ``COLLECTION`` holds ``target``; returns how
    many were inserted (0 when it holds that many already). ``resources`` are used in turn,
    again with a ``~n`` suffix on the key if more are needed than there are; without any,
    the documents are those of raw creates."""
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    try:
        collection = client[database][COLLECTION]
        missing = max(0, target - collection.count_documents({}))
        done = 0
        while done < missing:
            batch = []
            for n in range(done, min(done + BATCH, missing)):
                if not resources:
                    batch.append({"_id": uuid.uuid4().hex, "json": BODY})
                    continue
                rounds, index = divmod(n, len(resources))
                batch.append(equivalent(resources[index], f"~{rounds}" if rounds else ""))
            collection.insert_many(batch, ordered=False)
            done += len(batch)
        if missing:
            progress(f"raw side: {missing:,} documents inserted, {target:,} in all")
        return missing
    finally:
        client.close()


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
