"""``_include`` and ``_revinclude``, with ``:iterate``. https://hl7.org/fhir/R4/search.html#include

Included resources come after the matches with ``search.mode`` include, each once. The
number of included resources is a limit, like every fan-out.
"""

from __future__ import annotations

from fhircare.fhir import errors, jsonio
from fhircare.interactions.request import Context
from fhircare.search.indexer import Indexer
from fhircare.search.predicates import Cond, Entry
from fhircare.search.request import Include, SearchRequest
from fhircare.storage.protocol import SearchQuery, StoredVersion

MAX_ITERATIONS = 4


async def included(
    context: Context, indexer: Indexer, parsed: SearchRequest, page: list[StoredVersion]
) -> list[StoredVersion]:
    """The resources ``parsed``'s includes add to ``page``, without repeats."""
    if not parsed.includes or not page:
        return []
    seen = {_key(v) for v in page}
    found: list[StoredVersion] = []
    frontier = list(page)
    for round_ in range(MAX_ITERATIONS):
        step = [i for i in parsed.includes if round_ == 0 or i.iterate]
        added: list[StoredVersion] = []
        for include in step:
            for version in await _apply(context, indexer, include, frontier):
                if _key(version) not in seen:
                    seen.add(_key(version))
                    added.append(version)
        found += added
        if len(found) > context.limits.max_included:
            raise errors.invalid(
                f"_include/_revinclude would add more than {context.limits.max_included} "
                "resources; narrow the search",
                code="too-costly",
            )
        if not added or not any(i.iterate for i in parsed.includes):
            break
        frontier = added
    return found


async def _apply(
    context: Context, indexer: Indexer, include: Include, sources: list[StoredVersion]
) -> list[StoredVersion]:
    if include.reverse:
        keys = tuple(_key(v) for v in sources)
        codes = _reference_codes(context, include)
        query_parts = tuple(Entry(code, (Cond("r", "in", keys),)) for code in codes)
        results: list[StoredVersion] = []
        for part in query_parts:
            results += await context.store.search(
                SearchQuery(include.source_type, (part,), context.limits.max_included + 1)
            )
        return results
    targets: list[StoredVersion] = []
    for source in sources:
        if source.resource_type != include.source_type or source.body is None:
            continue
        resource = jsonio.loads(source.body)
        for code in _reference_codes(context, include):
            for entry in indexer.entries_of(resource, code):
                reference = str(entry.get("r", ""))
                if "/" not in reference or reference.count("/") != 1:
                    continue
                target_type, target_id = reference.split("/")
                if include.target_type and include.target_type != target_type:
                    continue
                current = await context.store.read(target_type, target_id)
                if current is not None and not current.deleted:
                    targets.append(current)
    return targets


def _reference_codes(context: Context, include: Include) -> list[str]:
    params = context.registry.params_for(include.source_type)
    if include.code == "*":
        return [code for code, p in params.items() if p.type == "reference"]
    param = params.get(include.code)
    if param is None or param.type != "reference":
        raise errors.invalid(
            f"{include.source_type}:{include.code} is not a reference parameter", "_include"
        )
    return [include.code]


def _key(version: StoredVersion) -> str:
    return f"{version.resource_type}/{version.id}"
