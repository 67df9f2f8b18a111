"""The search section's queries: each over HTTP, and beside it the raw pymongo query it
compiles to, built with the project's own compiler.

A plain clause becomes ``search.predicates.predicate(clause)`` and that becomes a MongoDB
filter with ``storage.mongo.query.prefilter``, on ``{"deleted": False, "type": T}`` as the
store adds; the raw side runs ``find(filter).sort("_id").limit(count)`` on the same
``resources`` collection (no ``_sort`` is used, so the store's order is ``_id`` too). A
chain is done as its two raw steps (the Patients whose name matches, then the Tasks whose
``patient`` is one of them); ``_include`` as the page then one ``$in`` on the included keys;
page 2 as the keyset continuation (``_id`` after the last of page 1).

The raw side is what the store must at least ask: it leaves out the exact predicate the
store applies in Python, the ``total`` count and the Bundle. Matches are compared by count:
``bundle.total`` over HTTP against ``count_documents`` of the raw filter (untimed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

import httpx
from pymongo.asynchronous.collection import AsyncCollection

from bench.population import Population
from bench.runner import Operation
from fhircare.search.limits import SearchLimits
from fhircare.search.parse import parse
from fhircare.search.predicates import Cond, Entry, predicate
from fhircare.search.registry import default_registry
from fhircare.storage.mongo.query import prefilter

Document = dict[str, Any]
Pairs = list[tuple[str, str]]


@dataclass
class Compiled:
    """The raw side of one query: the filter (or, for a chain, the first step's filter and
    how to build the second from its keys), the type and the page size."""

    resource_type: str
    filter: Document
    count: int
    chain_step: Document | None = None
    """For a chain: the filter of the inner search (on the target type)."""
    chain_code: str | None = None
    chain_type: str | None = None
    include_code: str | None = None


@dataclass
class Query:
    """One row of the search table: a name and its ``reps`` parameter sets."""

    name: str
    resource_type: str
    params: list[Pairs]
    chained: bool = False
    include: bool = False
    page2: bool = False
    exact: bool = True
    """Whether the prefilter is the whole condition (so raw and server counts must agree);
    a date range's ``lo``/``hi`` conditions may hold on different index entries (such as
    ``_lastUpdated``'s), so its raw count is a superset."""
    compiled: list[Compiled] = field(default_factory=list)

    def url(self, rep: int) -> str:
        return f"{self.resource_type}?{urlencode(self.params[rep])}"


def queries(pop: Population, reps: int, seed: int = 1) -> list[Query]:
    """The care-manager queries, each with ``reps`` different patients/owners/plans."""
    patients = [f"Patient/{p}" for p in pop.pick("patients", reps, seed)]
    owners = [f"Practitioner/{p}" for p in pop.pick("practitioners", reps, seed)]
    plans = [f"CarePlan/{c}" for c in pop.pick("careplans", reps, seed)]
    families = pop.pick("families", reps, seed)
    codes = pop.pick("observation_codes", reps, seed)
    months = [1 + (seed + i) % 11 for i in range(reps)]
    return [
        Query(
            "Task patient+status",
            "Task",
            [[("patient", p), ("status", "requested")] for p in patients],
        ),
        Query(
            "Observation category+patient",
            "Observation",
            [[("category", "vital-signs"), ("patient", p)] for p in patients],
        ),
        Query(
            "Observation date month+code",
            "Observation",
            [
                [
                    ("date", f"ge2026-{m:02d}-01"),
                    ("date", f"lt2026-{m + 1:02d}-01"),
                    ("code", f"http://loinc.org|{c}"),
                ]
                for m, c in zip(months, codes, strict=True)
            ],
            exact=False,
        ),
        Query("Task owner", "Task", [[("owner", o)] for o in owners]),
        Query("Task focus", "Task", [[("focus", c)] for c in plans]),
        Query(
            "Task patient.name (chain)",
            "Task",
            [[("patient.name", f)] for f in families],
            chained=True,
            exact=False,
        ),
        Query(
            "CarePlan patient+_include",
            "CarePlan",
            [[("patient", p), ("_include", "CarePlan:subject")] for p in patients],
            include=True,
        ),
        Query(
            "Task owner _count=50 page 2",
            "Task",
            [[("owner", o), ("_count", "50")] for o in owners],
            page2=True,
        ),
    ]


def compile_query(resource_type: str, pairs: Pairs, default_count: int = 20) -> Compiled:
    """The raw filter of ``pairs`` with the project's parser, predicates and prefilter."""
    registry = default_registry()
    parsed = parse(resource_type, pairs, registry.lookup, SearchLimits())
    narrowing: list[Document] = []
    compiled = Compiled(resource_type, {}, parsed.count or default_count)
    for clause in parsed.clauses:
        if clause.chain:
            if len(clause.chain) != 1:
                raise ValueError("the bench compiles one-hop chains only")
            hop = clause.chain[0]
            param = registry.get(resource_type, hop.code)
            if param is None:
                raise ValueError(f"{resource_type} has no search parameter {hop.code}")
            targets = [hop.target_type] if hop.target_type else list(param.targets)
            if len(targets) != 1:
                raise ValueError(f"{hop.code} may point at {targets}; name one")
            inner = predicate(replace(clause, chain=()))
            compiled.chain_step = _filter(targets[0], [prefilter(inner)])
            compiled.chain_code, compiled.chain_type = hop.code, targets[0]
        else:
            narrowing.append(prefilter(predicate(clause)))
    for include in parsed.includes:
        compiled.include_code = include.code
    compiled.filter = _filter(resource_type, narrowing)
    return compiled


def _filter(resource_type: str, narrowing: list[Document]) -> Document:
    criteria: Document = {"deleted": False, "type": resource_type}
    narrowing = [f for f in narrowing if f]
    if narrowing:
        criteria["$and"] = narrowing
    return criteria


def chain_filter(compiled: Compiled, keys: list[str]) -> Document:
    """The second raw step of a chain: ``chain_code`` names one of ``keys``."""
    assert compiled.chain_code is not None
    step = Entry(compiled.chain_code, (Cond("r", "in", tuple(keys)),))
    base = dict(compiled.filter)
    return {**base, "$and": [*base.get("$and", []), prefilter(step)]}


def shown(compiled: Compiled) -> str:
    """The raw query as one line of pymongo."""

    def text(document: Document) -> str:
        return json.dumps(document, separators=(",", ":"), default=str)

    if compiled.chain_step is not None:
        return (
            f"resources.find({text(compiled.chain_step)},{{'_id':1}}) -> keys; "
            f"resources.find({text(chain_filter(compiled, ['<keys>']))})"
            f".sort('_id').limit({compiled.count})"
        )
    line = f"resources.find({text(compiled.filter)}).sort('_id').limit({compiled.count})"
    if compiled.include_code:
        line += f"; resources.find({{'_id':{{'$in':<{compiled.include_code} refs>}}}})"
    return line


# --- HTTP side ---------------------------------------------------------------


@dataclass
class Seen:
    """What each side returned, summed over the repetitions."""

    page: int = 0
    included: int = 0
    total: int = 0


def bundle_counts(bundle: Document) -> tuple[int, int, int | None]:
    """(match entries, include entries, total) of a searchset Bundle."""
    modes = [(e.get("search") or {}).get("mode") for e in bundle.get("entry") or []]
    return modes.count("match"), modes.count("include"), bundle.get("total")


def http_operation(
    http: httpx.AsyncClient, query: Query, seen: Seen, next_links: list[str] | None = None
) -> Operation:
    """GET the query (``next_links[rep]`` for a page-2 walk); 200 is success."""

    async def call(index: int) -> str | None:
        rep = index % len(query.params)
        if next_links is not None:
            response = await http.get(next_links[rep])
        else:
            response = await http.get(f"/{query.resource_type}", params=tuple(query.params[rep]))
        if response.status_code != 200:
            return f"GET {response.url}: {response.status_code} {response.text[:300]}"
        page, included, total = bundle_counts(response.json())
        seen.page += page
        seen.included += included
        seen.total += total or 0
        return None

    return call


async def next_link(http: httpx.AsyncClient, query: Query, rep: int) -> str:
    response = await http.get(f"/{query.resource_type}", params=tuple(query.params[rep]))
    response.raise_for_status()
    links = {link["relation"]: link["url"] for link in response.json().get("link", [])}
    if "next" not in links:
        raise RuntimeError(f"{query.url(rep)} has no page 2")
    return str(links["next"])


# --- raw side ----------------------------------------------------------------


async def _keys(collection: AsyncCollection[Document], criteria: Document) -> list[str]:
    return [d["_id"] for d in await collection.find(criteria, {"_id": 1}).to_list()]


def raw_operation(
    collection: AsyncCollection[Document],
    query: Query,
    seen: Seen,
    after: list[str] | None = None,
) -> Operation:
    """The compiled raw query of each repetition (``after[rep]``: the page-2 keyset)."""

    async def call(index: int) -> str | None:
        rep = index % len(query.compiled)
        compiled = query.compiled[rep]
        criteria = compiled.filter
        if compiled.chain_step is not None:
            criteria = chain_filter(compiled, await _keys(collection, compiled.chain_step))
        if after is not None:
            criteria = {"$and": [criteria, {"_id": {"$gt": after[rep]}}]}
        cursor = collection.find(criteria).sort("_id", 1).limit(compiled.count)
        documents = await cursor.to_list()
        seen.page += len(documents)
        if compiled.include_code:
            refs = sorted(_references(documents, compiled.include_code))
            if refs:
                # awaited first: `seen.included += len(await …)` reads the counter before
                # the await and loses the other calls' additions at concurrency > 1
                included = await _keys(collection, {"_id": {"$in": refs}})
                seen.included += len(included)
        return None

    return call


def _references(documents: list[Document], code: str) -> set[str]:
    return {
        str(e["r"])
        for d in documents
        for e in d.get("idx") or ()
        if e.get("p") == code and str(e.get("r", "")).count("/") == 1
    }


async def raw_total(collection: AsyncCollection[Document], compiled: Compiled) -> int:
    """``count_documents`` of the raw filter (the second step's, for a chain)."""
    criteria = compiled.filter
    if compiled.chain_step is not None:
        criteria = chain_filter(compiled, await _keys(collection, compiled.chain_step))
    return await collection.count_documents(criteria)


async def page1_last(collection: AsyncCollection[Document], compiled: Compiled) -> str:
    """The ``_id`` of the last match on page 1 (where the raw page 2 starts)."""
    cursor = collection.find(compiled.filter, {"_id": 1}).sort("_id", 1).limit(compiled.count)
    documents = await cursor.to_list()
    return str(documents[-1]["_id"])
