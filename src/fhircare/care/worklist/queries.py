"""The store queries of ``$worklist``: one indexed type-level query per type a stage asks.

Each ``Ask`` is a search of one type written as query pairs (``Task?owner=...&status=...``),
parsed by the search parser into the ``SearchRequest`` IR and turned into the store's
predicates (``search/predicates.py``), so it reads the same index entries a search does.
Unlike a search it may OR across parameters (``any_of``: ``CarePlan?care-team=T`` or
``?author=A``). ``Reader.ask`` runs the asks of one stage concurrently, one type-level
``SearchQuery`` each. (One system-level query with a branch per type asked the same in
fewer round trips, but SQLite then drove it by every branch's candidates at once and
weighed each against every branch: at 100k resources a page cost 0.5 to 0.9 s, against
0.04 to 0.05 s for the type-level queries.)

Every query of one worklist runs at the store watermark of its first one
(``SearchQuery.as_of``), and so every page of one walk does: a resource created after the
first page is on none of them, as in search.

A query reads at most ``Limits.max_included`` resources (1000 by default); a worklist
that needs more in one stage is 400 ``too-costly`` rather than a partial list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fhircare.fhir import errors, jsonio
from fhircare.interactions.request import Context
from fhircare.search.limits import SearchLimits
from fhircare.search.parse import parse
from fhircare.search.predicates import AllOf, AnyOf, Predicate, predicate
from fhircare.storage.protocol import SearchQuery, StoredVersion

Pair = tuple[str, str]


@dataclass(frozen=True)
class Ask:
    """Resources of ``resource_type`` meeting every pair of ``all`` and, of each group in
    ``any_of``, at least one pair."""

    resource_type: str
    all: tuple[Pair, ...] = ()
    any_of: tuple[tuple[Pair, ...], ...] = ()


@dataclass(frozen=True)
class Record:
    """A current resource a query found: its stored version and its content."""

    version: StoredVersion
    resource: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.version.resource_type}/{self.version.id}"


Found = dict[str, list[Record]]
"""What one stage found, by resource type (a stage asks each type once)."""


class Reader:
    """Runs the stages of one worklist page at one watermark, counting its queries."""

    def __init__(self, context: Context, watermark: int | None) -> None:
        self._context = context
        self.watermark = watermark
        """The store watermark every query runs at: the cursor's, else the first query's."""
        self.queries = 0
        limit = context.limits.max_included
        self._limit = limit
        self._parse_limits = SearchLimits(max_or_values=limit, max_clauses=limit)

    async def ask(self, asks: Sequence[Ask]) -> Found:
        """Everything ``asks`` find: one type-level store query each, run concurrently."""
        if not asks:
            return {}
        if len({a.resource_type for a in asks}) != len(asks):
            raise ValueError("a stage asks each resource type once")
        found: Found = {}
        if self.watermark is None:  # the first query fixes the watermark the others run at
            found[asks[0].resource_type] = await self._one(asks[0])
            asks = asks[1:]
        answers = await asyncio.gather(*(self._one(ask) for ask in asks))
        found.update(
            {ask.resource_type: records for ask, records in zip(asks, answers, strict=True)}
        )
        return found

    async def _one(self, ask: Ask) -> list[Record]:
        query = SearchQuery(
            ask.resource_type,
            tuple(self._predicates(ask)),
            self._limit + 1,
            None,
            (),
            self.watermark,
        )
        page = await self._context.store.search_page(query)
        self.queries += 1
        if self.watermark is None:
            self.watermark = page.as_of
        if len(page.versions) > self._limit:
            raise errors.invalid(
                f"$worklist would consider more than {self._limit} resources "
                f"({ask.resource_type}) in one query: too costly to compute",
                code="too-costly",
            )
        records = [
            Record(version, jsonio.loads(version.body))
            for version in page.versions
            if version.body is not None
        ]
        return records

    def _predicates(self, ask: Ask) -> list[Predicate]:
        parts = self._clauses(ask.resource_type, ask.all)
        for group in ask.any_of:
            options = [_all_of(self._clauses(ask.resource_type, (pair,))) for pair in group]
            parts.append(options[0] if len(options) == 1 else AnyOf(tuple(options)))
        return parts

    def _clauses(self, resource_type: str, pairs: Sequence[Pair]) -> list[Predicate]:
        """The predicates of a search query, through the search parser (strict: a
        parameter this server does not know is a programming error, and fails loudly)."""
        registry = self._context.registry
        parsed = parse(resource_type, list(pairs), registry.lookup, self._parse_limits, True)
        return [predicate(clause) for clause in parsed.clauses]


def _all_of(parts: list[Predicate]) -> Predicate:
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))
