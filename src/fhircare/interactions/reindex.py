"""``$reindex``: recompute the index entries of current resources with the current registry.

``POST [base]/$reindex`` (every type) and ``POST [base]/[type]/$reindex``, and
``fhircare reindex [--type T]``. Run it after a SearchParameter became active (older
resources have no entries for it until then) or changed its expression. It is synchronous
(fine at fhircare's scale) and answers a Parameters resource with the counts.

Each resource is re-indexed only if it is still the version that was read
(``ResourceStore.replace_index``); one that a writer moved on meanwhile is skipped, as its
writer indexed the new version itself with the registry it runs with. Resources are read
in batches in key order, so a reindex holds no more than one batch in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fhircare.fhir import errors, jsonio
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.search.indexer import Indexer

BATCH = 200
OPERATION = "reindex"


@dataclass
class ReindexReport:
    """What a reindex did."""

    reindexed: int = 0
    skipped: int = 0  # moved on (or deleted) while the reindex ran

    @property
    def seen(self) -> int:
        return self.reindexed + self.skipped


async def reindex_resources(
    context: Context,
    resource_type: str | None = None,
    base_url: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReindexReport:
    """Reindex every current resource (of ``resource_type``); ``progress(done, total)``
    after each batch. ``base_url`` is the server's base, as writes use it to recognise
    absolute references to this server."""
    registry = await context.search_parameters.refresh(force=True)
    indexer = Indexer(registry, base_url or None)
    total = await context.store.count_current(resource_type)
    report = ReindexReport()
    if progress is not None:
        progress(0, total)
    async for batch in context.store.iterate_current(resource_type, BATCH):
        for stored in batch:
            if stored.body is None:
                continue
            entries = indexer.entries(jsonio.loads(stored.body))
            replaced = await context.store.replace_index(stored, tuple(entries))
            if replaced:
                report.reindexed += 1
            else:
                report.skipped += 1
        if progress is not None:
            progress(report.seen, max(total, report.seen))
    return report


async def reindex(context: Context, request: FhirRequest) -> FhirResponse:
    """The HTTP operation, at system or type level."""
    if request.resource_type is not None and request.resource_type not in RESOURCE_TYPES:
        raise errors.not_found(f"Resource type '{request.resource_type}' is not supported")
    report = await reindex_resources(context, request.resource_type, request.base_url)
    scope = request.resource_type or "all types"
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "reindexed", "valueInteger": report.reindexed},
            {"name": "skipped", "valueInteger": report.skipped},
            {
                "name": "message",
                "valueString": f"Reindexed {report.reindexed} resources of {scope}"
                f" ({report.skipped} skipped: changed while the reindex ran)",
            },
        ],
    }
    return FhirResponse(200, jsonio.dumps(parameters))
