"""``Patient/$everything`` for the bench: over HTTP, every page, and beside it the raw pymongo
reads the store makes for it, built with fhircare's own code.

HTTP: ``GET Patient/{id}/$everything`` (``_count`` as given, else the server's default),
then each ``next`` link until there is none; the patients of ``patient_ids`` in turn (the
population's, ``bench/population.py``: each has Tasks, CarePlans, Observations and Goals
referring to it, and Practitioners those refer to).

Raw, on the same ``resources`` collection: ``find_one`` of the patient by ``_id``; then the
compartment page by page, ``find(filter).sort("_id").limit(count)`` after the last ``_id``
of the page before, where ``filter`` is the one the store sends
(``care.compartment.compartment_query`` rendered by ``storage.mongo.search.search_filter``,
one query over every compartment type); and per page a ``find_one`` by ``_id`` of each
supporting resource its documents refer to (``care.compartment.supporting_keys``), all at
once, as the server reads them. Like the search section's raw side it leaves out what the
store adds around those reads: its watermark and exact predicate, the count for
``total``, the Bundle. ``per_entry`` chooses ``$elemMatch`` prefilters as the store
does on MongoDB (False: the dotted ones it sends to FerretDB, as ``search_queries.py``).

Both sides count what they return in a ``Seen`` (``search_queries.py``): ``page`` the match
entries of every page, ``included`` the include entries, ``total`` the first page's
``Bundle.total`` over HTTP and the matches walked raw.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from bench.runner import Operation
from bench.search_data import CURRENT
from bench.search_queries import Seen, bundle_counts
from fhircare.care.compartment import Scope, compartment_query, supporting_keys
from fhircare.search.registry import SearchParamRegistry, default_registry
from fhircare.storage.mongo.documents import resource_key
from fhircare.storage.mongo.search import search_filter

Document = dict[str, Any]
PAGE = 20
"""The raw side's page size when none is given: the server's default ``_count``."""
_READ = {"idx": 0, "sk": 0}
"""The projection of ``MongoStore.read``."""
MAX_PAGES = 10_000
"""A walk longer than this is reported as an error rather than followed for ever."""


def everything_url(patient_id: str) -> str:
    return f"/Patient/{patient_id}/$everything"


def next_url(bundle: Document) -> str | None:
    """The ``next`` link of a Bundle, or None on the last page."""
    for link in bundle.get("link") or ():
        if link.get("relation") == "next":
            return str(link["url"])
    return None


def http_operation(
    http: httpx.AsyncClient,
    patient_ids: list[str],
    seen: Seen | None = None,
    count: int | None = None,
) -> Operation:
    """``$everything`` of ``patient_ids[i]`` following every page; 200s throughout are success."""
    if not patient_ids:
        raise ValueError("no patients to ask for")
    params = {"_count": str(count)} if count else None

    async def call(index: int) -> str | None:
        patient_id = patient_ids[index % len(patient_ids)]
        response = await http.get(everything_url(patient_id), params=params)
        for page in range(MAX_PAGES):
            if response.status_code != 200:
                return f"GET {response.url}: {response.status_code} {response.text[:300]}"
            bundle = response.json()
            if bundle.get("type") != "searchset":
                return f"GET {response.url}: not a searchset Bundle"
            if seen is not None:
                matches, included, total = bundle_counts(bundle)
                seen.page += matches
                seen.included += included
                seen.total += (total or 0) if page == 0 else 0
            following = next_url(bundle)
            if following is None:
                return None
            response = await http.get(following)
        return f"{everything_url(patient_id)}: more than {MAX_PAGES} pages"

    return call


def compartment_filter(
    patient_id: str, per_entry: bool = False, registry: SearchParamRegistry | None = None
) -> Document:
    """The store's filter for the compartment of ``Patient/{patient_id}`` (the patient
    itself not included: it is read by ``_id`` and shown first)."""
    query = compartment_query(registry or default_registry(), Scope(patient_id), PAGE)
    if query is None:
        raise ValueError("the registry has no Patient compartment")
    return search_filter(query, per_entry)


def supporting_ids(
    documents: list[Document], registry: SearchParamRegistry | None = None
) -> list[str]:
    """The ``_id`` of each supporting resource ``documents`` refer to, once, sorted."""
    resources = [json.loads(d["json"]) for d in documents if d.get("json")]
    keys = supporting_keys(registry or default_registry(), resources, None)
    return [resource_key(kind, id) for kind, id in keys]


def raw_operation(
    db_or_collection: AsyncDatabase[Document] | AsyncCollection[Document],
    patient_ids: list[str],
    seen: Seen | None = None,
    count: int = PAGE,
    per_entry: bool = False,
) -> Operation:
    """The reads ``$everything`` of ``patient_ids[i]`` makes, every page, straight to the store."""
    if not patient_ids:
        raise ValueError("no patients to ask for")
    if count < 2:
        raise ValueError("a raw page needs room for the patient and one more")
    collection = (
        db_or_collection[CURRENT]
        if isinstance(db_or_collection, AsyncDatabase)
        else db_or_collection
    )
    registry = default_registry()
    filters = {p: compartment_filter(p, per_entry, registry) for p in dict.fromkeys(patient_ids)}

    async def call(index: int) -> str | None:
        patient_id = patient_ids[index % len(patient_ids)]
        patient = await collection.find_one({"_id": resource_key("Patient", patient_id)})
        if patient is None or patient.get("deleted"):
            return f"find_one found no Patient/{patient_id}"
        shown, limit, after = [patient], count - 1, None
        for _ in range(MAX_PAGES):
            criteria = filters[patient_id]
            if after is not None:
                criteria = {"$and": [criteria, {"_id": {"$gt": after}}]}
            page = await collection.find(criteria).sort("_id", 1).limit(limit).to_list()
            shown += page
            keys = supporting_ids(shown, registry)
            reads = (collection.find_one({"_id": key}, _READ) for key in keys)
            found = [d for d in await asyncio.gather(*reads) if d and not d.get("deleted")]
            if seen is not None:
                seen.page += len(shown)
                seen.total += len(shown)
                seen.included += len(found)
            if len(page) < limit:
                return None
            shown, limit, after = [], count, page[-1]["_id"]
        return f"Patient/{patient_id}: more than {MAX_PAGES} pages"

    return call
