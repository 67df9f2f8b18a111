"""A transaction Bundle: every write lands, or none does.

https://hl7.org/fhir/R4/http.html#transaction. Ids are assigned first
(``transaction_ids``) and each entry's references rewritten to them
(``bundle_references``); then the write entries run, in the spec's order, through the
ordinary interactions on a ``StagedStore``, which records their writes, and the reads are
tried there too. Any entry failing fails the transaction with its status, and the
OperationOutcome names the entry (``Bundle.entry[3].resource.status``); nothing is
written. Otherwise the writes are committed with one ``commit_all``. If another client
changed one of the resources meanwhile (``VersionConflict``), the whole transaction is
staged again on the new versions, after a jittered pause; an entry with ``ifMatch`` then
fails with 412 instead, and one that kept losing makes the transaction 409. The read
entries run last, against the committed state; as the writes have landed by then, a read
failing meanwhile is reported in its entry rather than failing the transaction.
"""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from dataclasses import replace

from fhircare.fhir import errors, jsonio, timing
from fhircare.fhir.errors import FhirError
from fhircare.interactions.bundle_entries import BundleEntry, in_processing_order
from fhircare.interactions.bundle_references import (
    check_no_placeholders,
    resolve_conditional_references,
    rewrite,
)
from fhircare.interactions.bundle_requests import Router, run_entry
from fhircare.interactions.bundle_responses import error_response, in_entry
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.interactions.transaction_ids import Ids, assign_ids
from fhircare.interactions.transaction_staging import StagedStore
from fhircare.storage.protocol import VersionConflict

ATTEMPTS = 10
BACKOFF_SECONDS = 0.02
MAX_BACKOFF_SECONDS = 1.0
"""The first pause after a lost race, doubling with each attempt up to the maximum, each
jittered (0.5 to 1.5 times) so that rivals spread out."""


async def transaction(
    context: Context, request: FhirRequest, entries: list[BundleEntry], router: Router
) -> list[FhirResponse]:
    """The response of each entry, in the entries' order; raises the failing entry's error."""
    check_entries(entries)
    for attempt in range(ATTEMPTS):
        responses = await _attempt(context, request, entries, router)
        if responses is not None:
            return responses
        pause = min(BACKOFF_SECONDS * 2**attempt, MAX_BACKOFF_SECONDS)
        await asyncio.sleep(pause * (0.5 + random.random()))
    raise errors.conflict(
        "The transaction's resources kept being changed by others while it ran; try again"
    )


def check_entries(entries: list[BundleEntry]) -> None:
    """400 for what no transaction may hold: a resource changed by two entries, a fullUrl
    used twice, an operation."""
    targets: dict[tuple[str, str], int] = {}
    full_urls: dict[str, int] = {}
    for entry in entries:
        if any(segment.startswith("$") for segment in entry.segments):
            raise errors.invalid(
                f"{entry.where}: operations cannot be part of a transaction",
                f"{entry.where}.request.url",
            )
        if entry.full_url:
            if entry.full_url in full_urls:
                raise errors.invalid(
                    f"{entry.where}: fullUrl '{entry.full_url[:100]}' is also the fullUrl of "
                    f"Bundle.entry[{full_urls[entry.full_url]}]",
                    f"{entry.where}.fullUrl",
                )
            full_urls[entry.full_url] = entry.index
        if entry.writes and entry.method != "POST" and entry.target:
            if entry.target in targets:
                raise errors.invalid(
                    f"{entry.where}: {'/'.join(entry.target)} is also changed by "
                    f"Bundle.entry[{targets[entry.target]}]; a transaction changes a "
                    "resource once",
                    f"{entry.where}.request.url",
                )
            targets[entry.target] = entry.index


async def _attempt(
    context: Context, request: FhirRequest, entries: list[BundleEntry], router: Router
) -> list[FhirResponse] | None:
    """One try: the responses, or None when a rival won the race to a resource."""
    staged = StagedStore(context.store)
    staging = replace(context, store=staged, follow_writes=False)
    responses: dict[int, FhirResponse] = {}
    async with AsyncExitStack() as stack:
        stack.push_async_callback(staged.release_all)
        ids = await assign_ids(staging, entries, request.base_url, stack)
        resolved: dict[str, str] = {}
        for entry in in_processing_order(entries):
            staged.entry = entry.index
            try:
                if entry.writes:
                    body = await _body(staging, entry, request.base_url, ids, resolved)
                    responses[entry.index] = await run_entry(
                        staging,
                        router,
                        entry,
                        request.base_url,
                        request.headers.get("prefer"),
                        body,
                        ids.new_ids.get(entry.index),
                    )
                else:
                    await run_entry(staging, router, entry, request.base_url, None)
            except FhirError as error:
                raise in_entry(error, entry) from None
            except VersionConflict:
                return None  # an interaction that does not retry lost a race: start again
        try:
            committed = []
            if staged.writes:
                with timing.measure("store"):
                    committed = await context.store.commit_all(staged.writes)
        except VersionConflict as conflict:
            entry = entries[staged.writers[conflict.index]]
            if "if-match" in entry.headers:
                message = f"{'/'.join(entry.target or ())} changed while the transaction ran"
                raise in_entry(errors.precondition(message), entry) from None
            return None
    for resource_type in {write.resource_type for write in staged.writes}:
        await context.written(resource_type)
    await context.rules.follow(context, committed)
    for entry in entries:
        if not entry.writes:
            responses[entry.index] = await _read(context, router, entry, request)
    return [responses[entry.index] for entry in entries]


async def _body(
    context: Context, entry: BundleEntry, base_url: str, ids: Ids, resolved: dict[str, str]
) -> bytes:
    """The entry's body with placeholders and conditional references replaced."""
    if entry.resource is not None and entry.method in ("POST", "PUT"):
        resource = rewrite(entry.resource, ids.references)
        resource = await resolve_conditional_references(context, resource, base_url, resolved)
        check_no_placeholders(resource)
        return jsonio.dumps(resource)
    if entry.method == "PATCH" and ids.references:
        return jsonio.dumps(rewrite(jsonio.loads(entry.body), ids.references))
    return entry.body


async def _read(
    context: Context, router: Router, entry: BundleEntry, request: FhirRequest
) -> FhirResponse:
    try:
        return await run_entry(
            context, router, entry, request.base_url, request.headers.get("prefer")
        )
    except FhirError as error:
        return error_response(error)
