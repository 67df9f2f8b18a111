"""Search on ``MongoStore``: prefiltered candidates, exact matching, keyset pages.

MongoDB is asked for a necessary condition (``query.py``) in ``_sort`` order, and each
candidate is kept when the exact predicates hold (``search.match``). Pages are keyset
pages: after the position of the last result, and, with a watermark (``as_of``), exact
across concurrent writes: a match written after the watermark is placed where its version
current at the watermark stood.
"""

from __future__ import annotations

from dataclasses import replace

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from fhircare.search.match import matches
from fhircare.search.predicates import Predicate
from fhircare.search.request import SortKey
from fhircare.search.sort_values import (
    ASC,
    DESC,
    HAS,
    RESOURCE_FIELDS,
    SortValue,
    compare,
    field_name,
    sort_key,
    values_of,
)
from fhircare.storage.mongo.documents import Document, resource_key, to_stored
from fhircare.storage.mongo.query import prefilter
from fhircare.storage.mongo.sequence import WriteSequence
from fhircare.storage.protocol import Position, SearchPage, SearchQuery, StoredVersion


class MongoSearch:
    """``MongoStore``'s searches, over the collections ``MongoStore`` opens."""

    _current: AsyncCollection[Document]
    _history: AsyncCollection[Document]
    _sequence: WriteSequence
    _per_entry: bool
    """``$elemMatch`` prefilters (``query.py``): on MongoDB, not on FerretDB."""

    def _search_filter(self, query: SearchQuery) -> Document:
        return search_filter(query, self._per_entry)

    def _exact(self, query: SearchQuery, document: Document) -> bool:
        fields = {
            "rid": document["rid"],
            "lastUpdated": document["lastUpdated"],
            "type": document["type"],
        }
        entries = document.get("idx") or ()
        return all(matches(p, entries, fields) for p in query.predicates)

    async def _matching(
        self, query: SearchQuery, criteria: Document, limit: int | None
    ) -> list[tuple[Document, Position]]:
        """Candidates in ``query.sort`` order after ``query.after``, kept when the exact
        predicates hold (see query.py). Keyset pages: sorted on the sort fields and ``_id``,
        each batch starts after the position of the previous batch's last candidate."""
        order = sort_fields(query.sort)
        # Every batch is a scan on FerretDB, so a count reads all candidates at once and a
        # page doubles its batch while the exact predicates keep rejecting candidates.
        batch = 0 if limit is None else max(100, 2 * limit)
        after = query.after
        found: list[tuple[Document, Position]] = []
        while limit is None or len(found) < limit:
            page_filter = (
                criteria if after is None else {"$and": [criteria, keyset(query.sort, after)]}
            )
            cursor = self._current.find(page_filter).sort(order).limit(batch)
            candidates = await cursor.to_list()
            for document in candidates:
                if self._exact(query, document):
                    found.append((document, self._position(query, document)))
            if not batch or len(candidates) < batch:
                break
            after = self._position(query, candidates[-1])
            batch *= 2
        return found if limit is None else found[:limit]

    @staticmethod
    def _position(query: SearchQuery, document: Document) -> Position:
        fields = {"rid": document["rid"], "lastUpdated": document["lastUpdated"]}
        values = values_of(query.sort, document.get("sk"), fields)
        return Position(values, resource_key(document["type"], document["rid"]))

    async def _watermark(self) -> int:
        """The highest write sequence number reserved so far (every landed write is at or
        below it)."""
        return await self._sequence.highest()

    async def _moved(
        self, query: SearchQuery, criteria: Document, as_of: int
    ) -> list[tuple[Document, Position]]:
        """Matches written after ``as_of``, each placed where its version current at
        ``as_of`` stood (from history); those created after ``as_of`` are left out."""
        documents = await self._current.find({**criteria, "seq": {"$gt": as_of}}).to_list()
        documents = [d for d in documents if self._exact(query, d)]
        if not documents:
            return []
        then: dict[str, Document] = {}
        rids = sorted({d["rid"] for d in documents})
        earlier = self._history.find({"rid": {"$in": rids}, "seq": {"$lte": as_of}})
        for version in await earlier.to_list():
            key = resource_key(version["type"], version["rid"])
            if key not in then or version["seq"] > then[key]["seq"]:
                then[key] = version
        placed = []
        for document in documents:
            stood = then.get(document["_id"])
            if stood is None or stood["json"] is None:
                continue  # created, or recreated, after the walk began
            position = self._position(query, stood)
            if query.after is None or compare(query.sort, _pair(position), _pair(query.after)) > 0:
                placed.append((document, position))
        return placed

    async def search(self, query: SearchQuery) -> list[StoredVersion]:
        if query.as_of is not None:
            return (await self.search_page(query)).versions
        # no walk to keep exact: current positions, without the watermark's two queries
        found = await self._matching(query, self._search_filter(query), query.count)
        return [to_stored(d) for d, _ in found]

    async def search_page(self, query: SearchQuery) -> SearchPage:
        as_of = await self._watermark() if query.as_of is None else query.as_of
        criteria = self._search_filter(query)
        stable = {**criteria, "seq": {"$lte": as_of}}
        found = await self._matching(query, stable, query.count)
        found += await self._moved(query, criteria, as_of)
        found.sort(key=lambda f: sort_key(query.sort)(_pair(f[1])))
        found = found[: query.count]
        return SearchPage([to_stored(d) for d, _ in found], [p for _, p in found], as_of)

    async def count(self, query: SearchQuery) -> int:
        criteria = self._search_filter(query)
        return len(await self._matching(replace(query, after=None), criteria, None))

    def joinable(self, predicate: Predicate) -> bool:
        return False  # FerretDB has no $lookup: chains are resolved first


def search_filter(query: SearchQuery, per_entry: bool) -> Document:
    """The server-side filter of ``query``: live documents of its type passing every
    predicate's prefilter (``query.py``)."""
    criteria = live_filter(query.resource_type)
    narrowing = [f for f in (prefilter(p, per_entry) for p in query.predicates) if f]
    if narrowing:
        criteria["$and"] = narrowing
    return criteria


def live_filter(resource_type: str | None) -> Document:
    """The current documents of ``resource_type`` (every type when None) not deleted."""
    criteria: Document = {"deleted": False}
    if resource_type is not None:
        criteria["type"] = resource_type
    return criteria


def _pair(position: Position) -> tuple[tuple[SortValue, ...], str]:
    return position.values, position.key


def sort_fields(sort: tuple[SortKey, ...]) -> list[tuple[str, int]]:
    """The MongoDB sort of ``sort`` then ``_id``: missing values last in both directions
    (the ``sk.h`` flag, descending, goes before an ascending value)."""
    order: list[tuple[str, int]] = []
    for key in sort:
        if key.code in RESOURCE_FIELDS:
            order.append((RESOURCE_FIELDS[key.code], DESCENDING if key.descending else ASCENDING))
        elif key.descending:
            order.append((f"sk.{DESC}.{field_name(key.code)}", DESCENDING))
        else:
            order.append((f"sk.{HAS}.{field_name(key.code)}", DESCENDING))
            order.append((f"sk.{ASC}.{field_name(key.code)}", ASCENDING))
    order.append(("_id", ASCENDING))
    return order


def keyset(sort: tuple[SortKey, ...], after: Position) -> Document:
    """Documents strictly after ``after`` in ``sort_fields`` order: an ``$or`` over each
    key of (every earlier key equal, this one after), and finally (all equal, ``_id``
    greater). A missing value is after every value and equal only to another missing."""
    terms: list[Document] = []
    equal: list[Document] = []
    for key, value in zip(sort, after.values, strict=True):
        if key.code in RESOURCE_FIELDS:
            name = RESOURCE_FIELDS[key.code]
        else:
            name = f"sk.{DESC if key.descending else ASC}.{field_name(key.code)}"
        if value is None:
            equal.append({name: {"$exists": False}})
            continue
        beyond: Document = {name: {"$lt" if key.descending else "$gt": value}}
        if key.code not in RESOURCE_FIELDS:
            beyond = {"$or": [beyond, {name: {"$exists": False}}]}
        terms.append({"$and": [*equal, beyond]} if equal else beyond)
        equal.append({name: value})
    last: Document = {"_id": {"$gt": after.key}}
    terms.append({"$and": [*equal, last]} if equal else last)
    return terms[0] if len(terms) == 1 else {"$or": terms}
