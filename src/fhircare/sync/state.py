"""What the sync adapter remembers, kept in the store beside the resources.

Per remote: the local↔remote id map (``Link``), the pull cursor of each type, the push
cursor (a write sequence number), conflicts, run reports and the lease that keeps two
workers off one remote. Every record is a ``StateRecord`` of the store
(``ResourceStore.state_*``), so it lives wherever the resources live, on every store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fhircare.fhir.ids import new_id
from fhircare.storage.protocol import ResourceStore, StateRecord

INSTANCE = "sync:instance"
CURSORS = "sync:cursors"
CONFLICTS = "sync:conflicts"
RUNS = "sync:runs"
LEASES = "sync:leases"


@dataclass(frozen=True)
class Link:
    """One resource known on both sides: its remote id, the remote version and the local
    version that were last the same (``None`` when the remote has none yet)."""

    remote_id: str
    remote_version: str | None = None
    local_version: int | None = None
    deleted: bool = False

    @classmethod
    def of(cls, value: dict[str, Any]) -> Link:
        return cls(
            str(value["remote_id"]),
            value.get("remote_version"),
            value.get("local_version"),
            bool(value.get("deleted", False)),
        )


class LeaseHeld(Exception):
    """Another worker is running this remote."""


class SyncState:
    """The sync records of one remote."""

    def __init__(self, store: ResourceStore, remote: str) -> None:
        self.store = store
        self.remote = remote
        self._links = f"sync:links:{remote}"
        self._remote_ids = f"sync:remote-ids:{remote}"
        self.holder = uuid.uuid4().hex

    # -- the id map --------------------------------------------------------------------

    async def links(self, keys: Iterable[str]) -> dict[str, Link]:
        """``Link`` by local key ``Type/id``, for those that have one."""
        found = await self.store.state_get_many(self._links, sorted(set(keys)))
        return {key: Link.of(record.value) for key, record in found.items()}

    async def link(self, resource_type: str, local_id: str) -> Link | None:
        record = await self.store.state_get(self._links, f"{resource_type}/{local_id}")
        return None if record is None else Link.of(record.value)

    async def save_link(self, resource_type: str, local_id: str, link: Link) -> None:
        await self.save_links({(resource_type, local_id): link})

    async def save_links(self, links: dict[tuple[str, str], Link]) -> None:
        """Both directions of each link: local key → link, remote key → local id."""
        if not links:
            return
        await self.store.state_put_many(
            self._remote_ids,
            {f"{t}/{link.remote_id}": {"local_id": i} for (t, i), link in links.items()},
        )
        await self.store.state_put_many(
            self._links, {f"{t}/{i}": asdict(link) for (t, i), link in links.items()}
        )

    async def local_ids(self, remote_keys: Sequence[str], reserve: bool) -> dict[str, str]:
        """The local id of each remote ``Type/id``. With ``reserve``, one not seen before
        gets a new local id now, so that references to it (arriving before it does) and
        the resource itself land on the same local resource, however often a page is
        pulled again."""
        found = await self.store.state_get_many(self._remote_ids, sorted(set(remote_keys)))
        ids = {key: str(record.value["local_id"]) for key, record in found.items()}
        if reserve:
            new = {key: new_id() for key in remote_keys if key not in ids}
            if new:
                await self.store.state_put_many(
                    self._remote_ids, {key: {"local_id": i} for key, i in new.items()}
                )
                ids.update(new)
        return ids

    # -- cursors -----------------------------------------------------------------------

    async def cursor(self, name: str) -> dict[str, Any]:
        record = await self.store.state_get(CURSORS, f"{self.remote}/{name}")
        return {} if record is None else record.value

    async def save_cursor(self, name: str, value: dict[str, Any]) -> None:
        await self.store.state_put(CURSORS, f"{self.remote}/{name}", value)

    async def reset_cursors(self) -> None:
        for record in await self.store.state_list(CURSORS, f"{self.remote}/", count=1000):
            await self.store.state_delete(CURSORS, record.key)

    # -- conflicts and reports -----------------------------------------------------------

    async def add_conflict(self, resource_type: str, local_id: str, value: dict[str, Any]) -> None:
        await self.store.state_put(CONFLICTS, f"{self.remote}/{resource_type}/{local_id}", value)

    async def conflicts(self, count: int = 1000) -> list[StateRecord]:
        return await self.store.state_list(CONFLICTS, f"{self.remote}/", count=count)

    async def conflict(self, resource_type: str, local_id: str) -> StateRecord | None:
        return await self.store.state_get(CONFLICTS, f"{self.remote}/{resource_type}/{local_id}")

    async def drop_conflict(self, resource_type: str, local_id: str) -> None:
        await self.store.state_delete(CONFLICTS, f"{self.remote}/{resource_type}/{local_id}")

    async def save_report(self, run_id: str, report: dict[str, Any]) -> None:
        await self.store.state_put(RUNS, f"{self.remote}/{run_id}", report)

    # -- the lease -----------------------------------------------------------------------

    async def acquire(self, seconds: float) -> None:
        """Hold this remote's lease for ``seconds``; ``LeaseHeld`` while another worker
        holds an unexpired one. A worker that died leaves a lease that simply expires."""
        key = self.remote
        value = {"holder": self.holder, "expires": time.time() + seconds}
        for _ in range(3):
            record = await self.store.state_get(LEASES, key)
            if record is not None and _held_by_other(record, self.holder):
                raise LeaseHeld(
                    f"another worker is syncing remote '{self.remote}' "
                    f"(its lease ends in {record.value['expires'] - time.time():.0f} s)"
                )
            expect = 0 if record is None else record.rev
            if await self.store.state_put(LEASES, key, value, expect) is not None:
                return
        raise LeaseHeld(f"another worker took the lease of remote '{self.remote}'")

    async def release(self) -> None:
        record = await self.store.state_get(LEASES, self.remote)
        if record is not None and record.value.get("holder") == self.holder:
            await self.store.state_put(LEASES, self.remote, {"holder": None, "expires": 0})


def _held_by_other(record: StateRecord, holder: str) -> bool:
    other = record.value.get("holder") not in (None, holder)
    return other and float(record.value.get("expires", 0)) > time.time()


async def instance_id(store: ResourceStore) -> str:
    """This store's own id, made once: it names our resources on remotes."""
    record = await store.state_get(INSTANCE, "id")
    if record is None:
        await store.state_put(INSTANCE, "id", {"id": new_id()}, expect=0)
        record = await store.state_get(INSTANCE, "id")
    assert record is not None
    return str(record.value["id"])


async def reports(
    store: ResourceStore, remote: str | None, count: int = 20
) -> list[dict[str, Any]]:
    """The latest run reports (of one remote), newest first."""
    prefix = "" if remote is None else f"{remote}/"
    records = []
    after = ""
    while True:  # keys sort by remote, then by run id (which starts with its time)
        page = await store.state_list(RUNS, prefix, after=after, count=500)
        records.extend(page)
        if len(page) < 500:
            break
        after = page[-1].key
    records.sort(key=lambda r: str(r.value.get("started", "")), reverse=True)
    return [r.value for r in records[:count]]
