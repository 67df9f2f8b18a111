"""Load the bench population straight into fhircare's database, in its exact stored form.

This bypasses the HTTP write path on purpose: 100k creates over HTTP would take longer than
the whole bench should, and the write path is measured on its own in the ``create`` rows.
What lands is what a create would have written: each resource goes through the write path's
own functions (``resource_body.stored_form`` for ``id`` and ``meta``, the project's
``Indexer`` for the index entries, ``Write`` for the sort values, and
``storage.mongo.documents`` for the current document and the history document), with write
sequence numbers above every one already reserved, each reserved in ``sequence`` as a
commit would. A sample is checked by the real validator (``resource_body.check_resource``)
before anything is written.

At each size of a run the store is brought to that size by loading only what is missing
(``layer_size``) as one more layer of the population (``population(n, seed, layer=k)``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo import MongoClient
from pymongo.collection import Collection

from bench.population import Population, Resource, batches
from fhircare.fhir import jsonio
from fhircare.fhir.ids import now
from fhircare.interactions.request import Limits
from fhircare.interactions.resource_body import check_resource, stored_form
from fhircare.search.indexer import Indexer
from fhircare.search.registry import default_registry
from fhircare.storage.mongo.documents import (
    current_fields,
    history_document,
    resource_key,
    version_document,
)
from fhircare.storage.mongo.sequence import FLOOR, highest, run_probe_sync
from fhircare.storage.mongo.sequence import key as sequence_key
from fhircare.storage.protocol import Write

BATCH = 1000
CURRENT, HISTORY, SEQUENCE = "resources", "history", "sequence"


@dataclass(frozen=True)
class LoadReport:
    resources: int
    validated: int
    index_seconds: float
    insert_seconds: float
    wall_seconds: float
    first_seq: int
    last_seq: int


def validation_sample(resources: list[Resource], every: int = 500) -> list[Resource]:
    """The first two of each type and every ``every``-th resource."""
    seen: dict[str, int] = {}
    sample = []
    for n, resource in enumerate(resources):
        kind = resource["resourceType"]
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= 2 or n % every == 0:
            sample.append(resource)
    return sample


def validate(resources: list[Resource]) -> int:
    """Run ``resources`` through the validator the HTTP write path uses; raise on the first
    invalid one. The resource goes through JSON text first, as a request body would."""
    limits = Limits()
    for resource in resources:
        parsed = jsonio.loads(jsonio.dumps(resource))
        check_resource(parsed, resource["resourceType"], limits)
    return len(resources)


def documents(
    resource: Resource, seq: int, indexer: Indexer
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(current document, history document) of ``resource`` as version 1 with ``seq``,
    built as ``resource_body.new_version`` and ``MongoStore.commit`` build them."""
    kind, rid = resource["resourceType"], resource["id"]
    body = {k: v for k, v in resource.items() if k != "id"}
    moment = now()
    stored = stored_form(body, rid, 1, moment)
    entries = indexer.entries(stored)
    write = Write(kind, rid, 1, moment, "POST", jsonio.dumps(stored), tuple(entries))
    version = version_document(write, seq)
    current = {"_id": resource_key(kind, rid), **current_fields(version)}
    return current, history_document(version)


def load(
    uri: str,
    database: str,
    population: Population,
    base_url: str | None,
    progress: Callable[[str], None],
) -> LoadReport:
    """Validate a sample, then insert every resource (current + history + sequence)."""
    started = time.perf_counter()
    validated = validate(validation_sample(population.resources))
    progress(f"search data: {validated} sampled resources pass the validator")
    indexer = Indexer(default_registry(), base_url)
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    index_seconds = insert_seconds = 0.0
    total = len(population.resources)
    try:
        db = client[database]
        first = highest_reserved(db[SEQUENCE]) + 1
        seq = first
        done = 0
        for batch in batches(population.resources, BATCH):
            t0 = time.perf_counter()
            currents, histories, sequence = [], [], []
            for resource in batch:
                current, history = documents(resource, seq, indexer)
                currents.append(current)
                histories.append(history)
                sequence.append({"_id": sequence_key(seq)})
                seq += 1
            t1 = time.perf_counter()
            db[SEQUENCE].insert_many(sequence, ordered=False)
            db[CURRENT].insert_many(currents, ordered=False)
            db[HISTORY].insert_many(histories, ordered=False)
            t2 = time.perf_counter()
            index_seconds += t1 - t0
            insert_seconds += t2 - t1
            done += len(batch)
            elapsed = time.perf_counter() - started
            progress(
                f"search data: {done:,}/{total:,} loaded ({done / elapsed:,.0f}/s; "
                f"indexing {index_seconds:.0f}s, inserting {insert_seconds:.0f}s)"
            )
    finally:
        client.close()
    return LoadReport(
        total,
        validated,
        index_seconds,
        insert_seconds,
        time.perf_counter() - started,
        first,
        seq - 1,
    )


MIN_LAYER = 20
"""The smallest population (``population.plan``): a smaller shortfall loads this many."""


def layer_size(found: int, size: int) -> int:
    """How many resources to load on top of ``found`` to reach ``size``: the difference,
    at least ``MIN_LAYER`` when anything is missing, 0 when the store holds enough."""
    missing = size - found
    return 0 if missing <= 0 else max(missing, MIN_LAYER)


def highest_reserved(collection: Collection[dict[str, Any]]) -> int:
    """The highest write sequence number taken, found as the store finds it."""
    floor = collection.find_one({"_id": FLOOR})
    start = int(floor["n"]) if floor else 0

    def taken(n: int) -> bool:
        return collection.find_one({"_id": sequence_key(n)}, {"_id": 1}) is not None

    return run_probe_sync(highest(start), taken)


def stderr_progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)
