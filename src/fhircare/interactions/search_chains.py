"""Chained parameters and ``_has``: joins where the store runs them, else resolved first.

https://hl7.org/fhir/R4/search.html#chaining and #has. A store that runs a hop as a join
(``ResourceStore.joinable``: SQLite) gets it as one predicate (``Refers``,
``ReferredBy``) and answers the whole search in one query, with no limit on how many
resources a hop passes through. For the others the innermost search runs first and its
matches become the reference values (or ids) of the search around it; the number of
matches one hop may carry is a limit there: past it the search is 400 ``too-costly``.
"""

from __future__ import annotations

from dataclasses import replace

from fhircare.fhir import errors, jsonio
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.interactions.request import Context
from fhircare.search.indexer import Indexer
from fhircare.search.predicates import (
    Cond,
    Entry,
    Field,
    Predicate,
    ReferredBy,
    Refers,
    predicate,
)
from fhircare.search.request import Clause, SearchRequest, Value
from fhircare.storage.protocol import SearchQuery


async def resolve_clauses(
    context: Context, parsed: SearchRequest, indexer: Indexer
) -> tuple[Predicate, ...]:
    """One predicate per clause, chains and ``_has`` resolved."""
    resolved = []
    for clause in parsed.clauses:
        if clause.has:
            resolved.append(await _has(context, indexer, parsed.resource_type, clause))
        elif clause.chain:
            resolved.append(await _chain(context, parsed.resource_type, clause))
        elif clause.param_type == "reference" and _without_type(clause.modifier) is None:
            local = _local_references(context, parsed.resource_type, clause, indexer.base_url)
            resolved.append(predicate(local))
        else:
            resolved.append(predicate(clause))
    return tuple(resolved)


def _local_references(
    context: Context, resource_type: str | None, clause: Clause, base_url: str | None
) -> Clause:
    """Reference values as the index holds them: this server's absolute URLs made relative,
    and a bare id spelled out as ``Type/id`` for each type the parameter may point at (so it
    never matches another server's URL that happens to end in that id)."""
    values: list[Value] = []
    for value in clause.values:
        raw = value.raw
        if base_url and raw.startswith(f"{base_url}/"):
            raw = raw[len(base_url) + 1 :].split("/_history/", 1)[0]
        if "/" in raw or raw.startswith(("#", "urn:")) or ":" in raw:
            values.append(replace(value, raw=raw))
            continue
        if clause.modifier and clause.modifier[:1].isupper():
            types = [clause.modifier]
        else:
            types = _targets(context, resource_type or "Resource", clause.code) or sorted(
                RESOURCE_TYPES
            )
        values += [replace(value, raw=f"{t}/{raw}") for t in types]
    return replace(clause, values=tuple(values), modifier=_without_type(clause.modifier))


def _without_type(modifier: str | None) -> str | None:
    return None if modifier and modifier[:1].isupper() else modifier


async def _keys(context: Context, resource_type: str, found: Predicate) -> list[str]:
    """``Type/id`` of every match, up to the fan-out limit."""
    limit = context.limits.max_chain_matches
    matches = await context.store.search(SearchQuery(resource_type, (found,), limit + 1))
    if len(matches) > limit:
        raise errors.invalid(
            f"A chained search matched more than {limit} {resource_type} resources; narrow it",
            code="too-costly",
        )
    return [f"{m.resource_type}/{m.id}" for m in matches]


async def _chain(context: Context, resource_type: str | None, clause: Clause) -> Predicate:
    """``subject:Patient.name=x``: resolve from the last hop back to the first."""
    hops = clause.chain
    types: list[list[str]] = [[resource_type or "Resource"]]
    for hop in hops:
        if hop.target_type:
            types.append([hop.target_type])
        else:
            types.append(
                sorted({t for owner in types[-1] for t in _targets(context, owner, hop.code)})
            )
    inner: Predicate = predicate(
        Clause(clause.code, clause.param_type, clause.modifier, clause.values)
    )
    for depth in range(len(hops) - 1, -1, -1):
        if context.store.joinable(inner):
            inner = Refers(hops[depth].code, tuple(types[depth + 1]), inner)
            continue
        keys: list[str] = []
        for target in types[depth + 1]:
            keys += await _keys(context, target, inner)
        inner = Entry(hops[depth].code, (Cond("r", "in", tuple(keys)),))
    return inner


async def _has(
    context: Context, indexer: Indexer, resource_type: str | None, clause: Clause
) -> Predicate:
    """``_has:Observation:patient:code=x``: ids the matching Observations' ``patient`` names."""
    inner: Predicate = predicate(
        Clause(clause.code, clause.param_type, clause.modifier, clause.values)
    )
    for depth in range(len(clause.has) - 1, -1, -1):
        hop = clause.has[depth]
        referrer_type = hop.resource_type
        if context.store.joinable(inner):
            inner = ReferredBy(referrer_type, hop.reference, inner)
            continue
        matches = await context.store.search(
            SearchQuery(referrer_type, (inner,), context.limits.max_chain_matches + 1)
        )
        if len(matches) > context.limits.max_chain_matches:
            raise errors.invalid("A _has search matched too many resources", code="too-costly")
        pointed = set()
        for match in matches:
            assert match.body is not None
            resource = jsonio.loads(match.body)
            for entry in indexer.entries_of(resource, hop.reference):
                pointed.add(str(entry.get("r")))
        owner = resource_type if depth == 0 else clause.has[depth - 1].resource_type
        ids = tuple(
            r.split("/", 1)[1] for r in pointed if owner is None or r.startswith(f"{owner}/")
        )
        inner = Field(Cond("rid", "in", ids))
    return inner


def _targets(context: Context, resource_type: str, code: str) -> list[str]:
    param = context.registry.get(resource_type, code)
    return [] if param is None else list(param.targets)
