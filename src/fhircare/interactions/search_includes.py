"""``_include`` and ``_revinclude``, with ``:iterate``. https://hl7.org/fhir/R4/search.html#include

Included resources come after the matches with ``search.mode`` include, each once. The
number of included resources is a limit, like every fan-out.
"""

from __future__ import annotations

from fhircare.fhir import errors, jsonio
from fhircare.interactions.request import Context
from fhircare.search.indexer import Indexer
from fhircare.search.predicates import ANY_PARAMETER, Cond, Entry
from fhircare.search.request import Include, SearchRequest
from fhircare.storage.protocol import SearchQuery, StoredVersion

MAX_ITERATIONS = 4
ANY = "*"


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
        return await _referrers(context, include, tuple(_key(v) for v in sources))
    targets: list[StoredVersion] = []
    for source in sources:
        if include.source_type not in (ANY, source.resource_type) or source.body is None:
            continue
        resource = jsonio.loads(source.body)
        for code in _reference_codes(context, source.resource_type, include):
            for entry in indexer.entries_of(resource, code):
                reference = str(entry.get("r", ""))
                if reference.count("/") != 1:
                    continue
                target_type, target_id = reference.split("/")
                if include.target_type and include.target_type != target_type:
                    continue
                current = await context.store.read(target_type, target_id)
                if current is not None and not current.deleted:
                    targets.append(current)
    return targets


async def _referrers(
    context: Context, include: Include, keys: tuple[str, ...]
) -> list[StoredVersion]:
    """Resources whose ``include.code`` reference (any reference for ``*``) names ``keys``."""
    source_type = None if include.source_type == ANY else include.source_type
    if source_type is None or include.code == ANY:
        codes = [ANY_PARAMETER]
    else:
        codes = _reference_codes(context, source_type, include)
    limit = context.limits.max_included + 1
    results: list[StoredVersion] = []
    for code in codes:
        part = Entry(code, (Cond("r", "in", keys),))
        results += await context.store.search(SearchQuery(source_type, (part,), limit))
    return results


def _reference_codes(context: Context, source_type: str, include: Include) -> list[str]:
    params = context.registry.params_for(source_type)
    if include.code == ANY:
        return [code for code, p in params.items() if p.type == "reference"]
    param = params.get(include.code)
    if param is None or param.type != "reference":
        raise errors.invalid(
            f"{source_type}:{include.code} is not a reference parameter", "_include"
        )
    return [include.code]


def _key(version: StoredVersion) -> str:
    return f"{version.resource_type}/{version.id}"
