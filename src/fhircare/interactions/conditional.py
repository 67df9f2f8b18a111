"""What conditional interactions share: matching a condition, and holding it while writing.

https://hl7.org/fhir/R4/http.html#ccreate, #cond-update, #cdelete. A condition is a search
query on one type (``identifier=sys|val``); it is parsed strictly (an unknown parameter
is 400, not ignored), and result parameters (``_count``, ``_sort``, ``_include`` …) mean
nothing in it.

Race safety: between "no resource matches" and "create it", another client may do the
same. A conditional writer therefore claims the condition's canonical form in the store
(``ResourceStore.claim``, an insert into a unique key on MongoDB), then searches and
writes while holding the claim; a rival waits for the claim and then finds the resource.
Two clients with *different* conditions that select the same resource are not serialised,
as in HAPI, whose unique key is the conditional URL too.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlencode

from fhircare.fhir import errors
from fhircare.interactions.request import Context, FhirRequest
from fhircare.interactions.search_chains import resolve_clauses
from fhircare.search.format import format as format_query
from fhircare.search.indexer import Indexer
from fhircare.search.parse import parse
from fhircare.search.request import SearchRequest
from fhircare.storage.protocol import SearchQuery, StoredVersion

CLAIM_WAIT_SECONDS = 30.0
"""How long a conditional writer waits for a rival's claim before answering 409."""

_NOT_CRITERIA = frozenset(("_format", "_pretty"))


def parse_condition(context: Context, resource_type: str, query: str) -> SearchRequest:
    """The condition as a search on ``resource_type``: 400 when it is empty or names a
    parameter that does not exist."""
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    parsed = parse(resource_type, pairs, context.registry.lookup, context.search_limits, True)
    if not parsed.clauses:
        raise errors.invalid(
            f"The condition '{query[:100]}' has no search parameter to match on", "url"
        )
    return parsed


def canonical(parsed: SearchRequest) -> str:
    """``Type?query`` in one spelling for every way of writing the same condition."""
    criteria = SearchRequest(parsed.resource_type, parsed.clauses)
    return f"{parsed.resource_type}?{urlencode(sorted(format_query(criteria)))}"


async def matching(
    context: Context, parsed: SearchRequest, base_url: str = "", limit: int = 2
) -> list[StoredVersion]:
    """Up to ``limit`` current resources the condition selects (two tell "several")."""
    indexer = Indexer(context.registry, base_url or None)
    predicates = await resolve_clauses(context, parsed, indexer)
    return await context.store.search(SearchQuery(parsed.resource_type, predicates, limit))


@asynccontextmanager
async def claimed(context: Context, name: str) -> AsyncIterator[None]:
    """Hold the store's claim on ``name`` for the block; 409 after ``CLAIM_WAIT_SECONDS``."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    delay = 0.005
    while (token := await context.store.claim(name)) is None:
        if time.monotonic() > deadline:
            raise errors.conflict(f"Another request holding '{name[:100]}' did not finish")
        await asyncio.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.2)
    try:
        yield
    finally:
        await context.store.release(name, token)


def url_condition(context: Context, request: FhirRequest, interaction: str) -> SearchRequest:
    """The condition of ``PUT``/``DELETE``/``PATCH [type]?[query]``: 400 without one."""
    assert request.resource_type is not None
    pairs = [(k, v) for k, v in request.query if k not in _NOT_CRITERIA]
    if not pairs:
        raise errors.invalid(
            f"A conditional {interaction} needs search parameters: "
            f"{request.method} [base]/{request.resource_type}?[search parameters]",
            "url",
        )
    return parse_condition(context, request.resource_type, urlencode(pairs))


def several(parsed: SearchRequest, interaction: str) -> errors.FhirError:
    """412: the condition selects more than one resource (http.html#cond-update)."""
    return errors.precondition(
        f"The condition '{canonical(parsed)[:200]}' matches more than one resource; "
        f"a conditional {interaction} needs at most one"
    )


@asynccontextmanager
async def settled_matches(
    context: Context, parsed: SearchRequest, base_url: str = ""
) -> AsyncIterator[list[StoredVersion]]:
    """Up to two matches of ``parsed``, for a block that creates when there are none.

    The search runs, and the block with its matches, holding the condition's claim, so
    that no rival creates meanwhile. Claiming first costs two writes by key; searching
    first would search twice whenever nothing matches, and on FerretDB a search reads
    the whole collection."""
    async with claimed(context, canonical(parsed)):
        yield await matching(context, parsed, base_url)
