"""Conflicts kept by the ``manual`` policy, listed and resolved by a person.

A conflict is a resource changed on both sides since the last sync. It stays in the
store (``state.CONFLICTS``) with both versions until resolved: ``keep="remote"`` writes
the remote's version (or its delete) locally, ``keep="local"`` writes ours to the remote
over the version the conflict saw. Either way the id map then holds the agreed version.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from fhircare.interactions.request import Context
from fhircare.sync.changes import RemoteChange, change_of
from fhircare.sync.engine import session
from fhircare.sync.pull import Puller
from fhircare.sync.push import Pusher
from fhircare.sync.remotes import Remote
from fhircare.sync.report import RunReport
from fhircare.sync.state import Link, SyncState


class NoSuchConflict(Exception):
    """No open conflict for that resource."""


async def list_conflicts(context: Context, remote: str) -> list[dict[str, Any]]:
    return [record.value for record in await SyncState(context.store, remote).conflicts()]


async def resolve(
    context: Context,
    remote: Remote,
    key: str,
    keep: Literal["local", "remote"],
    transport: httpx.AsyncBaseTransport | None = None,
) -> RunReport:
    """Settle the conflict on local resource ``key`` (``Type/id``) and drop it."""
    resource_type, _, id = key.partition("/")
    record = await SyncState(context.store, remote.name).conflict(resource_type, id)
    if record is None:
        raise NoSuchConflict(f"no open conflict on {key} with remote '{remote.name}'")
    conflict = record.value
    remote_id = str(conflict["remote"]).split("/", 1)[1]
    async with session(context, remote, "both", transport=transport) as job:
        seen = Link(
            remote_id, conflict.get("remote_version"), None, bool(conflict["remote_deleted"])
        )
        if keep == "remote":
            resource = conflict.get("remote_resource")
            change: RemoteChange | None = (
                RemoteChange(resource_type, remote_id, seen.remote_version, None, None)
                if resource is None
                else change_of({"resource": resource}, 0)
            )
            assert change is not None
            await Puller(job, resource_type).apply_page([change], force=True)
        else:
            current = await context.store.read(resource_type, id)
            if current is not None:
                links = {key: seen}
                await Pusher(job).push_one(current, links)
        if not job.report.failed:
            await job.state.drop_conflict(resource_type, id)
    return job.report
