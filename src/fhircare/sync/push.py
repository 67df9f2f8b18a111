"""Push: the local write sequence after the remote's cursor, written to the remote.

- What the remote already has (the id map's local version is the current one: it was
  pulled from there or pushed before) is not sent back.
- Each page goes as one transaction (https://hl7.org/fhir/R4/http.html#transaction) with
  the resources it refers to that the remote lacks, so references resolve whatever their
  order or cycles. A resource the remote knows is a ``PUT`` with ``If-Match`` on the remote
  version we last saw; a new one is a ``PUT`` with our id where the remote takes client ids
  (``updateCreate``), else a ``POST`` with ``If-None-Exist`` on our sync tag, so a retry
  after a lost answer finds it instead of creating it twice. A delete is a ``DELETE``.
- When the remote refuses the transaction, its entries go one at a time, referenced
  resources first: a resource it rejects is recorded and the rest go on; a version
  conflict (409/412) is settled by the remote's conflict policy.
- The cursor advances only after its page is on the remote and in the id map.
"""

from __future__ import annotations

import uuid
from typing import Any

from fhircare.fhir import jsonio
from fhircare.fhir.errors import FhirError
from fhircare.interactions.conditional import matching, parse_condition
from fhircare.storage.protocol import StoredVersion, resource_key
from fhircare.sync.changes import RemoteChange, change_of
from fhircare.sync.client import RemoteRejected, RemoteResponse
from fhircare.sync.identity import LOCAL_TAG, local_mark, marked, rewrite_references, same, targets
from fhircare.sync.job import Job
from fhircare.sync.pull import Puller
from fhircare.sync.state import Link

MAX_DEPENDENCIES = 2000


async def push(job: Job) -> None:
    cursor = await job.state.cursor("push")
    after = int(cursor.get("seq", 0))
    pusher = Pusher(job)
    done = 0
    while True:
        batch = await job.context.store.changes(after, job.remote.type_names, job.remote.page_size)
        if not batch:
            return
        await pusher.push_changes(batch)
        after = batch[-1].seq
        if not job.dry_run:
            await job.state.save_cursor("push", {"seq": after})
        done += len(batch)
        job.progress("push", done, None)


def _placeholder(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}"


class Pusher:
    def __init__(self, job: Job) -> None:
        self.job = job
        self._client_ids: dict[str, bool] = {}

    async def push_changes(self, batch: list[StoredVersion]) -> None:
        store = self.job.context.store
        keys = list(dict.fromkeys(resource_key(v.resource_type, v.id) for v in batch))
        links = await self.job.state.links(keys)
        todo = []
        for key in keys:
            resource_type, id = key.split("/", 1)
            current = await store.read(resource_type, id)
            link = links.get(key)
            if current is None or (link is not None and link.local_version == current.version):
                continue  # the remote has this version: we pulled or pushed it
            if current.deleted and (link is None or link.deleted):
                continue  # never reached the remote, or gone there too
            todo.append(current)
        todo = await self._in_scope(todo)
        items = await self._with_dependencies(todo, links)
        if not items:
            return
        if self.job.dry_run:
            for item in items:
                if item.deleted:
                    self.job.report.deleted += 1
                else:
                    self.job.report.pushed += 1
            return
        if len(items) > 1 and await self._as_transaction(items, links):
            return
        for item in _ordered(items):
            await self.push_one(item, links)

    async def _in_scope(self, todo: list[StoredVersion]) -> list[StoredVersion]:
        """Drop live resources outside their type's filter (deletes always go)."""
        out = []
        by_type: dict[str, list[StoredVersion]] = {}
        for version in todo:
            spec = self.job.remote.spec(version.resource_type)
            if version.deleted or spec is None or not spec.filter:
                out.append(version)
            else:
                by_type.setdefault(version.resource_type, []).append(version)
        for resource_type, versions in by_type.items():
            spec = self.job.remote.spec(resource_type)
            assert spec is not None and spec.filter
            ids = ",".join(v.id for v in versions)
            parsed = parse_condition(self.job.context, resource_type, f"{spec.filter}&_id={ids}")
            found = await matching(self.job.context, parsed, limit=len(versions))
            keep = {v.id for v in found}
            self.job.report.skipped += len(versions) - len(keep)
            out.extend(v for v in versions if v.id in keep)
        return out

    async def _with_dependencies(
        self, todo: list[StoredVersion], links: dict[str, Link]
    ) -> list[StoredVersion]:
        """``todo`` and the live local resources it refers to (transitively) that the
        remote does not have yet, those first."""
        seen = {resource_key(v.resource_type, v.id) for v in todo}
        found: list[StoredVersion] = []
        pending = [v for v in todo if not v.deleted]
        while pending and len(found) < MAX_DEPENDENCIES:
            version = pending.pop()
            assert version.body is not None
            for resource_type, id in targets(jsonio.loads(version.body), None):
                key = resource_key(resource_type, id)
                if key in seen:
                    continue
                seen.add(key)
                link = links.get(key) or await self.job.state.link(resource_type, id)
                if link is not None:
                    links[key] = link
                    if not link.deleted:
                        continue
                dependency = await self.job.context.store.read(resource_type, id)
                if dependency is not None and not dependency.deleted:
                    found.append(dependency)
                    pending.append(dependency)
        return found + todo

    async def _takes_client_ids(self, resource_type: str) -> bool:
        setting = self.job.remote.client_ids
        if setting != "auto":
            return setting == "yes"
        if resource_type not in self._client_ids:
            statement = await self.job.client.capabilities()
            takes = False
            for rest in statement.get("rest") or []:
                for resource in rest.get("resource") or []:
                    if resource.get("type") == resource_type:
                        takes = bool(resource.get("updateCreate"))
            self._client_ids[resource_type] = takes
        return self._client_ids[resource_type]

    async def _targets(self, items: list[StoredVersion], links: dict[str, Link]) -> dict[str, str]:
        """The reference each item gets on the remote: ``Type/remote-id`` or, for one the
        remote will assign an id to, a placeholder."""
        out = {}
        for item in items:
            key = resource_key(item.resource_type, item.id)
            link = links.get(key)
            if link is not None:
                out[key] = f"{item.resource_type}/{link.remote_id}"
            elif not item.id.isdigit() and await self._takes_client_ids(item.resource_type):
                out[key] = key  # HAPI, by default, refuses purely numeric client ids
            else:
                out[key] = _placeholder(key)
        return out

    def _outgoing(
        self, item: StoredVersion, links: dict[str, Link], names: dict[str, str]
    ) -> dict[str, Any]:
        """The local resource in the remote's id space, marked as ours."""
        assert item.body is not None

        def reference(resource_type: str, id: str) -> str | None:
            key = resource_key(resource_type, id)
            if key in names:
                return names[key]
            link = links.get(key)
            return None if link is None else f"{resource_type}/{link.remote_id}"

        body = rewrite_references(jsonio.loads(item.body), None, reference)
        mark = local_mark(self.job.instance, item.resource_type, item.id)
        body = marked(body, LOCAL_TAG, mark, None)
        name = names[resource_key(item.resource_type, item.id)]
        if name.startswith("urn:"):
            body.pop("id", None)
        else:
            body["id"] = name.split("/", 1)[1]
        return body

    def _entry(
        self, item: StoredVersion, links: dict[str, Link], names: dict[str, str]
    ) -> dict[str, Any]:
        key = resource_key(item.resource_type, item.id)
        link = links.get(key)
        name = names[key]
        if item.deleted:
            return {"request": {"method": "DELETE", "url": name}}
        body = self._outgoing(item, links, names)
        if name.startswith("urn:"):
            mark = local_mark(self.job.instance, item.resource_type, item.id)
            request = {
                "method": "POST",
                "url": item.resource_type,
                "ifNoneExist": f"_tag={LOCAL_TAG}|{mark}",
            }
            return {"fullUrl": name, "resource": body, "request": request}
        request = {"method": "PUT", "url": name}
        if link is not None and link.remote_version and not link.deleted:
            request["ifMatch"] = f'W/"{link.remote_version}"'
        return {
            "fullUrl": f"{self.job.remote.base_url}/{name}",
            "resource": body,
            "request": request,
        }

    async def _as_transaction(self, items: list[StoredVersion], links: dict[str, Link]) -> bool:
        """Push ``items`` in one transaction; False when the remote refused it."""
        names = await self._targets(items, links)
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [self._entry(item, links, names) for item in items],
        }
        try:
            response = await self.job.client.request("POST", "", json=bundle)
        except RemoteRejected:
            return False
        entries = (response.body or {}).get("entry") or []
        if len(entries) != len(items):
            return False
        updates = {}
        for item, entry in zip(items, entries, strict=True):
            key = resource_key(item.resource_type, item.id)
            answer = entry.get("response") or {}
            located = _location(answer.get("location"))
            old = links.get(key)
            remote_id = located[1] if located else (old.remote_id if old else item.id)
            version = located[2] if located else _etag_version(answer.get("etag"))
            updates[(item.resource_type, item.id)] = Link(
                remote_id, version, item.version, item.deleted
            )
            self._count(item)
        await self.job.state.save_links(updates)
        for (resource_type, id), link in updates.items():
            links[resource_key(resource_type, id)] = link
        return True

    def _count(self, item: StoredVersion) -> None:
        if item.deleted:
            self.job.report.deleted += 1
        else:
            self.job.report.pushed += 1

    async def push_one(self, item: StoredVersion, links: dict[str, Link]) -> None:
        key = resource_key(item.resource_type, item.id)
        names = await self._targets([item], links)
        entry = self._entry(item, links, names)
        request = entry["request"]
        headers = {}
        if "ifMatch" in request:
            headers["If-Match"] = request["ifMatch"]
        if "ifNoneExist" in request:
            headers["If-None-Exist"] = request["ifNoneExist"]
        client = self.job.client
        try:
            if item.deleted:
                response = await client.request("DELETE", request["url"], accept=(404, 410))
            else:
                method = request["method"]
                response = await client.request(
                    method,
                    request["url"],
                    json=entry["resource"],
                    headers=headers,
                    accept=(409, 412),
                )
        except RemoteRejected as error:
            self.job.report.error(key, error.diagnostics, "remote", _field(error))
            return
        if response.status in (409, 412):
            await self._settle(item, links, entry["resource"])
            return
        await self._record(item, links, response)

    async def _record(
        self, item: StoredVersion, links: dict[str, Link], response: RemoteResponse
    ) -> None:
        key = resource_key(item.resource_type, item.id)
        located = response.location
        old = links.get(key)
        remote_id = located[1] if located else (old.remote_id if old else item.id)
        version = (located[2] if located else None) or response.version
        link = Link(remote_id, version, item.version, item.deleted)
        await self.job.state.save_link(item.resource_type, item.id, link)
        links[key] = link
        self._count(item)

    async def _settle(
        self, item: StoredVersion, links: dict[str, Link], outgoing: dict[str, Any]
    ) -> None:
        """The remote changed since our last sync: the same content is only recorded,
        anything else goes by the conflict policy."""
        key = resource_key(item.resource_type, item.id)
        link = links[key]
        path = f"{item.resource_type}/{link.remote_id}"
        found = await self.job.client.request("GET", path, accept=(404, 410))
        remote_deleted = found.status in (404, 410) or found.body is None
        if not remote_deleted and found.body is not None and same(found.body, outgoing):
            new = Link(link.remote_id, found.version, item.version, False)
            await self.job.state.save_link(item.resource_type, item.id, new)
            links[key] = new
            return
        policy = self.job.remote.conflicts
        self.job.report.conflicted += 1
        if policy == "local-wins":
            headers = {} if remote_deleted else {"If-Match": f'W/"{found.version}"'}
            try:
                response = await self.job.client.request(
                    "PUT", path, json=outgoing, headers=headers
                )
            except RemoteRejected as error:
                self.job.report.error(key, error.diagnostics, "remote", _field(error))
                return
            await self._record(item, links, response)
        elif policy == "remote-wins":
            change = (
                RemoteChange(item.resource_type, link.remote_id, None, None, None)
                if remote_deleted
                else change_of({"resource": found.body}, 0)
            )
            assert change is not None
            try:
                await Puller(self.job, item.resource_type).apply_page([change], force=True)
            except FhirError as error:
                self.job.report.error(key, str(error), "local")
        else:
            await self.job.state.add_conflict(
                item.resource_type,
                item.id,
                {
                    "resource": key,
                    "remote": path,
                    "found": "push",
                    "local_version": item.version,
                    "local_deleted": item.deleted,
                    "remote_version": None if remote_deleted else found.version,
                    "remote_deleted": remote_deleted,
                    "remote_resource": None if remote_deleted else found.body,
                },
            )


def _field(error: RemoteRejected) -> str:
    """The first FHIRPath expression the remote's OperationOutcome names, if any."""
    for issue in (error.outcome or {}).get("issue") or []:
        for expression in issue.get("expression") or []:
            return str(expression)
    return ""


def _ordered(items: list[StoredVersion]) -> list[StoredVersion]:
    """Referenced resources before those that refer to them (cycles in any order)."""
    by_key = {resource_key(v.resource_type, v.id): v for v in items}
    out: list[StoredVersion] = []
    placed: set[str] = set()

    def visit(key: str, path: set[str]) -> None:
        if key in placed or key in path:
            return
        version = by_key[key]
        if version.body is not None:
            for target in targets(jsonio.loads(version.body), None):
                name = resource_key(*target)
                if name in by_key:
                    visit(name, path | {key})
        placed.add(key)
        out.append(version)

    for key in by_key:
        visit(key, set())
    return out


def _location(value: Any) -> tuple[str, str, str | None] | None:
    from fhircare.sync.changes import _URL

    if not isinstance(value, str):
        return None
    match = _URL.search(value.split("?")[0])
    return None if match is None else (match["type"], match["id"], match["version"])


def _etag_version(value: Any) -> str | None:
    from fhircare.sync.changes import _ETAG

    match = _ETAG.match(str(value or ""))
    return None if match is None or not value else match["version"]
