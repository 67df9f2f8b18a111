"""Pull: the remote's changes since the cursor, written locally.

Per type, from the remote's ``_history?_since=`` (https://hl7.org/fhir/R4/http.html#history:
it carries deletes) or, where it offers no type history or the type has a filter, a
``_lastUpdated``-sorted search. Exactly once, by construction:

- each remote resource has one local id, reserved the first time it is seen, as a resource
  or as a reference target, so a resource arriving before what it refers to is stored and
  its references resolve when the target comes;
- a version already applied (by id and version in the id map) is skipped, and one whose
  content is already local is only recorded, so a page seen twice (equal timestamps at a
  page boundary, the ``overlap`` window, a run killed half-way) changes nothing;
- the cursor advances only after what it covers is committed: after each page of an
  ascending search; after the whole walk of a history, which lists newest first;
- a resource changed on both sides since the last sync is a conflict, settled by the
  remote's policy (remote-wins, local-wins, manual).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fhircare.fhir import jsonio
from fhircare.fhir.errors import Category, FhirError
from fhircare.fhir.ids import format_instant
from fhircare.storage.protocol import StoredVersion
from fhircare.sync import local
from fhircare.sync.changes import MalformedEntry, RemoteChange, changes_of
from fhircare.sync.identity import (
    REMOTE_TAG,
    marked,
    newer,
    own_id,
    rewrite_references,
    same,
    targets,
)
from fhircare.sync.job import Job
from fhircare.sync.state import Link

LOCAL_RETRIES = 3


async def pull(job: Job) -> None:
    for spec in job.remote.types:
        await pull_type(job, spec.type)


async def _uses_history(job: Job, resource_type: str) -> bool:
    mode = job.remote.pull_mode
    if mode != "auto":
        return (
            mode == "history"
            and job.remote.spec(resource_type) is not None
            and not (
                job.remote.spec(resource_type).filter  # type: ignore[union-attr]
            )
        )
    spec = job.remote.spec(resource_type)
    if spec is not None and spec.filter:
        return False  # a history takes no search parameters
    statement = await job.client.capabilities()
    for rest in statement.get("rest") or []:
        for resource in rest.get("resource") or []:
            if resource.get("type") == resource_type:
                codes = {i.get("code") for i in resource.get("interaction") or []}
                return "history-type" in codes
    return False


async def pull_type(job: Job, resource_type: str) -> None:
    cursor_name = f"pull/{resource_type}"
    cursor = await job.state.cursor(cursor_name)
    since = _parse(cursor.get("since"))
    history = await _uses_history(job, resource_type)
    params: list[tuple[str, str]] = [("_count", str(job.remote.page_size))]
    start = None if since is None else since - timedelta(seconds=job.remote.overlap_seconds)
    if history:
        path = f"{resource_type}/_history"
        if start is not None:
            params.append(("_since", format_instant(start)))
    else:
        path = resource_type
        params.append(("_sort", "_lastUpdated"))
        if start is not None:
            params.append(("_lastUpdated", f"ge{format_instant(start)}"))
        spec = job.remote.spec(resource_type)
        if spec is not None and spec.filter:
            params.extend(_pairs(spec.filter))
    newest = since
    done = 0
    puller = Puller(job, resource_type)
    async for bundle in job.client.pages(path, params):
        total = bundle.get("total") if isinstance(bundle.get("total"), int) else None
        changes = puller.read_page(bundle)
        await puller.apply_page(changes)
        for change in changes:
            if change.last_updated is not None and (newest is None or change.last_updated > newest):
                newest = change.last_updated
        done += len(changes)
        job.progress(f"pull {resource_type}", done, total)
        if not history and newest is not None and not job.dry_run:
            await job.state.save_cursor(cursor_name, {"since": format_instant(newest)})
    if newest is not None and not job.dry_run:
        await job.state.save_cursor(cursor_name, {"since": format_instant(newest)})


def _pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query.lstrip("?"), keep_blank_values=True)


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Puller:
    """Applies pages of one type's remote changes locally."""

    def __init__(self, job: Job, resource_type: str) -> None:
        self.job = job
        self.resource_type = resource_type
        self.base = job.remote.base_url

    def read_page(self, bundle: dict[str, Any]) -> list[RemoteChange]:
        try:
            changes = changes_of(bundle)
        except MalformedEntry as error:  # the client checked the Bundle; an entry is bad
            self.job.report.error(f"{self.resource_type} page", str(error), "remote")
            return []
        seen: set[str] = set()
        unique = []
        for change in changes:  # a history lists newest first: keep each resource's newest
            if change.key not in seen:
                seen.add(change.key)
                unique.append(change)
        return unique

    async def apply_page(self, changes: list[RemoteChange], force: bool = False) -> None:
        if not changes:
            return
        referred = {
            f"{t}/{i}" for c in changes if c.resource for t, i in targets(c.resource, self.base)
        }
        own = {c.key: own_id(c.resource, self.job.instance) for c in changes if c.resource}
        wanted = [c.key for c in changes if own.get(c.key) is None] + sorted(referred)
        ids = await self.job.state.local_ids(wanted, reserve=not self.job.dry_run)
        for key, local_id in own.items():
            if local_id is not None:
                ids[key] = local_id
        links = await self.job.state.links(
            f"{c.resource_type}/{ids[c.key]}" for c in changes if c.key in ids
        )
        updates: dict[tuple[str, str], Link] = {}
        for change in changes:
            local_id = ids.get(change.key)
            if local_id is None:  # a dry run: the id would be reserved now
                self.job.report.pulled += 1
                continue
            link = links.get(f"{change.resource_type}/{local_id}")
            new = await self.apply(change, local_id, link, ids, force)
            if new is not None:
                updates[(change.resource_type, local_id)] = new
        if not self.job.dry_run:
            await self.job.state.save_links(updates)

    def local_form(
        self, change: RemoteChange, local_id: str, ids: dict[str, str]
    ) -> dict[str, Any]:
        """The remote version as the local resource: our ids, marked with its origin."""
        assert change.resource is not None

        def reference(resource_type: str, id: str) -> str | None:
            found = ids.get(f"{resource_type}/{id}")
            return None if found is None else f"{resource_type}/{found}"

        body = rewrite_references(change.resource, self.base, reference)
        body["id"] = local_id
        source = f"{self.base}/{change.key}" + (
            f"/_history/{change.version}" if change.version else ""
        )
        return marked(body, REMOTE_TAG, self.job.remote.name, source)

    async def apply(
        self,
        change: RemoteChange,
        local_id: str,
        link: Link | None,
        ids: dict[str, str],
        force: bool = False,
    ) -> Link | None:
        """Apply one remote version; the link to record, or None to keep the old one."""
        if not force and _seen(change, link):
            return None  # this version or a newer one is applied already
        store = self.job.context.store
        for _ in range(LOCAL_RETRIES):
            current = await store.read(change.resource_type, local_id)
            try:
                return await self._apply_to(change, local_id, link, ids, current, force)
            except FhirError as error:
                if error.category is not Category.PRECONDITION:  # invalid here: recorded
                    self.job.report.error(
                        f"{change.resource_type}/{local_id} (remote {change.key})",
                        str(error),
                        "local",
                        local.field_of(error),
                    )
                    return None
                # changed locally while we looked: decide again on the new version
        self.job.report.error(
            f"{change.resource_type}/{local_id}", "changed locally throughout the run", "local"
        )
        return None

    async def _apply_to(
        self,
        change: RemoteChange,
        local_id: str,
        link: Link | None,
        ids: dict[str, str],
        current: StoredVersion | None,
        force: bool,
    ) -> Link | None:
        job, report = self.job, self.job.report
        live = current is not None and not current.deleted
        body = None if change.deleted else self.local_form(change, local_id, ids)
        here = jsonio.loads(current.body) if live and current and current.body else None
        remote_id = change.id
        unchanged = body is not None and here is not None and same(body, here)
        if unchanged or (body is None and not live):
            report.skipped += 1
            version = None if current is None else current.version
            return Link(remote_id, change.version, version, change.deleted)
        changed_here = (
            current is not None
            and (link is None or link.local_version != current.version)
            and not force
        )
        if changed_here:
            report.conflicted += 1
            if job.remote.conflicts != "remote-wins":
                return await self._conflict(change, local_id, link, current)
        if job.dry_run:
            if body is None:
                report.deleted += 1
            else:
                report.pulled += 1
            return None
        expected = 0 if current is None else current.version
        if body is None:
            written = await local.remove(job.context, change.resource_type, local_id, expected)
            report.deleted += 1
        else:
            written = await local.put(job.context, body, expected)
            report.pulled += 1
        return Link(remote_id, change.version, written.version, change.deleted)

    async def _conflict(
        self,
        change: RemoteChange,
        local_id: str,
        link: Link | None,
        current: StoredVersion | None,
    ) -> Link | None:
        job = self.job
        if job.remote.conflicts == "local-wins":
            # keep ours; the push overwrites the remote, expecting the version seen now
            local_version = None if link is None else link.local_version
            return Link(change.id, change.version, local_version, link.deleted if link else False)
        if not job.dry_run:
            await job.state.add_conflict(
                change.resource_type,
                local_id,
                {
                    "resource": f"{change.resource_type}/{local_id}",
                    "remote": change.key,
                    "found": "pull",
                    "local_version": None if current is None else current.version,
                    "local_deleted": current is not None and current.deleted,
                    "remote_version": change.version,
                    "remote_deleted": change.deleted,
                    "remote_resource": change.resource,
                },
            )
        return None


def _seen(change: RemoteChange, link: Link | None) -> bool:
    """Whether the id map shows this remote version (or a newer one) applied already."""
    if link is None or newer(change.version, link.remote_version):
        return False
    return not (change.deleted and not link.deleted)
